/**
 * Names every part of the operator agrees on: the API's coordinates, labels, annotations, field
 * manager, the names and API paths of the objects a BlueGreenDeployment owns, and the spec's defaults.
 * Plain constants, no imports: the schema, the planner, the controller and the plugin all read them.
 */

export const GROUP = "bluegreen.io";
export const VERSION = "v1";
export const API_VERSION = `${GROUP}/${VERSION}` as const;
export const KIND = "BlueGreenDeployment";
export const LIST_KIND = "BlueGreenDeploymentList";
export const PLURAL = "bluegreendeployments";
export const SINGULAR = "bluegreendeployment";
export const SHORT_NAMES: readonly string[] = ["bgd", "bgds"];
export const CRD_NAME = `${PLURAL}.${GROUP}`;

/** Label keys under this prefix are the operator's: users may not set them (a CEL rule refuses it). */
export const RESERVED_LABEL_PREFIX = `${GROUP}/`;

/** The BlueGreenDeployment that owns a pod/Deployment/Service. */
export const LABEL_NAME = "bluegreen.io/name";
/** `blue` or `green`: the only label that differs between the two colors' pods. */
export const LABEL_COLOR = "bluegreen.io/color";
/** The revision (hash of the effective pod template) a Deployment's pods run. */
export const LABEL_REVISION = "bluegreen.io/revision";
/** On our Services: `active` or `preview`. */
export const LABEL_ROLE = "bluegreen.io/role";
export const LABEL_MANAGED_BY = "app.kubernetes.io/managed-by";
export const MANAGED_BY = "bluegreen-operator";
/** Field manager for server-side apply. */
export const FIELD_MANAGER = "bluegreen-operator";

/** Set to a revision on the BGD to approve promoting exactly that revision. */
export const ANNOTATION_PROMOTE = "bluegreen.io/promote";
/**
 * Set on the BGD to `<revision>:<step>` to let the canary of that revision go on past the pause without a
 * duration at that step (0-based). Pinned like an approval: it never advances another revision or step.
 */
export const ANNOTATION_PROMOTE_STEP = "bluegreen.io/promote-step";
/** On an HTTPRoute whose backendRef weights a BGD manages: that BGD's name (removed when it is handed back). */
export const ANNOTATION_ROUTE_WEIGHTS_OF = "bluegreen.io/weights-managed-by";
/** Set on the BGD to abort the rollout in progress. */
export const ANNOTATION_ABORT = "bluegreen.io/abort";
/** Set on the BGD to freeze progress (same effect as spec.paused). */
export const ANNOTATION_PAUSED = "bluegreen.io/paused";
/** On the old color's Deployment: when (RFC 3339) it may be scaled down. */
export const ANNOTATION_SCALE_DOWN_AT = "bluegreen.io/scale-down-at";
/**
 * On a color's Deployment: a hash of its spec (all but replicas) as the API server stored it after our
 * last write of it. A spec that no longer hashes to it was edited by someone else: drift to revert.
 */
export const ANNOTATION_SPEC_HASH = "bluegreen.io/spec-hash";
/** On a color's Deployment: the canonical JSON of the effective pod template it was written from. */
/** On a BGD that adopted a Service: the Service gets its selector back before the BGD goes. */
export const HANDBACK_FINALIZER = "bluegreen.io/service-handback";
/** On an adopted Service: its selector from before the adoption, as JSON. */
export const ANNOTATION_ORIGINAL_SELECTOR = "bluegreen.io/original-selector";
/** On a color's Deployment: the revision of the template it was written from. */
export const ANNOTATION_REVISION = "bluegreen.io/revision";
export const ANNOTATION_TEMPLATE = "bluegreen.io/template";

/**
 * The spec's defaults, in one place: the schema declares them (so the API server fills them in),
 * and the planner, the renderers and the plugin fall back on the same values for objects read
 * before defaulting (an old stored object, a test's sketch).
 */
export const DEFAULTS = {
  replicas: 1,
  servicePort: 80,
  serviceType: "ClusterIP",
  sessionAffinity: "None",
  previewEnabled: true,
  promotionMode: "Manual",
  promotionDelaySeconds: 0,
  scaleDownDelaySeconds: 30,
  abortScaleDownDelaySeconds: 30,
  progressDeadlineSeconds: 600,
  abortOnProgressDeadline: true,
  antiAffinity: "None",
  paused: false,
  revisionHistoryLimit: 10,
  /** The container port of the spec.image shorthand, and the target port when a template names none. */
  containerPort: 8080,
} as const;

/** The names of the objects a BlueGreenDeployment owns, given its own name (and spec, for the Services). */
export const PREVIEW_SUFFIX = "-preview";
export const deploymentName = (bgd: string, color: "blue" | "green"): string => `${bgd}-${color}`;
export const activeServiceName = (
  bgd: string,
  spec: { readonly service?: { readonly name?: string | undefined } },
): string => spec.service?.name ?? bgd;
export const previewServiceName = (
  bgd: string,
  spec: { readonly preview?: { readonly serviceName?: string | undefined } },
): string => spec.preview?.serviceName ?? `${bgd}${PREVIEW_SUFFIX}`;

/** API paths of what the operator and the plugin read and write. */
export const bgdCollection = (ns: string | undefined): string =>
  ns === undefined ? `/apis/${API_VERSION}/${PLURAL}` : `/apis/${API_VERSION}/namespaces/${ns}/${PLURAL}`;
export const bgdPath = (ns: string, name: string): string =>
  `${bgdCollection(ns)}/${encodeURIComponent(name)}`;
export const deploymentPath = (ns: string, name: string): string =>
  `/apis/apps/v1/namespaces/${ns}/deployments/${encodeURIComponent(name)}`;
export const servicePath = (ns: string, name: string): string =>
  `/api/v1/namespaces/${ns}/services/${encodeURIComponent(name)}`;
export const podPath = (ns: string, name: string): string =>
  `/api/v1/namespaces/${ns}/pods/${encodeURIComponent(name)}`;
export const eventsPath = (ns: string): string => `/api/v1/namespaces/${ns}/events`;
export const HTTPROUTE_API = "gateway.networking.k8s.io/v1";
export const httpRoutePath = (ns: string, name: string): string =>
  `/apis/${HTTPROUTE_API}/namespaces/${ns}/httproutes/${encodeURIComponent(name)}`;
export const jobsPath = (ns: string): string => `/apis/batch/v1/namespaces/${ns}/jobs`;
