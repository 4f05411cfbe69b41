/**
 * The plugin's read-only views of what the API returns. Everything from the cluster enters as `unknown` and is
 * read here field by field, so a missing or odd field shows as "-" instead of a crash.
 */
import { desiredPodTemplate, imagesOf, parseBlueGreenDeployment, revisionOf } from "../api/defaults.ts";
import {
  ANNOTATION_ABORT,
  ANNOTATION_PAUSED,
  ANNOTATION_PROMOTE,
  ANNOTATION_SCALE_DOWN_AT,
  ANNOTATION_TEMPLATE,
  activeServiceName,
  DEFAULTS,
  LABEL_COLOR,
  LABEL_REVISION,
  previewServiceName,
} from "../api/labels.ts";

export type Json = Readonly<Record<string, unknown>>;

export const isRecord = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);
export const rec = (v: unknown): Json => (isRecord(v) ? v : {});
export const str = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined);
export const num = (v: unknown): number | undefined =>
  typeof v === "number" && Number.isFinite(v) ? v : undefined;
export const arr = (v: unknown): readonly unknown[] => (Array.isArray(v) ? v : []);
export const strMap = (v: unknown): Readonly<Record<string, string>> => {
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(rec(v))) if (typeof x === "string") out[k] = x;
  return out;
};

export type Color = "blue" | "green";
export const COLORS: readonly Color[] = ["blue", "green"];
export const isColor = (v: unknown): v is Color => v === "blue" || v === "green";

export interface ConditionView {
  readonly type: string;
  readonly status: string;
  readonly reason: string;
  readonly message: string;
  readonly lastTransitionTime: string | undefined;
}

export interface HistoryEntry {
  readonly revision: string;
  readonly image: string | undefined;
  readonly promotedAt: string | undefined;
  readonly switchedFrom: Color | undefined;
}

export interface GateView {
  readonly name: string;
  readonly stage: string | undefined;
  /** The revision the check ran for. */
  readonly revision: string | undefined;
  readonly result: string;
  readonly message: string | undefined;
}

export interface BgdView {
  readonly name: string;
  readonly namespace: string;
  readonly generation: number;
  readonly creationTimestamp: string | undefined;
  readonly annotations: Readonly<Record<string, string>>;
  /** The revision the spec asks for, computed as the operator does; undefined when the spec does not parse. */
  readonly desiredRevision: string | undefined;
  /** The images the spec asks for, comma-separated. */
  readonly desiredImage: string | undefined;
  /** spec.image when the BGD uses the image shorthand. */
  readonly shorthandImage: string | undefined;
  readonly replicas: number;
  readonly specPaused: boolean;
  readonly promotionMode: string;
  readonly promotionDelaySeconds: number;
  readonly scaleDownDelaySeconds: number;
  readonly progressDeadlineSeconds: number;
  readonly abortOnProgressDeadline: boolean;
  readonly activeServiceName: string;
  readonly previewServiceName: string | undefined;
  /** spec.trafficRouting.httpRoute.name. */
  readonly httpRoute: string | undefined;
  /** spec.strategy.canary.steps, as written. */
  readonly canarySteps: readonly CanaryStepView[];
  readonly status: {
    readonly observedGeneration: number | undefined;
    readonly phase: string | undefined;
    readonly message: string | undefined;
    readonly activeColor: Color | undefined;
    readonly previewColor: Color | undefined;
    readonly activeRevision: string | undefined;
    readonly previewRevision: string | undefined;
    readonly activeImage: string | undefined;
    readonly previewImage: string | undefined;
    readonly ready: string | undefined;
    readonly conditions: readonly ConditionView[];
    readonly history: readonly HistoryEntry[];
    readonly gates: readonly GateView[];
    readonly rolloutRevision: string | undefined;
    readonly rolloutStartedAt: string | undefined;
    /** status.rollout.canary: the step in progress (0-based) and its weight. */
    readonly canary: { readonly step: number; readonly weight: number } | undefined;
    /** status.traffic: the weights the route shows now. */
    readonly traffic: { readonly activeWeight: number; readonly previewWeight: number } | undefined;
  };
}

