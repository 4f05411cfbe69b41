/**
 * The BlueGreenDeployment API, written once as TypeBox schemas. The TypeScript types are `Static<>` of these
 * schemas and the CRD's openAPIV3Schema is generated from them (crd.ts), so the two cannot drift.
 *
 * Conventions the generator relies on:
 * - a property with a `default` is required in the TS type (the API server, or defaults.ts, always fills it)
 *   but optional in the CRD;
 * - `Type.Record(Type.String(), X)` becomes `additionalProperties: X` (a Kubernetes map);
 * - a union of string literals becomes a string `enum`; an `x-kubernetes-int-or-string` union is kept as is.
 */
import { type Static, Type } from "@sinclair/typebox";
import { GatesSpec } from "./gates.ts";
import { API_VERSION, DEFAULTS, KIND } from "./labels.ts";
import { NotificationsSpec } from "./notifications.ts";
import * as R from "./rules.ts";
import { StringEnum } from "./schema-helpers.ts";
import { BlueGreenDeploymentStatus } from "./status.ts";
import * as T from "./traffic.ts";

export {
  BlueGreenDeploymentStatus,
  COLORS,
  type Color,
  ColorStatus,
  Condition,
  PHASES,
  type Phase,
} from "./status.ts";

const MAX_DELAY_SECONDS = 7 * 86400;
const MAX_REPLICAS = 10000;

const validations = (...rules: R.CelRule[]) => ({ "x-kubernetes-validations": rules });

const Delay = (description: string, def: number) =>
  Type.Integer({ format: "int32", minimum: 0, maximum: MAX_DELAY_SECONDS, default: def, description });

const Port = (description: string, options: Record<string, unknown> = {}) =>
  Type.Integer({ format: "int32", minimum: 1, maximum: 65535, description, ...options });

/** Annotations: free-form, nothing iterates over them. */
const Annotations = (description: string) => Type.Record(Type.String(), Type.String(), { description });

/** A label map users write: bounded (CEL cost), syntactically valid, none of the operator's own keys. */
const Labels = (description: string, options: Record<string, unknown> = {}) =>
  Type.Record(Type.String(), Type.String({ maxLength: 63 }), {
    description,
    maxProperties: 64,
    ...options,
    ...validations(R.NO_RESERVED_LABELS, R.LABEL_KEYS_VALID, R.LABEL_VALUES_VALID),
  });

const PodMetadata = (what: string) =>
  Type.Object(
    {
      labels: Type.Optional(Labels(`Labels added to the ${what} pods.`)),
      annotations: Type.Optional(Annotations(`Annotations added to the ${what} pods.`)),
    },
    { description: `Metadata the operator adds to the pods of the ${what} color only.` },
  );

// ---------------------------------------------------------------------------------------------------------
// spec

export const Container = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 63, ...validations(R.CONTAINER_NAME_IS_DNS1123) }),
    image: Type.String({ minLength: 1, maxLength: 1024, ...validations(R.CONTAINER_IMAGE_IS_REFERENCE) }),
  },
  {
    description:
      "A Kubernetes container (core/v1 Container); fields other than name and image are kept as written.",
    "x-kubernetes-preserve-unknown-fields": true,
  },
);

export const PodTemplate = Type.Object(
  {
    metadata: Type.Optional(
      Type.Object(
        {
          labels: Type.Optional(Labels("Labels of the pods; the selector when spec.selector is omitted.")),
          annotations: Type.Optional(Annotations("Annotations of the pods.")),
        },
        { description: "Labels and annotations of the pods." },
      ),
    ),
    spec: Type.Object(
      {
        containers: Type.Array(Container, {
          minItems: 1,
          maxItems: 32,
          description: "The pod's containers (at least one).",
          ...validations(R.CONTAINER_NAMES_UNIQUE),
        }),
        restartPolicy: Type.Optional(
          StringEnum(["Always"] as const, {
            description: "Deployments only run pods that restart: Always, the default, is the one value.",
          }),
        ),
      },
      {
        description: "A Kubernetes PodSpec (core/v1); fields other than containers are kept as written.",
        "x-kubernetes-preserve-unknown-fields": true,
      },
    ),
  },
  { description: "The pod template, as in a Deployment. Set either this or spec.image." },
);

export const Selector = Type.Object(
  {
    matchLabels: Labels("Labels the pods must have; each must appear in spec.template.metadata.labels.", {
      minProperties: 1,
    }),
  },
  {
    description:
      "Selects the pods of this BlueGreenDeployment (both colors; the operator adds the color label). Immutable. Defaults to the template's labels (app: <name> for spec.image).",
    ...validations(R.SELECTOR_IMMUTABLE),
  },
);

const TargetPort = (description: string, ...rules: R.CelRule[]) =>
  Type.Union([Type.Integer(), Type.String({ maxLength: 15 })], {
    description,
    "x-kubernetes-int-or-string": true,
    ...(rules.length > 0 ? validations(...rules) : {}),
  });

