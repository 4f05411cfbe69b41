/**
 * The boundary where a BlueGreenDeployment from the cluster becomes a typed value: defaults applied in code
 * (the same ones the CRD makes the API server apply, so objects stored before a default existed behave like
 * new ones), then the schema and the CEL rules checked, with a message a person can act on.
 */
import type { TSchema } from "@sinclair/typebox";
import { TypeCompiler } from "@sinclair/typebox/compiler";
import { type ValueError, ValueErrorType } from "@sinclair/typebox/errors";
import { Value } from "@sinclair/typebox/value";
import { API_VERSION, KIND } from "./labels.ts";
import {
  type BlueGreenDeployment as Bgd,
  BlueGreenDeployment,
  BlueGreenDeploymentSpec,
  BlueGreenDeploymentStatus,
} from "./schema.ts";
import { ruleViolations } from "./validation.ts";

export {
  canonicalJson,
  DEFAULT_SHORTHAND_PORT,
  desiredPodTemplate,
  type EffectiveContainer,
  type EffectivePodTemplate,
  effectiveSelector,
  imagesOf,
  revisionOf,
  specHashOf,
} from "./template.ts";

export type ParseResult =
  | {
      readonly ok: true;
      readonly value: Bgd;
      /** Things dropped on the way in, e.g. a status this version of the schema does not accept. */
      readonly warnings: readonly string[];
    }
  | { readonly ok: false; readonly message: string };

const isObject = (x: unknown): x is Record<string, unknown> =>
  typeof x === "object" && x !== null && !Array.isArray(x);

/** Fills every default of the spec, in a copy. */
export function withDefaults(spec: unknown): unknown {
  return Value.Default(BlueGreenDeploymentSpec, structuredClone(spec));
}

/** `/spec/template/spec/containers/0/name` -> `spec.template.spec.containers[0].name` */
function fieldPath(pointer: string, prefix = ""): string {
  return pointer
    .split("/")
    .slice(1)
    .map((p) => p.replaceAll("~1", "/").replaceAll("~0", "~"))
    .reduce((acc, p) => (/^\d+$/.test(p) ? `${acc}[${p}]` : acc === "" ? p : `${acc}.${p}`), prefix);
}

function describe(error: ValueError, prefix: string): string {
  const path = fieldPath(error.path, prefix) || "the object";
  const s = error.schema as Record<string, unknown>;
  const got = JSON.stringify(error.value);
  const shown = got !== undefined && got.length <= 60 ? ` (got ${got})` : "";
  const anyOf = Array.isArray(s.anyOf) ? (s.anyOf as Record<string, unknown>[]) : [];
  switch (error.type) {
    case ValueErrorType.Union:
      if (anyOf.length > 0 && anyOf.every((m) => typeof m.const === "string"))
        return `${path} must be one of ${anyOf.map((m) => m.const).join(", ")}${shown}`;
      return `${path} must be ${s["x-kubernetes-int-or-string"] === true ? "a number or a string" : "valid"}${shown}`;
    case ValueErrorType.ObjectRequiredProperty:
      return `${path} is required`;
    case ValueErrorType.Literal:
      return `${path} must be ${JSON.stringify(s.const)}${shown}`;
    case ValueErrorType.IntegerMinimum:
    case ValueErrorType.NumberMinimum:
      return `${path} must be at least ${String(s.minimum)}${shown}`;
    case ValueErrorType.IntegerMaximum:
    case ValueErrorType.NumberMaximum:
      return `${path} must be at most ${String(s.maximum)}${shown}`;
    case ValueErrorType.StringMinLength:
      return s.minLength === 1
        ? `${path} must not be empty`
        : `${path} must have at least ${String(s.minLength)} characters`;
    case ValueErrorType.StringMaxLength:
      return `${path} must have at most ${String(s.maxLength)} characters`;
    case ValueErrorType.ArrayMinItems:
      return `${path} must have at least ${String(s.minItems)} item(s)`;
    case ValueErrorType.ArrayMaxItems:
      return `${path} must have at most ${String(s.maxItems)} items`;
    case ValueErrorType.ObjectMinProperties:
      return `${path} must have at least ${String(s.minProperties)} entry(ies)`;
    case ValueErrorType.ObjectMaxProperties:
      return `${path} must have at most ${String(s.maxProperties)} entries`;
    case ValueErrorType.Integer:
      return `${path} must be an integer${shown}`;
    case ValueErrorType.String:
      return `${path} must be a string${shown}`;
    case ValueErrorType.Boolean:
      return `${path} must be true or false${shown}`;
    case ValueErrorType.Object:
      return `${path} must be an object${shown}`;
    case ValueErrorType.Array:
      return `${path} must be a list${shown}`;
    case ValueErrorType.StringFormat:
      return `${path} must be a ${String(s.format)} string${shown}`;
    default:
      return `${path}: ${error.message}${shown}`;
  }
}

// Compiled once: every reconcile parses its BlueGreenDeployment, and the interpreter is several times slower.
const compiled = new Map<TSchema, ReturnType<typeof TypeCompiler.Compile>>();
function check(schema: TSchema, value: unknown): boolean {
  let checker = compiled.get(schema);
  if (checker === undefined) {
    checker = TypeCompiler.Compile(schema);
    compiled.set(schema, checker);
  }
  return checker.Check(value);
}

/** The first few distinct problems, most specific first (a union's own error hides its members'). */
function errorsOf(schema: TSchema, value: unknown, { limit = 3, prefix = "" } = {}): string[] {
  if (check(schema, value)) return [];
  const seen = new Set<string>();
  const out: string[] = [];
  for (const e of Value.Errors(schema, value)) {
    if (seen.has(e.path)) continue;
    seen.add(e.path);
    out.push(describe(e, prefix));
    if (out.length === limit) break;
  }
  return out;
}

/** Validates an object read from the cluster (or a file) and returns it typed, with defaults filled. */
export function parseBlueGreenDeployment(obj: unknown): ParseResult {
  if (!isObject(obj))
    return { ok: false, message: `a ${KIND} must be an object, not ${JSON.stringify(obj)}` };
  // List items of some clients come without apiVersion and kind; any other value is a different resource.
  const apiVersion = obj.apiVersion ?? API_VERSION;
  const kind = obj.kind ?? KIND;
  if (apiVersion !== API_VERSION || kind !== KIND) {
    return {
      ok: false,
      message: `expected ${API_VERSION} ${KIND}, got ${String(apiVersion)} ${String(kind)}`,
    };
  }
  if (!isObject(obj.spec)) return { ok: false, message: "spec is required and must be an object" };
  const warnings: string[] = [];
  const candidate: Record<string, unknown> = {
    apiVersion,
    kind,
    metadata: structuredClone(obj.metadata),
    spec: withDefaults(obj.spec),
  };
  if (obj.status !== undefined) {
    // The status is ours and only a cache of what the cluster shows: one we cannot read is dropped, not fatal.
    const statusErrors = errorsOf(BlueGreenDeploymentStatus, obj.status, { limit: 1, prefix: "status" });
    if (statusErrors.length === 0) candidate.status = structuredClone(obj.status);
    else warnings.push(`ignored the stored status: ${statusErrors.join("; ")}`);
  }
  const schemaErrors = errorsOf(BlueGreenDeployment, candidate);
  if (schemaErrors.length > 0) return { ok: false, message: schemaErrors.join("; ") };
  const value = candidate as Bgd;
  const broken = ruleViolations(value);
  if (broken.length > 0) return { ok: false, message: broken.map((r) => r.message).join("; ") };
  return { ok: true, value, warnings };
}
