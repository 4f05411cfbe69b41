/**
 * Traffic through a Gateway API HTTPRoute (spec.trafficRouting) and the weighted canary steps before the
 * switch (spec.strategy.canary), with the CEL rules that refuse what cannot work. The backends are the active
 * and preview Services the operator already keeps (no Service of its own per color): users and in-cluster
 * clients keep the names they know, and the active Service stays the one truth about which color is live.
 */
import { type Static, Type } from "@sinclair/typebox";
import type { CelRule } from "./rules.ts";

const MAX_DELAY_SECONDS = 7 * 86400;
/** A DNS-1123 subdomain: what an HTTPRoute's name must be. */
const DNS1123_SUBDOMAIN = "^[a-z0-9]([-a-z0-9]*[a-z0-9])?([.][a-z0-9]([-a-z0-9]*[a-z0-9])?)*$";

/** On spec.trafficRouting.httpRoute.name. */
export const ROUTE_NAME_IS_DNS1123: CelRule = {
  rule: `self.matches('${DNS1123_SUBDOMAIN}')`,
  message:
    "spec.trafficRouting.httpRoute.name must be a DNS-1123 subdomain (lowercase letters, digits, '-' and '.'), as every HTTPRoute name",
};

/**
 * On spec.trafficRouting.httpRoute. The field exists only to be refused with words: without it a client
 * that does not ask for strict field validation would have `namespace` pruned with a mere warning, and the
 * operator would then manage a route of that name in the BGD's own namespace — not the one the user meant.
 */
export const ROUTE_IN_OWN_NAMESPACE: CelRule = {
  rule: "!has(self.__namespace__)",
  message:
    "spec.trafficRouting.httpRoute.namespace is not supported: the HTTPRoute must be in the BlueGreenDeployment's own namespace (its backendRefs name the active and preview Services there, and the operator is granted HTTPRoutes only where it watches); remove namespace",
  fieldPath: ".namespace",
};

/** On spec.strategy.canary.steps[*]. */
export const STEP_HAS_ONE_KIND: CelRule = {
  rule: "has(self.setWeight) != has(self.pause)",
  message:
    "each step of spec.strategy.canary.steps is exactly one of setWeight (0-100) or pause ({} to wait for kubectl bluegreen promote, or {durationSeconds: N})",
};

/** On spec. */
export const CANARY_NEEDS_ROUTE: CelRule = {
  rule: "!has(self.strategy) || !has(self.strategy.canary) || has(self.trafficRouting)",
  message:
    "spec.strategy.canary needs spec.trafficRouting.httpRoute: canary steps split requests by weight in an HTTPRoute (a Service selector can only switch all of them); name the route, or remove the steps",
  fieldPath: ".strategy.canary",
};

/** On spec. */
export const ROUTE_NEEDS_PREVIEW: CelRule = {
  rule: "!has(self.trafficRouting) || !has(self.preview) || !has(self.preview.enabled) || self.preview.enabled",
  message:
    "spec.trafficRouting needs the preview Service (spec.preview.enabled: true): the HTTPRoute's weights move between the active and the preview Service",
  fieldPath: ".trafficRouting",
};

export const HTTPRouteRef = Type.Object(
  {
    name: Type.String({
      minLength: 1,
      maxLength: 253,
      description:
        "The HTTPRoute (gateway.networking.k8s.io) in this namespace whose rules have backendRefs to the active and the preview Service. The operator changes only the weights of those backendRefs; everything else in the route is the user's.",
      "x-kubernetes-validations": [ROUTE_NAME_IS_DNS1123],
    }),
    namespace: Type.Optional(
      Type.String({ maxLength: 63, description: "Not supported: the route must be in this namespace." }),
    ),
  },
  {
    description: "The user's HTTPRoute that sends traffic to this BlueGreenDeployment.",
    "x-kubernetes-validations": [ROUTE_IN_OWN_NAMESPACE],
  },
);

export const TrafficRoutingSpec = Type.Object(
  { httpRoute: HTTPRouteRef },
  {
    description:
      "Route traffic through a Gateway API HTTPRoute whose backends are the active and the preview Service. Without canary steps the switch is still the active Service's selector (the route stays at active 100, preview 0).",
  },
);

export const CanaryStep = Type.Object(
  {
    setWeight: Type.Optional(
      Type.Integer({
        format: "int32",
        minimum: 0,
        maximum: 100,
        description: "Send this percentage of the route's requests to the new color (the preview Service).",
      }),
    ),
    pause: Type.Optional(
      Type.Object(
        {
          durationSeconds: Type.Optional(
            Type.Integer({
              format: "int32",
              minimum: 0,
              maximum: MAX_DELAY_SECONDS,
              description: "How long to hold this weight. Omitted: until kubectl bluegreen promote.",
            }),
          ),
        },
        { description: "Hold the current weight." },
      ),
    ),
  },
  {
    description: "One step: exactly one of setWeight or pause.",
    "x-kubernetes-validations": [STEP_HAS_ONE_KIND],
  },
);

export const CanarySpec = Type.Object(
  {
    steps: Type.Array(CanaryStep, {
      minItems: 1,
      maxItems: 32,
      description:
        "In order, after the preview is ready; then the switch (one route write moving all traffic to the new color, the active Service's selector following).",
    }),
  },
  { description: "Weighted steps through spec.trafficRouting.httpRoute before the switch." },
);

export type TrafficRoutingSpec = Static<typeof TrafficRoutingSpec>;
export type CanaryStep = Static<typeof CanaryStep>;
export type CanarySpec = Static<typeof CanarySpec>;

/** The rules of this file an object breaks, evaluated in code (validation.ts). */
export function trafficViolations(spec: {
  readonly trafficRouting?: TrafficRoutingSpec | undefined;
  readonly strategy?: { readonly canary?: CanarySpec | undefined } | undefined;
  readonly preview?: { readonly enabled?: boolean | undefined } | undefined;
}): CelRule[] {
  const broken: CelRule[] = [];
  const route = spec.trafficRouting?.httpRoute;
  if (route !== undefined && !new RegExp(DNS1123_SUBDOMAIN).test(route.name))
    broken.push(ROUTE_NAME_IS_DNS1123);
  if (route?.namespace !== undefined) broken.push(ROUTE_IN_OWN_NAMESPACE);
  const steps = spec.strategy?.canary?.steps ?? [];
  if (steps.some((s) => (s.setWeight !== undefined) === (s.pause !== undefined)))
    broken.push(STEP_HAS_ONE_KIND);
  if (spec.strategy?.canary !== undefined && spec.trafficRouting === undefined)
    broken.push(CANARY_NEEDS_ROUTE);
  if (spec.trafficRouting !== undefined && spec.preview?.enabled === false) broken.push(ROUTE_NEEDS_PREVIEW);
  return broken;
}
