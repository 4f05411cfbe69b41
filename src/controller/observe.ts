/**
 * observe(): reads the informer caches only (never the API) and describes one BlueGreenDeployment
 * and what it owns in the domain's terms. Deciding what to do is plan()'s job.
 */
import {
  canonicalJson,
  desiredPodTemplate,
  imagesOf,
  parseBlueGreenDeployment,
  revisionOf,
  specHashOf,
} from "../api/defaults.ts";
import {
  ANNOTATION_ABORT,
  ANNOTATION_PAUSED,
  ANNOTATION_PROMOTE,
  ANNOTATION_SCALE_DOWN_AT,
  ANNOTATION_SPEC_HASH,
  ANNOTATION_TEMPLATE,
  LABEL_COLOR,
  LABEL_NAME,
  LABEL_REVISION,
} from "../api/labels.ts";
import type { BlueGreenDeployment } from "../api/schema.ts";
import { sameJson } from "../bluegreen/plan.ts";
import {
  activeServiceName,
  colorSelector,
  deploymentName,
  type Owner,
  previewServiceName,
  renderService,
} from "../bluegreen/render.ts";
import {
  ANNOTATION_ORIGINAL_SELECTOR,
  COLORS,
  type Color,
  type ColorState,
  type Desired,
  type EndpointCounts,
  type Observed,
  type PodTemplate,
  type ServiceState,
} from "../bluegreen/types.ts";

/** The shapes we read from cached objects (plain JSON as the API returns it). */
export interface KObject {
  readonly metadata?: {
    readonly name?: string;
    readonly namespace?: string;
    readonly uid?: string;
    readonly generation?: number;
    readonly labels?: Readonly<Record<string, string>>;
    readonly annotations?: Readonly<Record<string, string>>;
    readonly deletionTimestamp?: string;
    readonly resourceVersion?: string;
  };
}
export interface DeploymentObj extends KObject {
  readonly spec?: {
    readonly replicas?: number;
    readonly template?: {
      readonly metadata?: { readonly labels?: Readonly<Record<string, string>> };
      readonly spec?: unknown;
    };
  };
  readonly status?: {
    readonly observedGeneration?: number;
    readonly replicas?: number;
    readonly updatedReplicas?: number;
    readonly readyReplicas?: number;
    readonly availableReplicas?: number;
  };
}
export interface ServiceObj extends KObject {
  readonly spec?: {
    readonly selector?: Readonly<Record<string, string>>;
    readonly type?: string;
    readonly sessionAffinity?: string;
    readonly ports?: ReadonlyArray<Readonly<Record<string, unknown>>>;
  };
}
export interface PodObj extends KObject {
  readonly status?: {
    readonly podIP?: string;
    readonly conditions?: ReadonlyArray<{ readonly type?: string; readonly status?: string }>;
  };
}
export interface EndpointSliceObj extends KObject {
  readonly endpoints?: ReadonlyArray<{
    readonly conditions?: { readonly ready?: boolean };
    readonly targetRef?: { readonly kind?: string; readonly name?: string };
  }>;
}

/** Read-only views of the caches observe needs. */
export interface Caches {
  deployment(namespace: string, name: string): DeploymentObj | undefined;
  service(namespace: string, name: string): ServiceObj | undefined;
  /** Pods labelled bluegreen.io/name=<bgd>. */
  podsOf(namespace: string, bgd: string): readonly PodObj[];
  /** EndpointSlices labelled kubernetes.io/service-name=<service>. */
  endpointSlicesOf(namespace: string, service: string): readonly EndpointSliceObj[];
}

export type Observation =
  | { readonly ok: true; readonly observed: Observed; readonly owner: Owner }
  | { readonly ok: false; readonly message: string; readonly owner: Owner; readonly generation: number };

const isColor = (v: unknown): v is Color => v === "blue" || v === "green";
const podReady = (p: PodObj) =>
  p.metadata?.deletionTimestamp === undefined &&
  (p.status?.conditions ?? []).some((c) => c.type === "Ready" && c.status === "True");

function parseDeadline(v: string | undefined): number | "invalid" | undefined {
  if (v === undefined || v === "") return undefined;
  const t = Date.parse(v);
  return Number.isNaN(t) ? "invalid" : t;
}

