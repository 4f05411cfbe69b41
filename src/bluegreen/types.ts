/**
 * The domain vocabulary shared by observe (reads caches), plan (pure) and execute (writes).
 * Nothing here imports the Kubernetes client.
 */
import type { BlueGreenDeploymentSpec, BlueGreenDeploymentStatus } from "../api/schema.ts";
import type { Measurement } from "./gates/measurement.ts";
import type { GateWork } from "./gates/plan-gates.ts";
import type { Write } from "./writes.ts";

export type Color = "blue" | "green";
export const COLORS: readonly Color[] = ["blue", "green"];
export function otherColor(c: Color): Color {
  return c === "blue" ? "green" : "blue";
}

/** A plain pod template (metadata + spec) as the Kubernetes API takes it. */
export interface PodTemplate {
  readonly metadata?: {
    readonly labels?: Readonly<Record<string, string>>;
    readonly annotations?: Readonly<Record<string, string>>;
  };
  readonly spec: Readonly<Record<string, unknown>>;
}

/** What one color's Deployment looks like in the cache. */
export interface ColorState {
  readonly color: Color;
  /** The revision label on its pod template (bluegreen.io/revision). */
  readonly revision: string | undefined;
  /**
   * Canonical JSON of the user's template this Deployment was written from. Comparing it (not
   * a hash) decides "runs the desired revision", so a change of hashing never redeploys anything.
   */
  readonly userTemplate: string | undefined;
  readonly image: string;
  /** spec.replicas of the Deployment. */
  readonly replicas: number;
  /** The Deployment controller has observed our last write and every replica runs the current template. */
  readonly rolledOut: boolean;
  /** Pods of this color running the Deployment's revision with condition Ready=True. */
  readonly readyPods: number;
  /**
   * Pods of this color running another revision, Ready=True and not terminating: pods a Service
   * selecting this color would still send to. `undefined`: not counted (then treated as unknown).
   */
  readonly staleReadyPods?: number;
  /**
   * When this color, once it is no longer live, must be scaled to zero (ms since epoch).
   * `undefined`: no deadline recorded; `"invalid"`: unreadable (for a retired color both get a new deadline, the full delay from now).
   */
  readonly scaleDownAt: number | "invalid" | undefined;
  /** specHashOf(the Deployment's spec) now; `undefined` where nobody computed it (planner tests). */
  readonly specHash?: string;
  /** The bluegreen.io/spec-hash annotation: the spec hash after our last write; `undefined`: none. */
  readonly recordedSpecHash?: string;
}

export interface ServiceState {
  readonly exists: boolean;
  /** The color its selector picks, `undefined` when it selects none, "invalid" when the selector is not ours. */
  readonly selectorColor: Color | "invalid" | undefined;
  /** Everything but the color in the Service matches what we would write (ports, type, labels...). */
  readonly upToDate: boolean;
  /**
   * A Service the user made and named in spec.service.name: we manage only its selector, never
   * own it, and hand its original selector back when the BlueGreenDeployment is deleted.
   */
  readonly adopted?: boolean;
  /** Its selector as it is now (adopted Services: to replace it exactly). */
  readonly selector?: Readonly<Record<string, string>>;
  /** The selector it had before we adopted it (JSON, from our annotation); undefined: not recorded yet. */
  readonly originalSelector?: string;
}

/** Ready endpoints per color, from the Service's EndpointSlices (the kube-proxy's view). */
export type EndpointCounts = Readonly<Record<Color, number>>;

export interface Annotations {
  /** bluegreen.io/promote: the one revision a person approved. */
  readonly promote: string | undefined;
  /** bluegreen.io/abort: the one revision a person (or the deadline) aborted. */
  readonly abort: string | undefined;
  /** bluegreen.io/paused=true: an imperative pause that does not touch spec (GitOps-friendly). */
  readonly paused: boolean;
  /** bluegreen.io/promote-step: `<revision>:<step>`, the one canary pause a person let go on. */
  readonly promoteStep?: string | undefined;
}

