/**
 * A fleet of BlueGreenDeployments for the real controller (informers, work queue, reconciler) with no
 * cluster: the in-memory store (memory-api.ts) served as list + watch, a fake clock for the work queue
 * and the watches' server-side timeouts, and a kwok-like cluster around it (pods ready at once).
 *
 * The watch follows the API server where the informer's behaviour depends on it: events after the
 * resourceVersion asked for, a BOOKMARK and the end of the stream at the request's `timeoutSeconds`,
 * and 410 Gone for a resourceVersion older than the last compaction (the informer then relists).
 */
import { bgdPath, LABEL_NAME } from "../../../src/api/labels.ts";
import type { ControllerClient } from "../../../src/controller/controller.ts";
import { ApiError } from "../../../src/kube/api-errors.ts";
import type { ListPage, Query, WatchEvent } from "../../../src/kube/kube.ts";
import type { Clock } from "../../../src/kube/workqueue.ts";
import { clone, MemoryApi, type Obj } from "./memory-api.ts";

type Rec = Record<string, unknown>;
const rec = (v: unknown): Rec => (typeof v === "object" && v !== null ? (v as Rec) : {});

interface Timer {
  readonly at: number;
  readonly seq: number;
  readonly fn: () => void;
  live: boolean;
}

/** A clock whose time moves only when the test says; timers fire in time order (a binary heap). */
export class FakeClock implements Clock {
  #now = 0;
  #seq = 0;
  readonly #heap: Timer[] = [];

  now(): number {
    return this.#now;
  }

  schedule(fn: () => void, ms: number): () => void {
    const t = { at: this.#now + Math.max(0, ms), seq: this.#seq++, fn, live: true };
    this.#push(t);
    return () => {
      t.live = false;
    };
  }

  /** Live timers (the work queue's delayed adds among them). */
  pending(): number {
    return this.#heap.filter((t) => t.live).length;
  }

  /** When the next live timer fires, if any. */
  nextAt(): number | undefined {
    while (this.#heap.length > 0 && !this.#heap[0]?.live) this.#pop();
    return this.#heap[0]?.at;
  }

  /** Moves to the next timer at or before `until` and fires it; false when there is none. */
  fireNext(until: number): boolean {
    const at = this.nextAt();
    if (at === undefined || at > until) return false;
    const t = this.#pop();
    if (t === undefined) return false;
    this.#now = Math.max(this.#now, t.at);
    t.fn();
    return true;
  }

  advanceTo(t: number): void {
    this.#now = Math.max(this.#now, t);
  }

  #less(i: number, j: number): boolean {
    const a = this.#heap[i];
    const b = this.#heap[j];
    if (a === undefined || b === undefined) return false;
    return a.at < b.at || (a.at === b.at && a.seq < b.seq);
  }
  #swap(i: number, j: number): void {
    const h = this.#heap;
    [h[i], h[j]] = [h[j] as Timer, h[i] as Timer];
  }
  #push(t: Timer): void {
    this.#heap.push(t);
    let i = this.#heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.#less(i, parent)) break;
      this.#swap(i, parent);
      i = parent;
    }
  }
  #pop(): Timer | undefined {
    const h = this.#heap;
    const top = h[0];
    const last = h.pop();
    if (h.length > 0 && last !== undefined) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && this.#less(l, m)) m = l;
        if (r < h.length && this.#less(r, m)) m = r;
        if (m === i) break;
        this.#swap(i, m);
        i = m;
      }
    }
    return top;
  }
}

/** `/apis/apps/v1/namespaces/ns/deployments/x` and `/apis/apps/v1/deployments` → `/apis/apps/v1|deployments`. */
function collectionOf(path: string): { kind: string; name: string | undefined } {
  const parts = path.split("/");
  const at = parts.indexOf("namespaces");
  if (at < 0) return { kind: `${parts.slice(0, -1).join("/")}|${parts.at(-1)}`, name: undefined };
  return { kind: `${parts.slice(0, at).join("/")}|${parts[at + 2]}`, name: parts[at + 3] };
}

