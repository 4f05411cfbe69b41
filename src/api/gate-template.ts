/**
 * Templating of check URLs and PromQL queries: `{{previewServiceIP}}` and friends, replaced by what the
 * operator knows of the BGD at the moment of the measurement. No expressions, no functions: a closed list of
 * names, checked at admission (TEMPLATE_TEXT_PATTERN in the CEL rule) and again here.
 */

/** What a check can refer to. Services have the DNS name a pod would use, and their ClusterIP for where there is no cluster DNS. */
export interface GateContext {
  readonly name: string;
  readonly namespace: string;
  readonly activeColor: string | undefined;
  readonly previewColor: string | undefined;
  readonly activeRevision: string | undefined;
  /** The revision under test (the one being rolled out). */
  readonly previewRevision: string | undefined;
  readonly activeService: string;
  readonly previewService: string | undefined;
  readonly activeServiceIP: string | undefined;
  readonly previewServiceIP: string | undefined;
  readonly servicePort: number;
}

export const TEMPLATE_VARIABLES = [
  "name",
  "namespace",
  "activeColor",
  "previewColor",
  "activeRevision",
  "previewRevision",
  "activeService",
  "previewService",
  "activeServiceHost",
  "previewServiceHost",
  "activeServiceIP",
  "previewServiceIP",
  "servicePort",
] as const;
export type TemplateVariable = (typeof TEMPLATE_VARIABLES)[number];

/** Matches every `{{…}}` in a text. */
export const TEMPLATE_REFERENCE = "\\{\\{[^{}]*\\}\\}";
/**
 * A whole templated text: `{{` only ever starts a known variable. One regular expression, so the CEL rule
 * costs what a `matches` costs (a `findAll` over a 4 KiB query is refused by the API server's cost estimate).
 */
export const TEMPLATE_TEXT_PATTERN = `^([^{]|\\{[^{]|\\{$|\\{\\{ *(${TEMPLATE_VARIABLES.join("|")}) *\\}\\})*$`;

const REFERENCE = new RegExp(TEMPLATE_REFERENCE, "g");
const VARIABLE = new RegExp(`^\\{\\{ *(${TEMPLATE_VARIABLES.join("|")}) *\\}\\}$`);
const TEXT = new RegExp(TEMPLATE_TEXT_PATTERN);

/** `<service>.<namespace>.svc`: resolves through a pod's DNS search path whatever the cluster domain. */
const host = (service: string | undefined, namespace: string) =>
  service === undefined ? undefined : `${service}.${namespace}.svc`;

export function variableValue(ctx: GateContext, v: TemplateVariable): string | undefined {
  switch (v) {
    case "activeServiceHost":
      return host(ctx.activeService, ctx.namespace);
    case "previewServiceHost":
      return host(ctx.previewService, ctx.namespace);
    case "servicePort":
      return String(ctx.servicePort);
    default:
      return ctx[v];
  }
}

export type Rendered =
  | { readonly ok: true; readonly text: string }
  | { readonly ok: false; readonly message: string };

/** Whether admission accepts the text. */
export const validTemplate = (text: string): boolean => TEXT.test(text);

/** Why admission refuses the text, or undefined. */
export function templateProblem(text: string): string | undefined {
  if (validTemplate(text)) return undefined;
  const unknown = [...text.matchAll(REFERENCE)].map((m) => m[0]).filter((r) => !VARIABLE.test(r));
  return unknown.length > 0
    ? `unknown template variable ${unknown.join(", ")}`
    : "{{ must start a template variable";
}

/** Replaces every reference; a value not known yet (a ClusterIP before the Service exists) is an error. */
export function renderTemplate(text: string, ctx: GateContext): Rendered {
  const problem = templateProblem(text);
  if (problem !== undefined) return { ok: false, message: problem };
  const missing: string[] = [];
  const out = text.replace(REFERENCE, (ref) => {
    const name = ref.slice(2, -2).trim() as TemplateVariable;
    const value = variableValue(ctx, name);
    if (value === undefined) {
      missing.push(name);
      return ref;
    }
    return value;
  });
  if (missing.length > 0) return { ok: false, message: `${missing.join(", ")} not known yet` };
  return { ok: true, text: out };
}
