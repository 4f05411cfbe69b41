/**
 * observe(): reads the informer caches only (never the API) and extracts the facts of one
 * BlueGreenDeployment and what it owns. It renders nothing and decides nothing: judging a Service
 * against the one we would write is the domain's (bluegreen/services.ts), deciding is plan()'s.
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
  ANNOTATION_PROMOTE_STEP,
  ANNOTATION_SCALE_DOWN_AT,
  ANNOTATION_SPEC_HASH,
  ANNOTATION_TEMPLATE,
  activeServiceName,
  DEFAULTS,
  deploymentName,
  LABEL_COLOR,
  LABEL_REVISION,
  previewServiceName,
} from "../api/labels.ts";
import type { BlueGreenDeployment } from "../api/schema.ts";
import type { Measurement } from "../bluegreen/gates/measurement.ts";
import type { Owner } from "../bluegreen/render.ts";
import { type ServiceFacts, serviceState } from "../bluegreen/services.ts";
import {
  ANNOTATION_ORIGINAL_SELECTOR,
  COLORS,
  type Color,
  type ColorState,
  type Desired,
  type EndpointCounts,
  type Observed,
  type PodTemplate,
} from "../bluegreen/types.ts";
import { deepFreeze } from "../kube/objects.ts";
import { type HTTPRouteObj, routeState } from "./observe-route.ts";

/** The shapes we read from cached objects (plain JSON as the API returns it). */
export type { HTTPRouteObj };

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
  /** specHashOf(spec) as stored, set by the cache's slimming (slim.ts), which keeps only part of the spec. */
  readonly specHash?: string;
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
    readonly clusterIP?: string;
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
  /** An HTTPRoute by name; absent where no HTTPRoute informer runs (then a named route reads as missing). */
  httpRoute?(namespace: string, name: string): HTTPRouteObj | undefined;
  /** Jobs labelled bluegreen.io/name=<bgd> (gate checks); absent where no Job informer runs. */
  jobsOf?(namespace: string, bgd: string): readonly KObject[];
  /** A finished gate measurement the gate runner holds (not a cache, but read the same way: no I/O). */
  gateResult?(id: string): Measurement | undefined;
}

export type Observation =
  | { readonly ok: true; readonly observed: Observed; readonly owner: Owner }
  | { readonly ok: false; readonly message: string; readonly owner: Owner; readonly generation: number };

/** A Service's ClusterIP, for gate URLs where there is no cluster DNS ("None" for headless: none). */
const clusterIP = (svc: ServiceObj | undefined): string | undefined => {
  const ip = svc?.spec?.clusterIP;
  return ip === undefined || ip === "" || ip === "None" ? undefined : ip;
};
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
  let readyPods = 0;
  let staleReadyPods = 0;
  for (const p of pods) {
    if (p.metadata?.labels?.[LABEL_COLOR] !== color || !podReady(p)) continue;
    if (p.metadata?.labels?.[LABEL_REVISION] === revision) readyPods++;
    else staleReadyPods++;
  }
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
    staleReadyPods,
    scaleDownAt: parseDeadline(dep.metadata?.annotations?.[ANNOTATION_SCALE_DOWN_AT]),
    specHash: dep.specHash ?? specHashOf(dep.spec),
    ...(dep.metadata?.annotations?.[ANNOTATION_SPEC_HASH] !== undefined
      ? { recordedSpecHash: dep.metadata.annotations[ANNOTATION_SPEC_HASH] }
      : {}),
  };
}

