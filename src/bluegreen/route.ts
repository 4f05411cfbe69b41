/**
 * The user's HTTPRoute, pure: reading the split its backendRefs to our two Services show, judging whether it
 * can carry a release at all, and rendering the JSON patches that change only those weights (and our one
 * annotation). observe hands in the facts (RouteState); nothing here reads the cluster.
 */
import {
  ANNOTATION_ROUTE_WEIGHTS_OF,
  activeServiceName,
  httpRoutePath,
  previewServiceName,
} from "../api/labels.ts";
import type { Step } from "./step.ts";
import type { Observed, RouteBackend, RouteState } from "./types.ts";
import type { Request } from "./writes.ts";

/** Gateway API: a backendRef without a weight has weight 1. */
const weightOf = (b: RouteBackend): number => b.weight ?? 1;

export interface Split {
  readonly active: number;
  readonly preview: number;
}

/**
 * The split the route shows: the weights on the active and on the preview Service, when every backendRef to
 * each carries the same one (several rules may name them); `undefined` when they disagree.
 */
export function routeSplit(r: RouteState): Split | undefined {
  const of = (role: RouteBackend["role"]) => [
    ...new Set(r.backends.filter((b) => b.role === role).map(weightOf)),
  ];
  const a = of("active");
  const p = of("preview");
  if (a.length !== 1 || p.length !== 1) return undefined;
  return { active: a[0] ?? 0, preview: p[0] ?? 0 };
}

/** The share of the route's requests (percent, rounded) that reaches the preview Service; `undefined`: mixed. */
export function previewShare(r: RouteState): number | undefined {
  const s = routeSplit(r);
  if (s === undefined) return undefined;
  const total = s.active + s.preview;
  return total === 0 ? 0 : Math.round((100 * s.preview) / total);
}

/** The route at rest: every request to the active Service (the share of the preview 0, weights 100/0). */
export function routeAtHome(r: RouteState): boolean {
  const s = routeSplit(r);
  return s !== undefined && s.preview === 0 && s.active > 0;
}

/** Why the route cannot carry a release, in words; `undefined` when it can. */
export function routeProblem(o: Observed): string | undefined {
  const r = o.route;
  if (r === undefined) return undefined;
  if (!r.exists)
    return `HTTPRoute ${r.name} named in spec.trafficRouting.httpRoute.name does not exist in ${o.namespace}: create it with backendRefs to the Services ${activeServiceName(o.name, o.spec)} and ${previewServiceName(o.name, o.spec)}, or remove spec.trafficRouting`;
  const missing = (["active", "preview"] as const).filter((role) => !r.backends.some((b) => b.role === role));
  if (missing.length > 0) {
    const names = missing.map((m) =>
      m === "active" ? activeServiceName(o.name, o.spec) : previewServiceName(o.name, o.spec),
    );
    return `HTTPRoute ${r.name} has no backendRef to the ${missing.join(" and ")} Service${missing.length > 1 ? "s" : ""} (${names.join(", ")}): add ${missing.length > 1 ? "them" : "it"} to a rule (weight 0 for the preview), so the operator can move traffic by weight; traffic was not moved`;
  }
  return undefined;
}

/**
 * Sends every request of the route to the active Service in one write, first among the step's actions
 * (before any selector write of the same plan). Nothing when it already does or there is no route.
 */
export function routeAllToActive(o: Observed, step: Step, reason: string): void {
  if (o.route === undefined || !o.route.exists || routeAtHome(o.route)) return;
  if (step.actions.some((a) => a.type === "SetRouteWeights")) return;
  step.actions.unshift({ type: "SetRouteWeights", preview: 0, reason });
}

/** JSON pointer escaping (RFC 6901). */
const pointer = (s: string): string => s.replaceAll("~", "~0").replaceAll("/", "~1");

/** The weight patch: pins each of our backendRefs (name and weight), sets the new weights. */
export function routeWeightsWrite(o: Observed, preview: number, adopt: boolean): Request {
  const r = o.route as RouteState;
  const ops: unknown[] = [];
  for (const b of r.backends) {
    const at = `/spec/rules/${b.rule}/backendRefs/${b.index}`;
    const want = b.role === "preview" ? preview : 100 - preview;
    ops.push({ op: "test", path: `${at}/name`, value: b.service });
    if (b.weight === undefined) ops.push({ op: "add", path: `${at}/weight`, value: want });
    else {
      ops.push({ op: "test", path: `${at}/weight`, value: b.weight });
      if (b.weight !== want) ops.push({ op: "replace", path: `${at}/weight`, value: want });
    }
  }
  if (adopt) ops.push(...adoptOps(o));
  return routeRequest(o, ops);
}

function adoptOps(o: Observed): unknown[] {
  const r = o.route as RouteState;
  if (r.adopted) return [];
  return r.hasAnnotations
    ? [{ op: "add", path: `/metadata/annotations/${pointer(ANNOTATION_ROUTE_WEIGHTS_OF)}`, value: o.name }]
    : [{ op: "add", path: "/metadata/annotations", value: { [ANNOTATION_ROUTE_WEIGHTS_OF]: o.name } }];
}

export function routeAdoptWrite(o: Observed): Request {
  return routeRequest(o, adoptOps(o));
}

/** On delete: all traffic to the active Service (the live color) and our annotation gone. */
export function routeHandBackWrite(o: Observed): Request {
  const r = o.route as RouteState;
  const weights = routeAtHome(r) ? [] : (routeWeightsWrite(o, 0, false).body as unknown[]);
  const release = r.adopted
    ? [
        { op: "test", path: `/metadata/annotations/${pointer(ANNOTATION_ROUTE_WEIGHTS_OF)}`, value: o.name },
        { op: "remove", path: `/metadata/annotations/${pointer(ANNOTATION_ROUTE_WEIGHTS_OF)}` },
      ]
    : [];
  return routeRequest(o, [...weights, ...release]);
}

function routeRequest(o: Observed, ops: unknown[]): Request {
  const name = (o.route as RouteState).name;
  return {
    verb: "patch",
    patchType: "json",
    path: httpRoutePath(o.namespace, name),
    body: ops,
    testOps: true,
    expect: { kind: "httproute", name },
  };
}