export interface CanaryStepView {
  readonly setWeight?: number;
  /** A pause; `durationSeconds` undefined: until promoted. */
  readonly pause?: { readonly durationSeconds: number | undefined };
}

/** "HTTPRoute shop: active 90 / preview 10", from status.traffic; undefined without a route. */
export function routeText(b: BgdView): string | undefined {
  if (b.httpRoute === undefined) return undefined;
  const t = b.status.traffic;
  const split = t === undefined ? "weights unknown" : `active ${t.activeWeight} / preview ${t.previewWeight}`;
  return `HTTPRoute ${b.httpRoute}: ${split}`;
}

/** "step 2/4 (pause until promoted), weight 10%", from status.rollout.canary; undefined outside a canary. */
export function canaryText(b: BgdView): string | undefined {
  const c = b.status.canary;
  const n = b.canarySteps.length;
  if (c === undefined || n === 0) return undefined;
  return c.step >= n
    ? `steps done (${n}/${n}) at weight ${c.weight}%; next: the switch`
    : `step ${c.step + 1}/${n} (${describeStep(b.canarySteps[c.step])}), weight ${c.weight}%`;
}

/** A step in words: "weight 10%", "pause 60s", "pause until promoted". */
export const describeStep = (s: CanaryStepView | undefined): string =>
  s === undefined
    ? "switch"
    : s.setWeight !== undefined
      ? `weight ${s.setWeight}%`
      : s.pause?.durationSeconds !== undefined
        ? `pause ${s.pause.durationSeconds}s`
        : "pause until promoted";

/** What the spec asks to run, computed with the operator's own functions so both agree on the revision. */
function desiredOf(raw: unknown): { revision: string | undefined; image: string | undefined } {
  const parsed = parseBlueGreenDeployment(raw);
  if (!parsed.ok) return { revision: undefined, image: undefined };
  const template = desiredPodTemplate(parsed.value);
  return { revision: revisionOf(template), image: imagesOf(template) };
}

