/**
 * Builders of Observed values for planner tests: defaults plus the overrides a test cares about.
 * `desired` and each color's revision come from the real template functions (desiredPodTemplate,
 * revisionOf, canonicalJson), so a test never hard-codes a hash.
 */
import {
  canonicalJson,
  desiredPodTemplate,
  effectiveSelector,
  imagesOf,
  parseBlueGreenDeployment,
  revisionOf,
} from "../../../src/api/defaults.ts";
import type { BlueGreenDeploymentSpec, BlueGreenDeploymentStatus } from "../../../src/api/schema.ts";
import type {
  Action,
  Annotations,
  Color,
  ColorState,
  Desired,
  EndpointCounts,
  Observed,
  ObservedGates,
  Plan,
  PodTemplate,
  RouteBackend,
  RouteState,
  ServiceState,
} from "../../../src/bluegreen/types.ts";
import { HANDBACK_FINALIZER } from "../../../src/bluegreen/types.ts";

export const NAME = "app";
export const NAMESPACE = "default";
export const UID = "6f1c1c5e-0000-4000-8000-000000000001";
/** The planner never reads the clock: every test passes this (or a time after it) as `now`. */
export const T0 = Date.parse("2030-01-01T00:00:00.000Z");
export const SECOND = 1000;
export const iso = (ms: number): string => new Date(ms).toISOString();

/** The spec a user writes, before defaults; merged over `{ replicas: 3, image }`. */
export type UserSpec = Record<string, unknown>;

const parsedSpecs = new Map<string, BlueGreenDeploymentSpec>();

/** Parses a user's spec through the real boundary (defaults + schema + CEL rules); throws when invalid. */
export function specOf(user: UserSpec, name = NAME): BlueGreenDeploymentSpec {
  const key = `${name}\n${JSON.stringify(user)}`;
  const cached = parsedSpecs.get(key);
  if (cached !== undefined) return cached;
  const parsed = parseBlueGreenDeployment({
    apiVersion: "bluegreen.io/v1",
    kind: "BlueGreenDeployment",
    metadata: { name, namespace: NAMESPACE },
    spec: user,
  });
  if (!parsed.ok) throw new Error(`test spec is invalid: ${parsed.message}`);
  parsedSpecs.set(key, parsed.value.spec);
  return parsed.value.spec;
}

/** What observe() derives from the spec: the template to run and its identity. */
export function desiredOf(spec: BlueGreenDeploymentSpec, name = NAME): Desired {
  const bgd = { metadata: { name }, spec };
  const template = desiredPodTemplate(bgd) as PodTemplate;
  return {
    template,
    revision: revisionOf(template),
    canonical: canonicalJson(template),
    image: imagesOf(template),
    selector: effectiveSelector(bgd),
  };
}

/** The desired revision of the shorthand spec `{ image }` (what a color running that image carries). */
export function desiredForImage(image: string, name = NAME): Desired {
  return desiredOf(specOf({ image }, name), name);
}
export const rev = (image: string): string => desiredForImage(image).revision;

/** Accepts a status as the API server would (the CRD schema); undefined when it is refused. */
export function statusProblem(status: BlueGreenDeploymentStatus): string | undefined {
  const parsed = parseBlueGreenDeployment({
    apiVersion: "bluegreen.io/v1",
    kind: "BlueGreenDeployment",
    metadata: { name: NAME, namespace: NAMESPACE },
    spec: { image: "app:v1" },
    status,
  });
  if (!parsed.ok) return parsed.message;
  return parsed.warnings.length > 0 ? parsed.warnings.join("; ") : undefined;
}

export interface ColorSketch {
  readonly image: string;
  /** spec.replicas of the Deployment; default the BGD's spec.replicas. */
  readonly replicas?: number;
  /** Ready pods of its revision; default `replicas`. */
  readonly ready?: number;
  /** Default: every replica ready. */
  readonly rolledOut?: boolean;
  /** Ready pods of another revision left in this color; omitted: not counted (unknown). */
  readonly staleReady?: number;
  readonly scaleDownAt?: number | "invalid";
  /** Written by an operator version without the template annotation: identity falls back to the revision. */
  readonly withoutTemplateAnnotation?: boolean;
  /** The hash of its spec now, and the one recorded after our last write (drift when they differ). */
  readonly specHash?: string;
  readonly recordedSpecHash?: string;
}

