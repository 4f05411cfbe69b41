/** Names every part of the operator agrees on: the API's coordinates, labels, annotations, field manager. */

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
export const LABEL_MANAGED_BY = "app.kubernetes.io/managed-by";
export const MANAGED_BY = "bluegreen-operator";
/** Field manager for server-side apply. */
export const FIELD_MANAGER = "bluegreen-operator";

/** Set to a revision on the BGD to approve promoting exactly that revision. */
export const ANNOTATION_PROMOTE = "bluegreen.io/promote";
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
export const ANNOTATION_TEMPLATE = "bluegreen.io/template";