/** One backendRef of the user's HTTPRoute that names the active or the preview Service. */
export interface RouteBackend {
  /** Its place in the route: spec.rules[rule].backendRefs[index] (the JSON patch's path). */
  readonly rule: number;
  readonly index: number;
  readonly service: string;
  readonly role: "active" | "preview";
  /** Its weight as stored; `undefined`: not set (Gateway API's default, 1). */
  readonly weight: number | undefined;
}

/** The HTTPRoute named in spec.trafficRouting.httpRoute, as observe found it. */
export interface RouteState {
  readonly name: string;
  readonly exists: boolean;
  /** Its backendRefs to our two Services, in route order; others are the user's and never touched. */
  readonly backends: readonly RouteBackend[];
  /** metadata.annotations exists (a JSON patch adds a key to it, or the whole map). */
  readonly hasAnnotations: boolean;
  /** Our bluegreen.io/weights-managed-by annotation names this BGD. */
  readonly adopted: boolean;
}

export interface Desired {
  readonly template: PodTemplate;
  readonly revision: string;
  /** Canonical JSON of `template`, compared with ColorState.userTemplate. */
  readonly canonical: string;
  readonly image: string;
  readonly selector: Readonly<Record<string, string>>;
}

export interface Observed {
  readonly name: string;
  readonly namespace: string;
  /** The BGD's uid: the owner reference of everything we create. */
  readonly uid: string;
  readonly generation: number;
  readonly spec: BlueGreenDeploymentSpec;
  readonly status: BlueGreenDeploymentStatus;
  readonly annotations: Annotations;
  /** metadata.deletionTimestamp is set: only the hand-back of an adopted Service is left to do. */
  readonly deleting?: boolean;
  readonly finalizers?: readonly string[];
  readonly desired: Desired;
  readonly colors: Readonly<Partial<Record<Color, ColorState>>>;
  readonly activeService: ServiceState;
  /** `undefined` when the preview Service is disabled. */
  readonly previewService: ServiceState | undefined;
  readonly activeEndpoints: EndpointCounts;
  readonly previewEndpoints: EndpointCounts;
  /** The HTTPRoute of spec.trafficRouting; `undefined` without one. */
  readonly route?: RouteState;
  /** Names of the ready pods of each color (bounded), for status.servingPods. */
  readonly pods: ReadonlyArray<{
    readonly name: string;
    readonly color: Color;
    readonly ready: boolean;
    readonly ip?: string;
  }>;
  /**
   * Every (not terminating) pod's labels and annotations, when spec.strategy.activeMetadata or
   * previewMetadata asks for role metadata on pods.
   */
  /** Absent where nobody observed gates (planner tests without gates): no results, no Jobs. */
  readonly gates?: ObservedGates;
  readonly podMetadata?: ReadonlyArray<{
    readonly name: string;
    readonly color: Color;
    readonly labels: Readonly<Record<string, string>>;
    readonly annotations: Readonly<Record<string, string>>;
  }>;
}

/** What the gates need besides status: the runner's finished measurements, the BGD's Jobs, ClusterIPs. */
export interface ObservedGates {
  /** A finished measurement the gate runner holds, by id (`<uid>/<revision>/<check>/<index>`). */
  readonly result: (id: string) => Measurement | undefined;
  /** The BGD's Jobs in the cache, by name. */
  readonly jobs: ReadonlyMap<string, unknown>;
  readonly activeServiceIP: string | undefined;
  readonly previewServiceIP: string | undefined;
}

export type EventType = "Normal" | "Warning";

export { ANNOTATION_ORIGINAL_SELECTOR, HANDBACK_FINALIZER } from "../api/labels.ts";