export interface Sketch {
  /** The desired image (spec.image shorthand). Default "app:v1". */
  readonly image?: string;
  /** Merged over { replicas: 3, image }. */
  readonly spec?: UserSpec;
  readonly blue?: ColorSketch;
  readonly green?: ColorSketch;
  /** The color the active Service selects; omitted: the Service does not exist yet. */
  readonly active?: Color | "none" | "invalid";
  /** The color the preview Service selects; default: the active color. */
  readonly preview?: Color | "none";
  readonly activeEndpoints?: Partial<EndpointCounts>;
  readonly previewEndpoints?: Partial<EndpointCounts>;
  readonly activeUpToDate?: boolean;
  readonly previewUpToDate?: boolean;
  readonly status?: BlueGreenDeploymentStatus;
  readonly annotations?: Partial<Annotations>;
  readonly generation?: number;
  /** What the gate runner and the Job cache hold (gate tests). */
  readonly gates?: ObservedGates;
  /**
   * The HTTPRoute of spec.trafficRouting (set it there too): one rule with a backendRef to the active
   * Service (weight 100 - preview) and one to the preview Service (weight `preview`); `missing` leaves one
   * out, `exists: false` has no route at all.
   */
  readonly route?: {
    readonly preview?: number;
    readonly exists?: boolean;
    readonly adopted?: boolean;
    readonly missing?: "active" | "preview";
  };
}

/** The route a sketch describes (see Sketch.route). */
export function routeState(r: NonNullable<Sketch["route"]>, name = "web"): RouteState {
  const preview = r.preview ?? 0;
  const backends: RouteBackend[] = [
    { rule: 0, index: 0, service: NAME, role: "active" as const, weight: 100 - preview },
    { rule: 0, index: 1, service: `${NAME}-preview`, role: "preview" as const, weight: preview },
  ].filter((b) => b.role !== r.missing);
  return r.exists === false
    ? { name, exists: false, backends: [], hasAnnotations: false, adopted: false }
    : { name, exists: true, backends, hasAnnotations: true, adopted: r.adopted ?? true };
}

export function colorState(color: Color, c: ColorSketch, defaultReplicas: number): ColorState {
  const d = desiredForImage(c.image);
  const replicas = c.replicas ?? defaultReplicas;
  const ready = c.ready ?? replicas;
  return {
    color,
    revision: d.revision,
    userTemplate: c.withoutTemplateAnnotation === true ? undefined : d.canonical,
    image: c.image,
    replicas,
    rolledOut: c.rolledOut ?? ready >= replicas,
    readyPods: ready,
    ...(c.staleReady !== undefined ? { staleReadyPods: c.staleReady } : {}),
    scaleDownAt: c.scaleDownAt,
    ...(c.specHash !== undefined ? { specHash: c.specHash } : {}),
    ...(c.recordedSpecHash !== undefined ? { recordedSpecHash: c.recordedSpecHash } : {}),
  };
}

function serviceState(
  sel: Color | "none" | "invalid" | undefined,
  upToDate: boolean | undefined,
): ServiceState {
  if (sel === undefined) return { exists: false, selectorColor: undefined, upToDate: false };
  const selectorColor = sel === "none" ? undefined : sel;
  const isColor = sel === "blue" || sel === "green";
  return { exists: true, selectorColor, upToDate: upToDate ?? isColor };
}

function endpointsOf(
  selected: Color | "none" | "invalid" | undefined,
  colors: Observed["colors"],
  given: Partial<EndpointCounts> | undefined,
): EndpointCounts {
  const truth = { blue: 0, green: 0 };
  if (selected === "blue" || selected === "green") truth[selected] = colors[selected]?.readyPods ?? 0;
  return { ...truth, ...given };
}