function matchesSelector(obj: Obj, selector: unknown): boolean {
  if (typeof selector !== "string" || selector === "") return true;
  const labels = obj.metadata.labels ?? {};
  return selector.split(",").every((term) => {
    const [k, v] = term.split("=");
    return v === undefined ? k !== undefined && k in labels : labels[k ?? ""] === v;
  });
}

interface Subscriber {
  readonly kind: string;
  readonly selector: unknown;
  readonly buffer: WatchEvent[];
  head: number;
  readonly endAt: number;
  ended: boolean;
  error: unknown;
  wake: (() => void) | undefined;
}

/** The store, with every change recorded as a watch event (until compacted). */
export class FleetApi extends MemoryApi {
  readonly clock: FakeClock;
  readonly #subs = new Set<Subscriber>();
  readonly #history: { rv: number; kind: string; ev: WatchEvent; obj: Obj }[] = [];
  #compactedAt = 0;
  /** Watches answered 410 (each one makes an informer relist). */
  gone = 0;

  constructor(clock: FakeClock) {
    super();
    this.clock = clock;
  }

  override put(path: string, obj: Obj): Obj {
    const existed = this.objects.has(path);
    const stored = super.put(path, obj);
    this.#emit(path, existed ? "MODIFIED" : "ADDED", stored);
    return stored;
  }

  remove(path: string): void {
    const old = this.objects.get(path);
    if (old === undefined) return;
    this.objects.delete(path);
    const gone = clone(old);
    gone.metadata.resourceVersion = this.nextVersion();
    this.#emit(path, "DELETED", gone);
  }

  /** etcd compaction: a watch resumed from before now gets 410 Gone; open watches carry on. */
  trim(): void {
    this.#history.length = 0;
    this.#compactedAt = Number(this.nextVersion());
  }

  /** Compaction with the watch cache lost as well (an API server restart): every open watch gets 410. */
  compact(): void {
    this.trim();
    for (const s of this.#subs) {
      s.error = new ApiError("GET", s.kind, 410, { reason: "Expired", message: "too old resource version" });
      s.wake?.();
    }
  }