/** Everything execute() may do: the planner's decisions. Each action is idempotent on its own. */
export type Action =
  | {
      readonly type: "ApplyDeployment";
      readonly color: Color;
      readonly replicas: number;
      readonly revision: string;
      readonly reason: string;
    }
  | {
      readonly type: "ScaleDeployment";
      readonly color: Color;
      readonly replicas: number;
      readonly reason: string;
    }
  | { readonly type: "SetScaleDownDeadline"; readonly color: Color; readonly at: string }
  /**
   * Someone edited a color's Deployment: put back the spec we wrote (its template from its own
   * bluegreen.io/template annotation, so a warm old color keeps its revision), then record its hash.
   */
  | {
      readonly type: "RepairDeployment";
      readonly color: Color;
      readonly revision: string;
      readonly reason: string;
    }
  /** A Deployment without a recorded spec hash (written by an older operator): record what it is now. */
  | { readonly type: "RecordDeploymentSpec"; readonly color: Color; readonly hash: string }
  | {
      readonly type: "ApplyService";
      readonly role: "active" | "preview";
      readonly color: Color;
      readonly reason: string;
      /**
       * Someone else edited the Service: server-side apply alone would merge their ports with ours
       * (ports are a list keyed by port number), so the spec is replaced first.
       */
      readonly repair?: boolean;
    }
  /** Keeps the BGD from vanishing before an adopted Service got its own selector back. */
  | { readonly type: "AddFinalizer" }
  /** Gives an adopted Service its original selector back; then the finalizer goes. */
  | { readonly type: "HandBackService" }
  | { readonly type: "RemoveFinalizer" }
  /** Marks the user's HTTPRoute as one whose weights we manage (an annotation; nothing else changes). */
  | { readonly type: "AdoptRoute" }
  /**
   * One JSON patch of the weights of the route's backendRefs to our Services: `preview` percent to the
   * preview Service, the rest to the active one. `test` ops pin each backendRef's name and weight as
   * observed, so a concurrent edit of the route fails the write (a quiet re-plan) instead of being overwritten.
   */
  | { readonly type: "SetRouteWeights"; readonly preview: number; readonly reason: string }
  /** On delete: all traffic to the active Service, our annotation removed. */
  | { readonly type: "HandBackRoute" }
  /**
   * Role metadata (spec.strategy.activeMetadata / previewMetadata) on one pod: set on the pods of
   * the color in that role, removed from the others. Pods, not the template: a template change
   * would restart the live pods.
   */
  | {
      readonly type: "PatchPodMetadata";
      readonly pod: string;
      readonly labels: Readonly<Record<string, string | null>>;
      readonly annotations: Readonly<Record<string, string | null>>;
    }
  | { readonly type: "MarkAborted"; readonly revision: string }
  /** The abort annotation names a revision that is no longer wanted: the rollout it stopped is over. */
  | { readonly type: "ClearAborted"; readonly revision: string }
  | {
      readonly type: "Event";
      readonly eventType: EventType;
      readonly reason: string;
      readonly message: string;
    }
  | { readonly type: "UpdateStatus"; readonly status: BlueGreenDeploymentStatus }
  /** A job check's Job, once per revision (its name is deterministic; AlreadyExists is success). */
  | { readonly type: "CreateJob"; readonly name: string; readonly job: Readonly<Record<string, unknown>> }
  /**
   * Not a write: hands a measurement to the gate runner (off the reconcile path), or tells it a result is
   * now in status. The executor sends nothing for these; the reconciler passes them on after the plan's writes.
   */
  | { readonly type: "RunMeasurement"; readonly work: GateWork }
  | { readonly type: "ForgetMeasurement"; readonly id: string };

/** An action with the whole write that carries it out (rendered by writes.ts, interpreted by the executor). */
export type PlannedAction = Action & { readonly write: Write };

/** What plan() decides, before its writes are rendered. */
export interface Decision {
  readonly actions: readonly Action[];
  /** Reconcile again after this long even if nothing changes (timers: delays and deadlines). */
  readonly requeueAfterMs: number | undefined;
}

export interface Plan extends Decision {
  readonly actions: readonly PlannedAction[];
}