export const ServicePortSpec = Type.Object(
  {
    name: Type.String({
      minLength: 1,
      maxLength: 63,
      description: "The Service port's name (e.g. metrics); http is the main port's.",
      ...validations(R.SERVICE_PORT_NAME_IS_DNS1123),
    }),
    port: Port("The port the Service exposes."),
    targetPort: Type.Optional(
      TargetPort("The container port (number or name) it goes to. Defaults to port."),
    ),
    protocol: StringEnum(["TCP", "UDP", "SCTP"] as const, { default: "TCP", description: "The protocol." }),
  },
  { ...validations(R.ADDITIONAL_TARGET_PORT_VALID) },
);

export const ServiceSpec = Type.Object(
  {
    name: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 63,
        description:
          "Adopt the existing Service of this name and manage only its selector. When omitted, the operator creates and owns a Service named <metadata.name>.",
        ...validations(R.SERVICE_NAME_IS_DNS1035),
      }),
    ),
    port: Port("The port the Service exposes.", { default: DEFAULTS.servicePort }),
    targetPort: Type.Optional(
      TargetPort(
        "The container port (number or name) traffic goes to. Defaults to the first container port (spec.port for spec.image).",
        R.TARGET_PORT_VALID,
      ),
    ),
    additionalPorts: Type.Optional(
      Type.Array(ServicePortSpec, {
        maxItems: 20,
        "x-kubernetes-list-type": "map",
        "x-kubernetes-list-map-keys": ["name"],
        description:
          "More ports of the active and preview Services besides the main one (named http), e.g. metrics.",
      }),
    ),
    type: StringEnum(["ClusterIP", "NodePort", "LoadBalancer"] as const, {
      default: DEFAULTS.serviceType,
      description: "The Service type (created Services only).",
    }),
    annotations: Type.Optional(
      Annotations("Annotations of the created Services (e.g. for a load balancer)."),
    ),
    sessionAffinity: StringEnum(["None", "ClientIP"] as const, {
      default: DEFAULTS.sessionAffinity,
      description: "The Service's session affinity.",
    }),
  },
  {
    default: {},
    description: "The active Service, which sends user traffic to the active color.",
    ...validations(R.ADDITIONAL_PORTS_DISTINCT),
  },
);

export const PreviewSpec = Type.Object(
  {
    enabled: Type.Boolean({
      default: DEFAULTS.previewEnabled,
      description: "Create a preview Service selecting the new color before promotion.",
    }),
    serviceName: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 63,
        description: "The preview Service's name. Default <metadata.name>-preview.",
        ...validations(R.PREVIEW_SERVICE_NAME_IS_DNS1035),
      }),
    ),
    replicas: Type.Optional(
      Type.Integer({
        format: "int32",
        minimum: 1,
        maximum: MAX_REPLICAS,
        description:
          "Replicas of the new color before promotion (capped at spec.replicas); it is scaled to spec.replicas before the switch. Default spec.replicas.",
      }),
    ),
  },
  { default: {}, description: "The preview of a new revision before it is promoted." },
);

export const PromotionSpec = Type.Object(
  {
    mode: StringEnum(["Manual", "Auto"] as const, {
      default: DEFAULTS.promotionMode,
      description:
        "Manual: wait for `kubectl bluegreen promote` (which approves one revision). Auto: promote once the preview is ready and the pre-promotion gates passed, after delaySeconds.",
    }),
    delaySeconds: Delay(
      "With mode Auto, how long the preview stays ready before it is promoted.",
      DEFAULTS.promotionDelaySeconds,
    ),
  },
  { default: {}, description: "When the new color gets the traffic.", ...validations(R.DELAY_NEEDS_AUTO) },
);

export const StrategySpec = Type.Object(
  {
    promotion: PromotionSpec,
    scaleDownDelaySeconds: Delay(
      "After a switch, how long the old color stays at full size (connection draining, instant rollback) before it is scaled to zero. 0 scales it down as soon as the switch is verified.",
      DEFAULTS.scaleDownDelaySeconds,
    ),
    abortScaleDownDelaySeconds: Delay(
      "After an abort, how long the new color is kept before it is scaled to zero. 0 scales it down at once.",
      DEFAULTS.abortScaleDownDelaySeconds,
    ),
    progressDeadlineSeconds: Type.Integer({
      format: "int32",
      minimum: 1,
      maximum: MAX_DELAY_SECONDS,
      default: DEFAULTS.progressDeadlineSeconds,
      description: "How long the new color may take to become ready before the rollout counts as failed.",
    }),
    abortOnProgressDeadline: Type.Boolean({
      default: DEFAULTS.abortOnProgressDeadline,
      description:
        "Abort (keep traffic on the stable color, scale the new one down) when the deadline passes.",
    }),
    antiAffinity: StringEnum(["None", "Preferred", "Required"] as const, {
      default: DEFAULTS.antiAffinity,
      description: "Keep the pods of the two colors on different nodes (preferred or required scheduling).",
    }),
    activeMetadata: Type.Optional(PodMetadata("active")),
    previewMetadata: Type.Optional(PodMetadata("preview")),
    canary: Type.Optional(T.CanarySpec),
  },
  { default: {}, description: "How a new revision is rolled out." },
);