function colorState(color: Color, dep: DeploymentObj, pods: readonly PodObj[]): ColorState {
  const revision = dep.spec?.template?.metadata?.labels?.[LABEL_REVISION];
  const replicas = dep.spec?.replicas ?? 1;
  const st = dep.status ?? {};
  const rolledOut =
    (st.observedGeneration ?? 0) >= (dep.metadata?.generation ?? 1) &&
    (st.updatedReplicas ?? 0) === replicas &&
    (st.replicas ?? 0) === replicas &&
    (st.availableReplicas ?? 0) >= replicas;
  const readyPods = pods.filter(
    (p) =>
      p.metadata?.labels?.[LABEL_COLOR] === color &&
      p.metadata?.labels?.[LABEL_REVISION] === revision &&
      podReady(p),
  ).length;
  const containers =
    (dep.spec?.template?.spec as { containers?: { image?: string }[] } | undefined)?.containers ?? [];
  return {
    color,
    revision,
    userTemplate: dep.metadata?.annotations?.[ANNOTATION_TEMPLATE],
    image: containers.map((c) => c.image ?? "").join(","),
    replicas,
    rolledOut,
    readyPods,
    scaleDownAt: parseDeadline(dep.metadata?.annotations?.[ANNOTATION_SCALE_DOWN_AT]),
    specHash: specHashOf(dep.spec),
    ...(dep.metadata?.annotations?.[ANNOTATION_SPEC_HASH] !== undefined
      ? { recordedSpecHash: dep.metadata.annotations[ANNOTATION_SPEC_HASH] }
      : {}),
  };
}

function serviceState(
  svc: ServiceObj | undefined,
  owner: Owner,
  desired: Desired,
  render: (color: Color) => Record<string, unknown>,
  adopted = false,
): ServiceState {
  if (svc === undefined) return { exists: false, selectorColor: undefined, upToDate: false, adopted };
  const selector = svc.spec?.selector;
  let selectorColor: ServiceState["selectorColor"];
  if (selector === undefined || Object.keys(selector).length === 0) selectorColor = undefined;
  else {
    // Ours when it names this BGD and a color; any other difference is drift (upToDate: false).
    const c = selector[LABEL_COLOR];
    selectorColor = isColor(c) && selector[LABEL_NAME] === owner.name ? c : "invalid";
  }
  if (adopted) {
    // Of an adopted Service we manage the selector (and our name label) only.
    const original = svc.metadata?.annotations?.[ANNOTATION_ORIGINAL_SELECTOR];
    return {
      exists: true,
      selectorColor,
      upToDate:
        isColor(selectorColor) &&
        sameJson(selector, colorSelector(owner, desired, selectorColor)) &&
        svc.metadata?.labels?.[LABEL_NAME] === owner.name,
      adopted,
      ...(selector !== undefined ? { selector } : {}),
      ...(original !== undefined ? { originalSelector: original } : {}),
    };
  }
  const want = render(isColor(selectorColor) ? selectorColor : "blue") as {
    metadata: { labels: Record<string, string>; annotations?: Record<string, string> };
    spec: { type: string; sessionAffinity: string; ports: Record<string, unknown>[] };
  };
  const labels = svc.metadata?.labels ?? {};
  const annotations = svc.metadata?.annotations ?? {};
  const livePorts = (svc.spec?.ports ?? []).map((p) => ({
    name: p.name,
    protocol: p.protocol ?? "TCP",
    port: p.port,
    targetPort: p.targetPort,
  }));
  const upToDate =
    isColor(selectorColor) &&
    sameJson(selector, colorSelector(owner, desired, selectorColor)) &&
    svc.spec?.type === want.spec.type &&
    (svc.spec?.sessionAffinity ?? "None") === want.spec.sessionAffinity &&
    sameJson(livePorts, want.spec.ports) &&
    Object.entries(want.metadata.labels).every(([k, v]) => labels[k] === v) &&
    Object.entries(want.metadata.annotations ?? {}).every(([k, v]) => annotations[k] === v);
  return { exists: true, selectorColor, upToDate };
}

function endpointCounts(
  slices: readonly EndpointSliceObj[],
  podColor: ReadonlyMap<string, Color>,
): EndpointCounts {
  const counts: Record<Color, number> = { blue: 0, green: 0 };
  const seen = new Set<string>();
  for (const s of slices) {
    for (const e of s.endpoints ?? []) {
      const pod = e.targetRef?.kind === "Pod" ? e.targetRef.name : undefined;
      if (pod === undefined || seen.has(pod) || e.conditions?.ready !== true) continue;
      seen.add(pod);
      const c = podColor.get(pod);
      if (c !== undefined) counts[c]++;
    }
  }
  return counts;
}