  /** Ends the watches whose `timeoutSeconds` ran out (the server closes them after a bookmark). */
  expireWatches(): void {
    for (const s of this.#subs) {
      if (s.ended || s.endAt > this.clock.now()) continue;
      s.buffer.push({ type: "BOOKMARK", object: { metadata: { resourceVersion: this.#currentRv() } } });
      s.ended = true;
      s.wake?.();
    }
  }

  /** Every event a watch has not yet delivered to its informer. */
  undelivered(): number {
    let n = 0;
    for (const s of this.#subs) n += s.buffer.length - s.head;
    return n;
  }

  #currentRv(): string {
    const rv = this.nextVersion();
    return rv;
  }

  #emit(path: string, type: "ADDED" | "MODIFIED" | "DELETED", stored: Obj): void {
    const { kind } = collectionOf(path);
    const object = clone(stored);
    const ev: WatchEvent = { type, object };
    this.#history.push({ rv: Number(stored.metadata.resourceVersion), kind, ev, obj: object });
    for (const s of this.#subs) {
      if (s.kind !== kind || s.ended || s.error !== undefined || !matchesSelector(object, s.selector))
        continue;
      s.buffer.push(ev);
      s.wake?.();
    }
  }

  /** What the controller calls: list, watch and get served from the store; writes go to it. */
  client(): ControllerClient {
    return {
      apply: (path, body) => this.apply(path, body),
      patch: (path, body, type) => this.patch(path, body, type ?? "merge"),
      replace: (path, body) => this.replace(path, body),
      create: (path, body) => this.create(path, body),
      get: async <T>(path: string): Promise<T> => {
        const obj = this.get(path);
        if (obj === undefined) throw new ApiError("GET", path, 404, { reason: "NotFound", message: path });
        return clone(obj) as unknown as T;
      },
      // Like kwok's nodes, the in-memory store serves no pod logs.
      getText: async (path: string): Promise<string> => {
        throw new ApiError("GET", path, 404, { reason: "NotFound", message: "no logs here" });
      },
      list: async (path: string, query: Query): Promise<ListPage> => {
        const { kind } = collectionOf(path);
        const items: Obj[] = [];
        for (const [p, o] of this.objects)
          if (collectionOf(p).kind === kind && matchesSelector(o, query.labelSelector)) items.push(clone(o));
        return { items, resourceVersion: this.#currentRv(), continue: undefined };
      },
      watch: (path: string, query: Query, signal?: AbortSignal) => this.#watch(path, query, signal),
    };
  }

  async *#watch(path: string, query: Query, signal?: AbortSignal): AsyncGenerator<WatchEvent> {
    const { kind } = collectionOf(path);
    const from = Number(query.resourceVersion ?? 0);
    if (from < this.#compactedAt) {
      this.gone++;
      throw new ApiError("GET", path, 410, { reason: "Expired", message: "too old resource version" });
    }
    const sub: Subscriber = {
      kind,
      selector: query.labelSelector,
      buffer: [],
      head: 0,
      endAt: this.clock.now() + Number(query.timeoutSeconds ?? 1800) * 1000,
      ended: false,
      error: undefined,
      wake: undefined,
    };
    for (const h of this.#history)
      if (h.rv > from && h.kind === kind && matchesSelector(h.obj, sub.selector)) sub.buffer.push(h.ev);
    this.#subs.add(sub);
    const onAbort = () => sub.wake?.();
    signal?.addEventListener("abort", onAbort);
    try {
      for (;;) {
        while (sub.head < sub.buffer.length && signal?.aborted !== true) {
          const ev = sub.buffer[sub.head++] as WatchEvent;
          yield ev;
        }
        if (sub.error !== undefined) {
          this.gone++;
          throw sub.error;
        }
        if (sub.ended || signal?.aborted === true) return;
        await new Promise<void>((resolve) => {
          sub.wake = resolve;
        });
        sub.wake = undefined;
      }
    } finally {
      signal?.removeEventListener("abort", onAbort);
      this.#subs.delete(sub);
    }
  }
}

// ---------------------------------------------------------------------------------------------------------
// The cluster around the operator, kwok-like: pods are created Ready at once, no probes, no delays.

const podsPath = (ns: string, name: string) => `/api/v1/namespaces/${ns}/pods/${name}`;
const slicePath = (ns: string, svc: string) =>
  `/apis/discovery.k8s.io/v1/namespaces/${ns}/endpointslices/${svc}`;

/** The namespace of BGD `i`: a hundred per namespace, as teams would have them. */
export const fleetNamespace = (i: number): string => `team-${Math.floor(i / 100)}`;
export const fleetName = (i: number): string => `app-${i}`;

/** A person applies BGD `i`: one replica of one image, automatic promotion (as the bench runs it). */
export function createBgd(api: MemoryApi, i: number): void {
  const ns = fleetNamespace(i);
  const name = fleetName(i);
  api.put(bgdPath(ns, name), {
    apiVersion: "bluegreen.io/v1",
    kind: "BlueGreenDeployment",
    metadata: { name, namespace: ns, resourceVersion: "" },
    spec: { replicas: 1, image: "registry.local/app:v1", strategy: { promotion: { mode: "Auto" } } },
  });
}

const sameJson = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/** Which Deployment and template each pod came from (the ReplicaSet's knowledge, kept off the pod). */
const podOrigin = new WeakMap<FleetApi, Map<string, { owner: string; template: string }>>();

function push<K, V>(m: Map<K, V[]>, k: K, v: V): void {
  const list = m.get(k);
  if (list === undefined) m.set(k, [v]);
  else list.push(v);
}

/**
 * The Deployment controller, the ReplicaSets, kwok and the EndpointSlice controller, caught up: every
 * Deployment has its replicas of its template, Ready; every Service's slice lists the pods it selects.
 * Writes only what differs, as those controllers do. Returns how many objects it wrote.
 */
export function clusterCatchUp(api: FleetApi): number {
  let writes = 0;
  let origin = podOrigin.get(api);
  if (origin === undefined) {
    origin = new Map();
    podOrigin.set(api, origin);
  }
  const pods = new Map<string, [string, Obj][]>();
  for (const [p, o] of api.objects) {
    if (o.kind !== "Pod") continue;
    push(pods, origin.get(p)?.owner ?? "", [p, o]);
  }
  const deployments = [...api.objects.entries()].filter(([, o]) => o.kind === "Deployment");
  for (const [depPath, dep] of deployments) {
    const spec = rec(dep.spec);
    const replicas = Number(spec.replicas ?? 0);
    const template = rec(spec.template);
    const labels = rec(rec(template.metadata).labels) as Record<string, string>;
    const hash = JSON.stringify(template);
    const ns = dep.metadata.namespace;
    let mine = pods.get(depPath) ?? [];
    for (const [p] of mine) {
      if (origin.get(p)?.template !== hash) {
        api.remove(p);
        writes++;
      }
    }
    mine = mine.filter(([p]) => origin.get(p)?.template === hash);
    for (const [p] of mine.slice(replicas)) {
      api.remove(p);
      writes++;
    }
    for (let i = mine.length; i < replicas; i++) {
      const name = `${dep.metadata.name}-${api.nextVersion()}`;
      origin.set(podsPath(ns, name), { owner: depPath, template: hash });
      api.put(podsPath(ns, name), {
        apiVersion: "v1",
        kind: "Pod",
        metadata: {
          name,
          namespace: ns,
          resourceVersion: "",
          labels: clone(labels),
        },
        status: {
          phase: "Running",
          podIP: `10.0.${writes % 250}.${i + 1}`,
          conditions: [{ type: "Ready", status: "True", lastProbeTime: null }],
        },
      });
      writes++;
    }
    const n = replicas;
    const status = {
      observedGeneration: dep.metadata.generation,
      replicas: n,
      updatedReplicas: n,
      readyReplicas: n,
      availableReplicas: n,
    };
    if (!sameJson(dep.status, status)) {
      api.put(depPath, { ...dep, status });
      writes++;
    }
  }
  const podsByNs = new Map<string, Obj[]>();
  for (const o of api.objects.values()) if (o.kind === "Pod") push(podsByNs, o.metadata.namespace, o);
  const services = [...api.objects.values()].filter((o) => o.kind === "Service");
  for (const svc of services) {
    const ns = svc.metadata.namespace;
    const selector = rec(rec(svc.spec).selector) as Record<string, string>;
    const selected =
      Object.keys(selector).length === 0
        ? []
        : (podsByNs.get(ns) ?? []).filter((p) =>
            Object.entries(selector).every(([k, v]) => p.metadata.labels?.[k] === v),
          );
    const endpoints = selected.map((p) => ({
      addresses: [rec(p.status).podIP],
      conditions: { ready: true },
      targetRef: { kind: "Pod", name: p.metadata.name, namespace: ns },
    }));
    const path = slicePath(ns, svc.metadata.name);
    const old = api.get(path);
    if (old !== undefined && sameJson(old.endpoints, endpoints)) continue;
    api.put(path, {
      apiVersion: "discovery.k8s.io/v1",
      kind: "EndpointSlice",
      metadata: {
        name: svc.metadata.name,
        namespace: ns,
        resourceVersion: "",
        labels: {
          "kubernetes.io/service-name": svc.metadata.name,
          ...(svc.metadata.labels?.[LABEL_NAME] !== undefined
            ? { [LABEL_NAME]: svc.metadata.labels[LABEL_NAME] }
            : {}),
        },
      },
      endpoints,
    });
    writes++;
  }
  return writes;
}

/** kwok-like status churn on one pod: a probe time moves, readiness does not. */
export function podHeartbeat(api: FleetApi, path: string): void {
  const pod = api.get(path);
  if (pod === undefined) return;
  const status = rec(pod.status);
  const conditions = (status.conditions as Rec[] | undefined) ?? [];
  api.put(path, {
    ...pod,
    status: {
      ...status,
      conditions: conditions.map((c) => ({ ...c, lastProbeTime: new Date(api.clock.now()).toISOString() })),
    },
  });
}