/** An Observed built from a sketch of the cluster; everything not mentioned is consistent and settled. */
export function observed(sketch: Sketch = {}): Observed {
  const image = sketch.image ?? "app:v1";
  const spec = specOf({ replicas: 3, image, ...sketch.spec });
  const replicas = spec.replicas;
  const colors: Partial<Record<Color, ColorState>> = {};
  if (sketch.blue !== undefined) colors.blue = colorState("blue", sketch.blue, replicas);
  if (sketch.green !== undefined) colors.green = colorState("green", sketch.green, replicas);
  const previewEnabled = spec.preview.enabled;
  const previewSel = sketch.preview ?? sketch.active;
  const pods: { name: string; color: Color; ready: boolean }[] = [];
  for (const c of ["blue", "green"] as const) {
    const st = colors[c];
    if (st === undefined) continue;
    for (let i = 0; i < st.replicas; i++)
      pods.push({ name: `${NAME}-${c}-${i}`, color: c, ready: i < st.readyPods });
  }
  return {
    name: NAME,
    namespace: NAMESPACE,
    uid: UID,
    generation: sketch.generation ?? 1,
    spec,
    status: sketch.status ?? {},
    annotations: { promote: undefined, abort: undefined, paused: false, ...sketch.annotations },
    desired: desiredOf(spec),
    colors,
    activeService: serviceState(sketch.active, sketch.activeUpToDate),
    previewService: previewEnabled ? serviceState(previewSel, sketch.previewUpToDate) : undefined,
    activeEndpoints: endpointsOf(sketch.active, colors, sketch.activeEndpoints),
    previewEndpoints: previewEnabled
      ? endpointsOf(previewSel, colors, sketch.previewEndpoints)
      : { blue: 0, green: 0 },
    pods: pods.slice(0, 40),
    ...(sketch.gates !== undefined ? { gates: sketch.gates } : {}),
    ...(sketch.route !== undefined
      ? {
          route: routeState(sketch.route, spec.trafficRouting?.httpRoute.name ?? "web"),
          // Put there by the first reconcile of a BGD with a route (the hand-back on delete).
          finalizers: [HANDBACK_FINALIZER],
        }
      : {}),
  };
}

/** status.history as the planner writes it, newest first. */
export function history(...entries: ReadonlyArray<string | { image: string; at: number; from?: Color }>) {
  return entries.map((e) => {
    const image = typeof e === "string" ? e : e.image;
    const at = typeof e === "string" ? T0 - 3600 * SECOND : e.at;
    return {
      revision: rev(image),
      image,
      promotedAt: iso(at),
      ...(typeof e !== "string" && e.from !== undefined ? { switchedFrom: e.from } : {}),
    };
  });
}

// ---------------------------------------------------------------------------------------------------------
// Reading plans

/** A write as a short sentence, so tables compare whole plans at a glance. Events and status are left out. */
export function describeWrite(a: Action): string | undefined {
  switch (a.type) {
    case "ApplyDeployment":
      return `ApplyDeployment ${a.color} ${a.revision} x${a.replicas}`;
    case "ScaleDeployment":
      return `ScaleDeployment ${a.color} x${a.replicas}`;
    case "SetScaleDownDeadline":
      return `SetScaleDownDeadline ${a.color} ${a.at}`;
    case "ApplyService":
      return `ApplyService ${a.role} ${a.color}`;
    case "MarkAborted":
      return `MarkAborted ${a.revision}`;
    case "RepairDeployment":
      return `RepairDeployment ${a.color} ${a.revision}`;
    case "RecordDeploymentSpec":
      return `RecordDeploymentSpec ${a.color} ${a.hash}`;
    case "CreateJob":
      return `CreateJob ${a.name}`;
    case "RunMeasurement":
      return `RunMeasurement ${a.work.id}`;
    case "ForgetMeasurement":
      return `ForgetMeasurement ${a.id}`;
    case "SetRouteWeights":
      return `SetRouteWeights preview ${a.preview}`;
    case "AdoptRoute":
    case "HandBackRoute":
      return a.type;
    case "Event":
    case "UpdateStatus":
      return undefined;
  }
}

/** The cluster writes of a plan (no Events, no status), in order. */
export function writes(p: Plan): string[] {
  return p.actions.map(describeWrite).filter((w): w is string => w !== undefined);
}

export function events(p: Plan): string[] {
  return p.actions.flatMap((a) => (a.type === "Event" ? [`${a.eventType} ${a.reason}`] : []));
}

/** The status the plan writes, or the one it left alone. */
export function statusAfter(o: Observed, p: Plan): BlueGreenDeploymentStatus {
  const u = p.actions.find((a) => a.type === "UpdateStatus");
  return u?.type === "UpdateStatus" ? u.status : o.status;
}

export function condition(status: BlueGreenDeploymentStatus, type: string) {
  return status.conditions?.find((c) => c.type === type);
}

/** The same cluster, with the status the plan wrote: what the next reconcile sees when nothing else moved. */
export function withPlannedStatus(o: Observed, p: Plan): Observed {
  return { ...o, status: statusAfter(o, p) };
}
