/**
 * The rest of a cluster around the in-memory store (memory-api.ts), as plain functions: the
 * Deployment controller (a new template replaces every pod at once), pods becoming ready or failing
 * their probe, the EndpointSlice controller, and people editing the BlueGreenDeployment. The operator
 * under test is the real one: observe → plan → execute through `makeReconciler`, reading caches that
 * are snapshots of the store.
 */
import { pino } from "pino";
import {
  ANNOTATION_PAUSED,
  ANNOTATION_PROMOTE,
  bgdPath,
  deploymentName,
  deploymentPath,
  LABEL_COLOR,
  LABEL_NAME,
  LABEL_REVISION,
  servicePath,
} from "../../../src/api/labels.ts";
import type { Caches } from "../../../src/controller/observe.ts";
import { makeReconciler } from "../../../src/controller/reconciler.ts";
import { clone, type MemoryApi, type Obj, Snapshot } from "./memory-api.ts";
import { NAME, NAMESPACE } from "./observed.ts";

export type Color = "blue" | "green";
export const COLORS: readonly Color[] = ["blue", "green"];
export const KINDS = ["/bluegreendeployments/", "/deployments/", "/services/", "/pods/", "/endpointslices/"];
const SLICE_LABEL = "kubernetes.io/service-name";
export const ACTIVE = NAME;
export const PREVIEW = `${NAME}-preview`;

type Rec = Record<string, unknown>;
const rec = (v: unknown): Rec => (typeof v === "object" && v !== null ? (v as Rec) : {});

export const bgdAt = bgdPath(NAMESPACE, NAME);
export const depAt = (c: Color): string => deploymentPath(NAMESPACE, deploymentName(NAME, c));
const podAt = (name: string): string => `/api/v1/namespaces/${NAMESPACE}/pods/${name}`;
const sliceAt = (svc: string): string =>
  `/apis/discovery.k8s.io/v1/namespaces/${NAMESPACE}/endpointslices/${svc}-slice`;

export function bgd(api: MemoryApi): Obj {
  const o = api.get(bgdAt);
  if (o === undefined) throw new Error("no BlueGreenDeployment");
  return o;
}

/** A person applies the BGD's spec (kubectl apply): generation moves when it changed. */
export function applySpec(api: MemoryApi, spec: Rec): void {
  const old = api.get(bgdAt);
  api.put(bgdAt, {
    apiVersion: "bluegreen.io/v1",
    kind: "BlueGreenDeployment",
    ...(old ?? {}),
    metadata: old?.metadata ?? { name: NAME, namespace: NAMESPACE, resourceVersion: "" },
    spec: clone(spec),
  });
}

/** A person annotates the BGD (`null` removes the key). */
export function annotate(api: MemoryApi, key: string, value: string | null): void {
  const o = clone(bgd(api));
  const annotations = { ...(o.metadata.annotations ?? {}) };
  if (value === null) delete annotations[key];
  else annotations[key] = value;
  o.metadata.annotations = annotations;
  api.put(bgdAt, o);
}

export const statusOf = (api: MemoryApi): Rec => rec(bgd(api).status);

/** The color the active Service selects in the store (the truth about traffic). */
export function liveColor(api: MemoryApi): Color | undefined {
  const sel = rec(rec(api.get(servicePath(NAMESPACE, ACTIVE))?.spec).selector);
  const c = sel[LABEL_COLOR];
  return c === "blue" || c === "green" ? c : undefined;
}

export function templateOf(dep: Obj | undefined): { revision?: string; image?: string } {
  const t = rec(rec(dep?.spec).template);
  const labels = rec(rec(t.metadata).labels);
  const containers = rec(t.spec).containers as { image?: string }[] | undefined;
  return {
    ...(typeof labels[LABEL_REVISION] === "string" ? { revision: labels[LABEL_REVISION] as string } : {}),
    ...(containers?.[0]?.image !== undefined ? { image: containers[0].image } : {}),
  };
}

export const replicasOf = (dep: Obj | undefined): number => Number(rec(dep?.spec).replicas ?? 0);

function podsOf(api: MemoryApi, c: Color): [string, Obj][] {
  return [...api.objects.entries()].filter(
    ([p, o]) => p.includes("/pods/") && o.metadata.labels?.[LABEL_COLOR] === c,
  );
}
const isReady = (pod: Obj): boolean =>
  ((rec(pod.status).conditions ?? []) as Rec[]).some((x) => x.type === "Ready" && x.status === "True");
const setReady = (api: MemoryApi, path: string, pod: Obj, ready: boolean) =>
  api.put(path, { ...pod, status: { conditions: [{ type: "Ready", status: ready ? "True" : "False" }] } });

let podSerial = 0;