/** The facts of a cached Service that the domain judges (bluegreen/services.ts). */
function serviceFacts(svc: ServiceObj | undefined): ServiceFacts | undefined {
  if (svc === undefined) return undefined;
  const original = svc.metadata?.annotations?.[ANNOTATION_ORIGINAL_SELECTOR];
  return {
    ...(svc.spec?.selector !== undefined ? { selector: svc.spec.selector } : {}),
    ...(svc.spec?.type !== undefined ? { type: svc.spec.type } : {}),
    ...(svc.spec?.sessionAffinity !== undefined ? { sessionAffinity: svc.spec.sessionAffinity } : {}),
    ports: (svc.spec?.ports ?? []).map((p) => ({
      name: p.name,
      protocol: p.protocol ?? "TCP",
      port: p.port,
      targetPort: p.targetPort,
    })),
    labels: svc.metadata?.labels ?? {},
    annotations: svc.metadata?.annotations ?? {},
    ...(original !== undefined ? { originalSelector: original } : {}),
  };
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

type SpecRead =
  | { readonly ok: true; readonly bgd: BlueGreenDeployment; readonly desired: Desired }
  | { readonly ok: false; readonly message: string };

/**
 * What a BGD object says, parsed (schema, defaults, rules) and expanded into its desired template and
 * revision, once per object the cache holds: cached objects are frozen and replaced, never changed, so
 * the object itself is the key. Reconciles of an unchanged BGD (a pod or endpoint changed) then skip
 * the parse, which was a tenth of the operator's CPU at fleet size.
 */
const specReads = new WeakMap<object, SpecRead>();

function readSpec(raw: unknown): SpecRead {
  const cacheable = typeof raw === "object" && raw !== null && Object.isFrozen(raw);
  const known = cacheable ? specReads.get(raw) : undefined;
  if (known !== undefined) return known;
  const parsed = parseBlueGreenDeployment(raw);
  let read: SpecRead;
  if (!parsed.ok) read = { ok: false, message: parsed.message };
  else {
    const bgd: BlueGreenDeployment = parsed.value;
    const template = desiredPodTemplate(bgd) as PodTemplate;
    read = {
      ok: true,
      bgd,
      desired: {
        template,
        revision: revisionOf(template),
        canonical: canonicalJson(template),
        image: imagesOf(template),
        // Only the explicit (immutable) selector: template labels may change between revisions, and
        // the Deployments' selectors cannot, nor may the active Service's stop matching the live pods.
        selector: { ...(bgd.spec.selector?.matchLabels ?? {}) },
      },
    };
  }
  // Shared by every reconcile of this object version: frozen, so a planner that mutated it would throw.
  if (cacheable) specReads.set(raw, deepFreeze(read));
  return read;
}

export function observe(raw: unknown, caches: Caches): Observation {
  const meta = (raw as KObject).metadata ?? {};
  const owner: Owner = { name: meta.name ?? "", namespace: meta.namespace ?? "", uid: meta.uid ?? "" };
  const generation = meta.generation ?? 0;
  const read = readSpec(raw);
  if (!read.ok) return { ok: false, message: read.message, owner, generation };
  const { bgd, desired } = read;
  const spec = bgd.spec;
  // Code-unit order, not localeCompare: pod names are DNS labels, and collation would load ICU's data.
  const pods = [...caches.podsOf(owner.namespace, owner.name)].sort((a, b) => {
    const x = a.metadata?.name ?? "";
    const y = b.metadata?.name ?? "";
    return x < y ? -1 : x > y ? 1 : 0;
  });
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
  const previewEnabled = spec.preview?.enabled ?? DEFAULTS.previewEnabled;
  const annotations = meta.annotations ?? {};
  const observed: Observed = {
    name: owner.name,
    namespace: owner.namespace,
    uid: owner.uid,
    generation,
    spec,
    status: bgd.status ?? {},
    annotations: {
      promote: annotations[ANNOTATION_PROMOTE],
      abort: annotations[ANNOTATION_ABORT],
      paused: annotations[ANNOTATION_PAUSED] === "true",
      promoteStep: annotations[ANNOTATION_PROMOTE_STEP],
    },
    deleting: meta.deletionTimestamp !== undefined,
    finalizers: (meta as { finalizers?: readonly string[] }).finalizers ?? [],
    desired,
    colors,
    activeService: serviceState(serviceFacts(caches.service(owner.namespace, activeName)), {
      owner,
      spec,
      desired,
      role: "active",
    }),
    previewService: previewEnabled
      ? serviceState(serviceFacts(caches.service(owner.namespace, previewName)), {
          owner,
          spec,
          desired,
          role: "preview",
        })
      : undefined,
    activeEndpoints: endpointCounts(caches.endpointSlicesOf(owner.namespace, activeName), podColor),
    previewEndpoints: previewEnabled
      ? endpointCounts(caches.endpointSlicesOf(owner.namespace, previewName), podColor)
      : { blue: 0, green: 0 },
    ...(spec.trafficRouting !== undefined
      ? {
          route: routeState(
            spec.trafficRouting.httpRoute.name,
            caches.httpRoute?.(owner.namespace, spec.trafficRouting.httpRoute.name),
            owner.name,
            owner.namespace,
            { active: activeName, preview: previewName },
          ),
        }
      : {}),
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
    ...(spec.gates !== undefined
      ? {
          gates: {
            result: (id: string) => currentResult(id, caches.gateResult?.(id), bgd.status?.gates ?? []),
            jobs: new Map(
              (caches.jobsOf?.(owner.namespace, owner.name) ?? []).map(
                (j) => [j.metadata?.name ?? "", j] as const,
              ),
            ),
            activeServiceIP: clusterIP(caches.service(owner.namespace, activeName)),
            previewServiceIP: previewEnabled
              ? clusterIP(caches.service(owner.namespace, previewName))
              : undefined,
          },
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

/**
 * A result the gate runner holds counts only for the check record it was measured for. One that started
 * before the stored record did (or for a check with no record) is left over from an earlier run of the check:
 * `kubectl bluegreen retry` removed an Inconclusive record, or a reconcile on a cache behind our own status
 * write had asked for an index again. Folding it would decide the new run with the old answer; measuring
 * again is what a new run means. (A result is always asked for after its record was written, so a current one
 * never starts before it.)
 */
export function currentResult(
  id: string,
  held: Measurement | undefined,
  records: readonly { readonly name: string; readonly revision: string; readonly startedAt?: string }[],
): Measurement | undefined {
  if (held === undefined) return undefined;
  // <uid>/<revision>/<check>/<index> (measurementId); check names hold no "/".
  const [, revision, check] = id.split("/");
  const record = records.find((r) => r.name === check && r.revision === revision);
  if (record?.startedAt === undefined) return undefined;
  return Date.parse(held.startedAt) >= Date.parse(record.startedAt) ? held : undefined;
}
