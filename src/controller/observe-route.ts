/** observe()'s reading of the user's HTTPRoute (spec.trafficRouting): the facts, no judgement. */
import { ANNOTATION_ROUTE_WEIGHTS_OF } from "../api/labels.ts";
import type { RouteBackend, RouteState } from "../bluegreen/types.ts";

export interface HTTPRouteObj {
  readonly metadata?: {
    readonly name?: string;
    readonly namespace?: string;
    readonly resourceVersion?: string;
    readonly annotations?: Readonly<Record<string, string>>;
  };
  readonly spec?: {
    readonly rules?: ReadonlyArray<{
      readonly backendRefs?: ReadonlyArray<{
        readonly group?: string;
        readonly kind?: string;
        readonly name?: string;
        readonly namespace?: string;
        readonly weight?: number;
      }>;
    }>;
  };
}

/**
 * The backendRefs of a route that name our active or preview Service (a core Service in this namespace:
 * the default group and kind, no other namespace), with their place in the route for the JSON patch.
 */
export function routeState(
  name: string,
  route: HTTPRouteObj | undefined,
  bgd: string,
  namespace: string,
  services: { readonly active: string; readonly preview: string },
): RouteState {
  if (route === undefined)
    return { name, exists: false, backends: [], hasAnnotations: false, adopted: false };
  const backends: RouteBackend[] = [];
  (route.spec?.rules ?? []).forEach((rule, r) => {
    (rule.backendRefs ?? []).forEach((b, i) => {
      if ((b.group ?? "") !== "" || (b.kind ?? "Service") !== "Service") return;
      if (b.namespace !== undefined && b.namespace !== namespace) return;
      const role =
        b.name === services.active ? "active" : b.name === services.preview ? "preview" : undefined;
      if (role === undefined || b.name === undefined) return;
      backends.push({ rule: r, index: i, service: b.name, role, weight: b.weight });
    });
  });
  const annotations = route.metadata?.annotations;
  return {
    name,
    exists: true,
    backends,
    hasAnnotations: annotations !== undefined,
    adopted: annotations?.[ANNOTATION_ROUTE_WEIGHTS_OF] === bgd,
  };
}
