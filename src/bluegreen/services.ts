/**
 * Our Services, pure: judging one we found against the one we would write (which color it selects,
 * whether anything else differs: someone edited it, drift to repair), and the writes that point one
 * at a color or hand an adopted one back. observe hands in the facts.
 */
import {
  ANNOTATION_ORIGINAL_SELECTOR,
  activeServiceName,
  DEFAULTS,
  LABEL_COLOR,
  LABEL_NAME,
  LABEL_ROLE,
  previewServiceName,
  servicePath,
} from "../api/labels.ts";
import type { BlueGreenDeploymentSpec } from "../api/schema.ts";
import { colorSelector, type Owner, renderService } from "./render.ts";
import { sameJson } from "./status.ts";
import type { Action, Color, Desired, Observed, ServiceState } from "./types.ts";
import type { Request } from "./writes.ts";

/** What a cached Service says, as observe extracts it (ports with the API server's defaults). */
export interface ServiceFacts {
  readonly selector?: Readonly<Record<string, string>>;
  readonly type?: string;
  readonly sessionAffinity?: string;
  readonly ports: ReadonlyArray<Readonly<Record<string, unknown>>>;
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
  /** Our bluegreen.io/original-selector annotation on an adopted Service. */
  readonly originalSelector?: string;
}

export interface ServiceRole {
  readonly owner: Owner;
  readonly spec: BlueGreenDeploymentSpec;
  readonly desired: Desired;
  readonly role: "active" | "preview";
}

const isColor = (v: unknown): v is Color => v === "blue" || v === "green";

export function serviceState(svc: ServiceFacts | undefined, r: ServiceRole): ServiceState {
  const { owner, desired } = r;
  // A Service the user named in spec.service.name is adopted: not ours, only its selector is.
  const adopted = r.role === "active" && r.spec.service?.name !== undefined;
  if (svc === undefined) {
    return { exists: false, selectorColor: undefined, upToDate: false, adopted };
  }
  const selector = svc.selector;
  let selectorColor: ServiceState["selectorColor"];
  if (selector === undefined || Object.keys(selector).length === 0) selectorColor = undefined;
  else {
    // Ours when it names this BGD and a color; any other difference is drift (upToDate: false).
    const c = selector[LABEL_COLOR];
    selectorColor = isColor(c) && selector[LABEL_NAME] === owner.name ? c : "invalid";
  }
  const selects = isColor(selectorColor) && sameJson(selector, colorSelector(owner, desired, selectorColor));
  if (adopted) {
    // Of an adopted Service we manage the selector (and our name label) only.
    return {
      exists: true,
      selectorColor,
      upToDate: selects && svc.labels[LABEL_NAME] === owner.name,
      adopted,
      ...(selector !== undefined ? { selector } : {}),
      ...(svc.originalSelector !== undefined ? { originalSelector: svc.originalSelector } : {}),
    };
  }
  const want = renderService(
    r.spec,
    owner,
    desired,
    r.role,
    isColor(selectorColor) ? selectorColor : "blue",
  ) as {
    metadata: { labels: Record<string, string>; annotations?: Record<string, string> };
    spec: { type: string; sessionAffinity: string; ports: Record<string, unknown>[] };
  };
  const upToDate =
    selects &&
    svc.type === want.spec.type &&
    (svc.sessionAffinity ?? DEFAULTS.sessionAffinity) === want.spec.sessionAffinity &&
    sameJson(svc.ports, want.spec.ports) &&
    Object.entries(want.metadata.labels).every(([k, v]) => svc.labels[k] === v) &&
    Object.entries(want.metadata.annotations ?? {}).every(([k, v]) => svc.annotations[k] === v);
  return { exists: true, selectorColor, upToDate };
}

/** `selector` exactly as a merge patch: `want`'s keys set, every other key `current` has nulled. */
function replaceSelector(
  current: Readonly<Record<string, string>>,
  want: Readonly<Record<string, string>>,
): Record<string, string | null> {
  const selector: Record<string, string | null> = { ...want };
  for (const k of Object.keys(current)) if (!(k in want)) selector[k] = null;
  return selector;
}

/** The selector an adopted Service had before us (JSON in our annotation); unreadable: none. */
function originalSelectorOf(json: string | undefined): Record<string, string> {
  try {
    const parsed: unknown = JSON.parse(json ?? "{}");
    if (parsed !== null && typeof parsed === "object") return parsed as Record<string, string>;
  } catch {
    // Unreadable: hand back no selector rather than ours (which would select nothing soon).
  }
  return {};
}

/** An adopted Service gets the selector it had before us back, and loses our marks. */
export function handBackWrite(o: Observed, owner: Owner): Request {
  const ns = owner.namespace;
  const name = activeServiceName(owner.name, o.spec);
  const original = originalSelectorOf(o.activeService.originalSelector);
  return {
    verb: "patch",
    patchType: "merge",
    path: servicePath(ns, name),
    expect: { kind: "service", name },
    body: {
      metadata: {
        labels: { [LABEL_NAME]: null, [LABEL_ROLE]: null },
        annotations: { [ANNOTATION_ORIGINAL_SELECTOR]: null },
      },
      spec: { selector: replaceSelector(o.activeService.selector ?? {}, original) },
    },
  };
}

/** The writes that point one of our Services at a color (an adopted one: only its selector). */
export function serviceWrites(
  o: Observed,
  owner: Owner,
  a: Extract<Action, { type: "ApplyService" }>,
): Request[] {
  const ns = owner.namespace;
  const name =
    a.role === "active" ? activeServiceName(owner.name, o.spec) : previewServiceName(owner.name, o.spec);
  const expect = { kind: "service", name } as const;
  if (a.role === "active" && o.activeService.adopted === true) {
    // Not ours: set exactly our selector (nulls drop the keys we do not want), our name label
    // so its events and EndpointSlices reach us, and remember the selector we replaced.
    const current = o.activeService.selector ?? {};
    const firstAdoption =
      o.activeService.originalSelector === undefined &&
      o.activeService.selectorColor !== "blue" &&
      o.activeService.selectorColor !== "green";
    return [
      {
        verb: "patch",
        patchType: "merge",
        path: servicePath(ns, name),
        expect,
        body: {
          metadata: {
            labels: { [LABEL_NAME]: owner.name, [LABEL_ROLE]: "active" },
            ...(firstAdoption
              ? { annotations: { [ANNOTATION_ORIGINAL_SELECTOR]: JSON.stringify(current) } }
              : {}),
          },
          spec: { selector: replaceSelector(current, colorSelector(owner, o.desired, a.color)) },
        },
      },
    ];
  }
  const body = renderService(o.spec, owner, o.desired, a.role, a.color) as { spec: Record<string, unknown> };
  const apply: Request = { verb: "apply", path: servicePath(ns, name), body, expect };
  if (a.repair !== true) return [apply];
  // Someone else edited it: apply alone would merge their ports with ours (a list keyed by port).
  // JSON patch "add" replaces whole values: ports and selector become exactly ours again.
  const ops = ["selector", "ports", "type", "sessionAffinity"].map((f) => ({
    op: "add",
    path: `/spec/${f}`,
    value: body.spec[f],
  }));
  return [{ verb: "patch", patchType: "json", path: servicePath(ns, name), body: ops }, apply];
}