export const BlueGreenDeploymentSpec = Type.Object(
  {
    replicas: Type.Integer({
      format: "int32",
      minimum: 0,
      maximum: MAX_REPLICAS,
      default: DEFAULTS.replicas,
      description: "Pods of the active color (the scale subresource, so an HPA can set it).",
    }),
    selector: Type.Optional(Selector),
    template: Type.Optional(PodTemplate),
    image: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 1024,
        ...validations(R.SHORTHAND_IMAGE_IS_REFERENCE),
        description:
          "Shorthand for spec.template: one container named <metadata.name> running this image, labelled app: <metadata.name>.",
      }),
    ),
    port: Type.Optional(Port("With spec.image, the container port (default 8080).")),
    service: ServiceSpec,
    preview: PreviewSpec,
    strategy: StrategySpec,
    paused: Type.Boolean({
      default: DEFAULTS.paused,
      description: "Freeze the rollout where it is; traffic stays where it is.",
    }),
    trafficRouting: Type.Optional(T.TrafficRoutingSpec),
    gates: Type.Optional(GatesSpec),
    notifications: Type.Optional(NotificationsSpec),
    revisionHistoryLimit: Type.Integer({
      format: "int32",
      minimum: 0,
      maximum: 100,
      default: DEFAULTS.revisionHistoryLimit,
      description: "How many promoted revisions status.history keeps for rollback.",
    }),
  },
  {
    description: "The desired state: what to run and how to release a new revision of it.",
    ...validations(
      R.NOT_TEMPLATE_AND_IMAGE,
      R.TEMPLATE_OR_IMAGE,
      R.PORT_ONLY_WITH_IMAGE,
      R.SELECTOR_MATCHES_TEMPLATE,
      R.TEMPLATE_HAS_LABELS,
      R.SHORTHAND_TARGET_PORT_IS_NUMBER,
      R.SHORTHAND_ADDITIONAL_TARGET_PORTS_ARE_NUMBERS,
      R.ACTIVE_METADATA_KEEPS_SELECTOR,
      R.PREVIEW_METADATA_KEEPS_SELECTOR,
      T.CANARY_NEEDS_ROUTE,
      T.ROUTE_NEEDS_PREVIEW,
    ),
  },
);

// ---------------------------------------------------------------------------------------------------------
// the resource

/** The metadata fields the operator reads; the rest of ObjectMeta passes through unchecked. */
export const ObjectMeta = Type.Object({
  name: Type.String({ minLength: 1 }),
  namespace: Type.Optional(Type.String()),
  uid: Type.Optional(Type.String()),
  resourceVersion: Type.Optional(Type.String()),
  generation: Type.Optional(Type.Integer()),
  labels: Type.Optional(Type.Record(Type.String(), Type.String())),
  annotations: Type.Optional(Type.Record(Type.String(), Type.String())),
  deletionTimestamp: Type.Optional(Type.Unknown()),
  creationTimestamp: Type.Optional(Type.Unknown()),
});

export const BlueGreenDeployment = Type.Object(
  {
    apiVersion: Type.Literal(API_VERSION),
    kind: Type.Literal(KIND),
    metadata: ObjectMeta,
    spec: BlueGreenDeploymentSpec,
    status: Type.Optional(BlueGreenDeploymentStatus),
  },
  {
    description:
      "Runs an application as two Deployments, blue and green, and releases each new revision by switching a Service from one to the other once the new one is ready.",
    ...validations(R.NAME_IS_DNS1035, R.NAME_IS_SHORT, R.SERVICE_NAMES_DIFFER, R.SHORTHAND_SELECTOR),
  },
);

export type BlueGreenDeploymentSpec = Static<typeof BlueGreenDeploymentSpec>;
export type BlueGreenDeployment = Static<typeof BlueGreenDeployment>;
export type PodTemplate = Static<typeof PodTemplate>;
export type Container = Static<typeof Container>;
export type ServiceSpec = Static<typeof ServiceSpec>;
export type ServicePortSpec = Static<typeof ServicePortSpec>;
export type PreviewSpec = Static<typeof PreviewSpec>;
export type StrategySpec = Static<typeof StrategySpec>;
export type PromotionSpec = Static<typeof PromotionSpec>;
export type ObjectMeta = Static<typeof ObjectMeta>;