export function bgdView(raw: unknown): BgdView {
  const o = rec(raw);
  const meta = rec(o.metadata);
  const spec = rec(o.spec);
  const st = rec(o.status);
  const strategy = rec(spec.strategy);
  const promotion = rec(strategy.promotion);
  const preview = rec(spec.preview);
  const name = str(meta.name) ?? "";
  const activeColor = st.activeColor;
  const previewColor = st.previewColor;
  const desired = desiredOf(raw);
  return {
    name,
    namespace: str(meta.namespace) ?? "",
    generation: num(meta.generation) ?? 0,
    creationTimestamp: str(meta.creationTimestamp),
    annotations: strMap(meta.annotations),
    desiredRevision: desired.revision,
    desiredImage: desired.image,
    shorthandImage: spec.template === undefined ? str(spec.image) : undefined,
    replicas: num(spec.replicas) ?? DEFAULTS.replicas,
    specPaused: spec.paused === true,
    promotionMode: str(promotion.mode) ?? DEFAULTS.promotionMode,
    promotionDelaySeconds: num(promotion.delaySeconds) ?? DEFAULTS.promotionDelaySeconds,
    scaleDownDelaySeconds: num(strategy.scaleDownDelaySeconds) ?? DEFAULTS.scaleDownDelaySeconds,
    progressDeadlineSeconds: num(strategy.progressDeadlineSeconds) ?? DEFAULTS.progressDeadlineSeconds,
    abortOnProgressDeadline: strategy.abortOnProgressDeadline !== false,
    activeServiceName: activeServiceName(name, { service: { name: str(rec(spec.service).name) } }),
    previewServiceName:
      preview.enabled === false
        ? undefined
        : previewServiceName(name, { preview: { serviceName: str(preview.serviceName) } }),
    httpRoute: str(rec(rec(spec.trafficRouting).httpRoute).name),
    canarySteps: arr(rec(strategy.canary).steps).map((x) => {
      const step = rec(x);
      const weight = num(step.setWeight);
      if (weight !== undefined) return { setWeight: weight };
      return { pause: { durationSeconds: num(rec(step.pause).durationSeconds) } };
    }),
    status: {
      observedGeneration: num(st.observedGeneration),
      phase: str(st.phase),
      message: str(st.message),
      activeColor: isColor(activeColor) ? activeColor : undefined,
      previewColor: isColor(previewColor) ? previewColor : undefined,
      activeRevision: str(st.activeRevision),
      previewRevision: str(st.previewRevision),
      activeImage: str(st.activeImage),
      previewImage: str(st.previewImage),
      ready: str(st.ready),
      conditions: arr(st.conditions).map((c) => {
        const x = rec(c);
        return {
          type: str(x.type) ?? "",
          status: str(x.status) ?? "Unknown",
          reason: str(x.reason) ?? "",
          message: str(x.message) ?? "",
          lastTransitionTime: str(x.lastTransitionTime),
        };
      }),
      history: arr(st.history).flatMap((h) => {
        const x = rec(h);
        const revision = str(x.revision);
        if (revision === undefined) return [];
        return [
          {
            revision,
            image: str(x.image),
            promotedAt: str(x.promotedAt),
            switchedFrom: isColor(x.switchedFrom) ? x.switchedFrom : undefined,
          },
        ];
      }),
      // status.gates (src/api/gate-status.ts): the point is the stage, the check's phase its result.
      gates: arr(st.gates).flatMap((g) => {
        const x = rec(g);
        const gateName = str(x.name);
        if (gateName === undefined) return [];
        return [
          {
            name: gateName,
            stage: str(x.point),
            revision: str(x.revision),
            result: str(x.phase) ?? "Unknown",
            message: str(x.message),
          },
        ];
      }),
      rolloutRevision: str(rec(st.rollout).revision),
      rolloutStartedAt: str(rec(st.rollout).startedAt),
      canary: (() => {
        const c = rec(rec(st.rollout).canary);
        const step = num(c.step);
        const weight = num(c.weight);
        return step !== undefined && weight !== undefined ? { step, weight } : undefined;
      })(),
      traffic: (() => {
        const t = rec(st.traffic);
        const a = num(t.activeWeight);
        const p = num(t.previewWeight);
        return a !== undefined && p !== undefined ? { activeWeight: a, previewWeight: p } : undefined;
      })(),
    },
  };
}

export const condition = (b: BgdView, type: string): ConditionView | undefined =>
  b.status.conditions.find((c) => c.type === type);

/** The status describes the spec as it is now (the operator has seen the latest generation). */
export const statusIsCurrent = (b: BgdView): boolean =>
  b.status.observedGeneration !== undefined && b.status.observedGeneration >= b.generation;

export const promoteAnnotation = (b: BgdView): string | undefined => b.annotations[ANNOTATION_PROMOTE];
export const abortAnnotation = (b: BgdView): string | undefined => b.annotations[ANNOTATION_ABORT];
export const pausedByAnnotation = (b: BgdView): boolean => b.annotations[ANNOTATION_PAUSED] === "true";

export interface DeploymentView {
  readonly name: string;
  readonly color: Color | undefined;
  readonly revision: string | undefined;
  readonly image: string;
  readonly replicas: number;
  readonly readyReplicas: number;
  readonly creationTimestamp: string | undefined;
  /** When the retired color is scaled down (RFC 3339), if a deadline is set. */
  readonly scaleDownAt: string | undefined;
  /** The canonical JSON of the user template the Deployment was written from. */
  readonly template: string | undefined;
}