export function observe(raw: unknown, caches: Caches): Observation {
  const meta = (raw as KObject).metadata ?? {};
  const owner: Owner = { name: meta.name ?? "", namespace: meta.namespace ?? "", uid: meta.uid ?? "" };
  const generation = meta.generation ?? 0;
  const parsed = parseBlueGreenDeployment(raw);
  if (!parsed.ok) return { ok: false, message: parsed.message, owner, generation };
  const bgd: BlueGreenDeployment = parsed.value;
  const spec = bgd.spec;
  const template = desiredPodTemplate(bgd) as PodTemplate;
  const desired: Desired = {
    template,
    revision: revisionOf(template),
    canonical: canonicalJson(template),
    image: imagesOf(template),
    // Only the explicit (immutable) selector: template labels may change between revisions, and
    // the Deployments' selectors cannot, nor may the active Service's stop matching the live pods.
    selector: { ...(spec.selector?.matchLabels ?? {}) },
  };
  const pods = [...caches.podsOf(owner.namespace, owner.name)].sort((a, b) =>
    (a.metadata?.name ?? "").localeCompare(b.metadata?.name ?? ""),
  );
  const podColor = new Map<string, Color>();
  for (const p of pods) {
    const c = p.metadata?.labels?.[LABEL_COLOR];
    if (isColor(c) && p.metadata?.name !== undefined) podColor.set(p.metadata.name, c);
  }
  const colors: Partial<Record<Color, ColorState>> = {};
  for (const c of COLORS) {
    const dep = caches.deployment(owner.namespace, deploymentName(owner.name, c));
    if (dep !== undefined && dep.metadata?.deletionTimestamp === undefined)
      colors[c] = colorState(c, dep, pods);
  }
  const activeName = activeServiceName(owner.name, spec);
  const previewName = previewServiceName(owner.name, spec);
  const previewEnabled = spec.preview?.enabled ?? true;
  const annotations = meta.annotations ?? {};
  const observed: Observed = {
    name: owner.name,
    namespace: owner.namespace,
    generation,
    spec,
    status: bgd.status ?? {},
    annotations: {
      promote: annotations[ANNOTATION_PROMOTE],
      abort: annotations[ANNOTATION_ABORT],
      paused: annotations[ANNOTATION_PAUSED] === "true",
    },
    deleting: meta.deletionTimestamp !== undefined,
    finalizers: (meta as { finalizers?: readonly string[] }).finalizers ?? [],
    desired,
    colors,
    activeService: serviceState(
      caches.service(owner.namespace, activeName),
      owner,
      desired,
      (c) => renderService(spec, owner, desired, "active", c),
      spec.service?.name !== undefined,
    ),
    previewService: previewEnabled
      ? serviceState(caches.service(owner.namespace, previewName), owner, desired, (c) =>
          renderService(spec, owner, desired, "preview", c),
        )
      : undefined,
    activeEndpoints: endpointCounts(caches.endpointSlicesOf(owner.namespace, activeName), podColor),
    previewEndpoints: previewEnabled
      ? endpointCounts(caches.endpointSlicesOf(owner.namespace, previewName), podColor)
      : { blue: 0, green: 0 },
    ...(spec.strategy?.activeMetadata !== undefined || spec.strategy?.previewMetadata !== undefined
      ? {
          podMetadata: pods
            .filter(
              (p) =>
                p.metadata?.deletionTimestamp === undefined && isColor(p.metadata?.labels?.[LABEL_COLOR]),
            )
            .map((p) => ({
              name: p.metadata?.name ?? "",
              color: p.metadata?.labels?.[LABEL_COLOR] === "green" ? ("green" as const) : ("blue" as const),
              labels: p.metadata?.labels ?? {},
              annotations: p.metadata?.annotations ?? {},
            })),
        }
      : {}),
    pods: pods.slice(0, 40).map((p) => {
      const c = p.metadata?.labels?.[LABEL_COLOR];
      return {
        name: p.metadata?.name ?? "",
        color: isColor(c) ? c : "blue",
        ready: podReady(p),
        ...(p.status?.podIP !== undefined ? { ip: p.status.podIP } : {}),
      };
    }),
  };
  return { ok: true, observed, owner };
}