/** The Deployment controller for one color: pods to the template and replica count, then status. */
export function deploymentController(api: MemoryApi, c: Color): void {
  const dep = api.get(depAt(c));
  if (dep === undefined) return;
  const { revision } = templateOf(dep);
  const replicas = replicasOf(dep);
  // Every pod of an older template goes at once (maxUnavailable 100%); a terminating pod is never ready.
  for (const [path, pod] of podsOf(api, c)) {
    if (pod.metadata.labels?.[LABEL_REVISION] !== revision) api.objects.delete(path);
  }
  const current = podsOf(api, c).sort(([, a], [, b]) => Number(isReady(a)) - Number(isReady(b)));
  for (const [path] of current.slice(0, Math.max(0, current.length - replicas))) api.objects.delete(path);
  for (let i = current.length; i < replicas; i++) {
    const name = `${deploymentName(NAME, c)}-${podSerial++}`;
    const labels = clone(rec(rec(rec(dep.spec).template).metadata).labels) as Record<string, string>;
    api.put(podAt(name), {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name, namespace: NAMESPACE, resourceVersion: "", labels },
      status: { conditions: [{ type: "Ready", status: "False" }] },
    });
  }
  const pods = podsOf(api, c).map(([, p]) => p);
  const ready = pods.filter(isReady).length;
  api.put(depAt(c), {
    ...dep,
    status: {
      observedGeneration: dep.metadata.generation,
      replicas: pods.length,
      updatedReplicas: pods.length,
      readyReplicas: ready,
      availableReplicas: ready,
    },
  });
}

/** One pod of the color passes its readiness probe (never for a broken image). */
export function podBecomesReady(api: MemoryApi, c: Color, broken: ReadonlySet<string>): void {
  if (broken.has(templateOf(api.get(depAt(c))).image ?? "")) return;
  const found = podsOf(api, c).find(([, p]) => !isReady(p));
  if (found !== undefined) setReady(api, found[0], found[1], true);
}

export function podFails(api: MemoryApi, c: Color): void {
  const found = podsOf(api, c).find(([, p]) => isReady(p));
  if (found !== undefined) setReady(api, found[0], found[1], false);
}

/** The EndpointSlice controller catches up for one Service: its selected pods and their readiness. */
export function endpointsCatchUp(api: MemoryApi, svc: string): void {
  const service = api.get(servicePath(NAMESPACE, svc));
  const selector = rec(rec(service?.spec).selector) as Record<string, string>;
  const selected =
    service === undefined || Object.keys(selector).length === 0
      ? []
      : [...api.objects.values()].filter(
          (o) => o.kind === "Pod" && Object.entries(selector).every(([k, v]) => o.metadata.labels?.[k] === v),
        );
  api.put(sliceAt(svc), {
    apiVersion: "discovery.k8s.io/v1",
    kind: "EndpointSlice",
    metadata: {
      name: `${svc}-slice`,
      namespace: NAMESPACE,
      resourceVersion: "",
      labels: { [SLICE_LABEL]: svc },
    },
    endpoints: selected.map((p) => ({
      conditions: { ready: isReady(p) },
      targetRef: { kind: "Pod", name: p.metadata.name },
    })),
  });
}

/** Everything the cluster would do given time: controllers, every pod that can be ready, the slices. */
export function settle(api: MemoryApi, broken: ReadonlySet<string>): void {
  for (const c of COLORS) {
    deploymentController(api, c);
    for (let i = 0; i < 10; i++) podBecomesReady(api, c, broken);
    deploymentController(api, c);
  }
  endpointsCatchUp(api, ACTIVE);
  endpointsCatchUp(api, PREVIEW);
}

export function cachesOf(snap: Snapshot): { caches: Caches; getBgd: (ns: string, name: string) => unknown } {
  return {
    caches: {
      deployment: (ns, name) => snap.get(deploymentPath(ns, name)),
      service: (ns, name) => snap.get(servicePath(ns, name)),
      podsOf: (ns, name) => snap.list("pods", ns, LABEL_NAME, name),
      endpointSlicesOf: (ns, svc) => snap.list("endpointslices", ns, SLICE_LABEL, svc),
    },
    getBgd: (ns, name) => snap.get(bgdPath(ns, name)),
  };
}

/** A fresh operator process (a crash forgets what the last one remembered). */
export function newOperator(api: MemoryApi, snap: Snapshot, now: () => number) {
  const { caches, getBgd } = cachesOf(snap);
  return makeReconciler({
    client: api,
    caches,
    getBgd,
    now,
    log: pino({ level: "silent" }),
    instance: "test",
  });
}

export function newSnapshot(api: MemoryApi): Snapshot {
  const snap = new Snapshot(api);
  for (const k of KINDS) snap.sync(k);
  return snap;
}

export const isPaused = (o: Obj | undefined): boolean =>
  rec(o?.spec).paused === true || o?.metadata.annotations?.[ANNOTATION_PAUSED] === "true";
/** A person approves a revision (kubectl bluegreen promote); approving it again changes nothing. */
export function approve(api: MemoryApi, revision: string): void {
  if (bgd(api).metadata.annotations?.[ANNOTATION_PROMOTE] !== revision)
    annotate(api, ANNOTATION_PROMOTE, revision);
}