export function deploymentView(raw: unknown): DeploymentView {
  const o = rec(raw);
  const meta = rec(o.metadata);
  const spec = rec(o.spec);
  const template = rec(spec.template);
  const labels = strMap(meta.labels);
  const annotations = strMap(meta.annotations);
  const containers = arr(rec(template.spec).containers).map((c) => str(rec(c).image) ?? "");
  const scaleDownAt = annotations[ANNOTATION_SCALE_DOWN_AT];
  const color = labels[LABEL_COLOR];
  return {
    name: str(meta.name) ?? "",
    color: isColor(color) ? color : undefined,
    revision: strMap(rec(template.metadata).labels)[LABEL_REVISION],
    image: containers.join(","),
    replicas: num(spec.replicas) ?? 1,
    readyReplicas: num(rec(o.status).readyReplicas) ?? 0,
    creationTimestamp: str(meta.creationTimestamp),
    scaleDownAt: scaleDownAt === "" ? undefined : scaleDownAt,
    template: annotations[ANNOTATION_TEMPLATE],
  };
}

export interface PodView {
  readonly name: string;
  readonly color: Color | undefined;
  readonly revision: string | undefined;
  /** What `kubectl get pods` shows in STATUS: Running, Pending, Terminating, ContainerCreating... */
  readonly status: string;
  readonly ready: boolean;
  readonly readyContainers: string;
  readonly restarts: number;
  readonly ip: string | undefined;
  readonly node: string | undefined;
  readonly creationTimestamp: string | undefined;
}

export function podView(raw: unknown): PodView {
  const o = rec(raw);
  const meta = rec(o.metadata);
  const spec = rec(o.spec);
  const st = rec(o.status);
  const labels = strMap(meta.labels);
  const statuses = arr(st.containerStatuses).map(rec);
  const waiting = statuses.map((c) => str(rec(rec(c.state).waiting).reason)).find((r) => r !== undefined);
  const ready = arr(st.conditions).some((c) => rec(c).type === "Ready" && rec(c).status === "True");
  const total = arr(spec.containers).length;
  const color = labels[LABEL_COLOR];
  return {
    name: str(meta.name) ?? "",
    color: isColor(color) ? color : undefined,
    revision: labels[LABEL_REVISION],
    status:
      meta.deletionTimestamp !== undefined && meta.deletionTimestamp !== null
        ? "Terminating"
        : (waiting ?? str(st.reason) ?? str(st.phase) ?? "Unknown"),
    ready: ready && meta.deletionTimestamp == null,
    readyContainers: `${statuses.filter((c) => c.ready === true).length}/${total}`,
    restarts: statuses.reduce((n, c) => n + (num(c.restartCount) ?? 0), 0),
    ip: str(st.podIP),
    node: str(spec.nodeName),
    creationTimestamp: str(meta.creationTimestamp),
  };
}

export interface EventView {
  /** metadata.resourceVersion as a number, to order events recorded within the same second. */
  readonly order: number;
  readonly type: string;
  readonly reason: string;
  readonly message: string;
  /** The latest time it happened (RFC 3339). */
  readonly time: string | undefined;
  readonly count: number;
}

export function eventView(raw: unknown): EventView {
  const o = rec(raw);
  const series = rec(o.series);
  return {
    order: Number(str(rec(o.metadata).resourceVersion) ?? "0") || 0,
    type: str(o.type) ?? "Normal",
    reason: str(o.reason) ?? "",
    message: str(o.message) ?? str(o.note) ?? "",
    time:
      str(series.lastObservedTime) ??
      str(o.lastTimestamp) ??
      str(o.eventTime) ??
      str(o.firstTimestamp) ??
      str(rec(o.metadata).creationTimestamp),
    count: num(series.count) ?? num(o.count) ?? 1,
  };
}

export interface ServiceView {
  readonly name: string;
  readonly color: Color | undefined;
  readonly exists: boolean;
}

export function serviceView(name: string, raw: unknown): ServiceView {
  if (raw === undefined) return { name, color: undefined, exists: false };
  const c = strMap(rec(rec(raw).spec).selector)[LABEL_COLOR];
  return { name, color: isColor(c) ? c : undefined, exists: true };
}

/** Everything `get NAME` shows, as fetched (raw), so rendering is a pure function of it. */
export interface Snapshot {
  readonly bgd: unknown;
  readonly deployments: readonly unknown[];
  readonly pods: readonly unknown[];
  readonly services: Readonly<Record<string, unknown>>;
  readonly events: readonly unknown[];
}
