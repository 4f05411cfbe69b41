/**
 * The dashboard's view of the cluster: informers (list + watch, resumed after the API server restarts)
 * over the BGDs in scope and the objects that belong to them, with the user's own credentials. Every
 * change calls `onChange`; how the requests fare is kept as the `Connection` the page shows.
 */

import { setTimeout as sleep } from "node:timers/promises";
import { LABEL_NAME, PLURAL } from "../api/labels.ts";
import { rec, str } from "../cli/objects.ts";
import { ApiError, TransportError } from "../kube/api-errors.ts";
import { Informer, type KubeObject } from "../kube/informer.ts";
import type { ListPage, ListWatcher, Query, WatchEvent } from "../kube/kube.ts";
import type { Related } from "./model.ts";
import type { Connection } from "./view.ts";

type Failure = { readonly kind: "unreachable" | "refused"; readonly message: string };

/**
 * Passes list and watch through, remembering per collection whether its last request succeeded, so the
 * page can say "disconnected" while the API server is away and name a kind the user may not read.
 */
export class ObservedSource implements ListWatcher {
  readonly #inner: ListWatcher;
  readonly #server: string;
  readonly #failures = new Map<string, Failure>();
  readonly #onChange: () => void;
  readonly #signal: AbortSignal;
  readonly #probing = new Set<string>();

  constructor(inner: ListWatcher, server: string, onChange: () => void, signal: AbortSignal) {
    this.#inner = inner;
    this.#server = server;
    this.#onChange = onChange;
    this.#signal = signal;
  }

  async list(path: string, query: Query, signal?: AbortSignal): Promise<ListPage> {
    try {
      const page = await this.#inner.list(path, query, signal);
      this.#succeeded(path);
      return page;
    } catch (err) {
      this.#failed(path, err);
      throw err;
    }
  }

  async *watch(path: string, query: Query, signal?: AbortSignal): AsyncIterable<WatchEvent> {
    try {
      for await (const ev of this.#inner.watch(path, query, signal)) {
        this.#succeeded(path);
        yield ev;
      }
    } catch (err) {
      this.#failed(path, err);
      throw err;
    }
  }

  #succeeded(path: string): void {
    if (this.#failures.delete(path)) this.#onChange();
  }

  #failed(path: string, err: unknown): void {
    // 410: the watch's resourceVersion expired; the informer relists at once, nothing is wrong.
    if (err instanceof ApiError && err.code === 410) return;
    if (signalAborted(err)) return;
    const failure: Failure =
      err instanceof ApiError && err.code < 500
        ? {
            kind: "refused",
            message: `Error from server (${err.reason}): ${str(rec(err.status).message) ?? err.message}`,
          }
        : {
            kind: "unreachable",
            message: `cannot reach the Kubernetes API server at ${this.#server}: ${cause(err)}`,
          };
    const before = this.#failures.get(path);
    this.#failures.set(path, failure);
    if (before?.message !== failure.message) this.#onChange();
    if (failure.kind === "unreachable") this.#probe(path);
  }

  /**
   * A watch re-established after an outage says nothing until an object changes, so the page would stay
   * "disconnected" through a quiet period. While a collection is unreachable, one small list a second
   * tells when the API server answers again.
   */
  #probe(path: string): void {
    if (this.#probing.has(path)) return;
    this.#probing.add(path);
    void (async () => {
      while (this.#failures.get(path)?.kind === "unreachable" && !this.#signal.aborted) {
        await sleep(1000, undefined, { signal: this.#signal }).catch(() => {});
        if (this.#signal.aborted) break;
        try {
          await this.#inner.list(path, { limit: 1 }, this.#signal);
          this.#succeeded(path);
        } catch {
          // Still away; the informer reports its own failures.
        }
      }
      this.#probing.delete(path);
    })();
  }

  connection(synced: boolean): Connection {
    const failures = [...this.#failures.values()];
    const unreachable = failures.find((f) => f.kind === "unreachable");
    if (unreachable !== undefined) return { ok: false, message: unreachable.message };
    const refused = [...new Set(failures.map((f) => f.message))];
    if (refused.length > 0) return { ok: true, message: refused.join("; ") };
    return synced
      ? { ok: true, message: "" }
      : { ok: false, message: "connecting to the API server…", connecting: true };
  }
}

/** "GET /apis/...: request failed: fetch failed: connect ECONNREFUSED ..." → "connect ECONNREFUSED ...". */
const cause = (err: unknown): string =>
  err instanceof TransportError || err instanceof ApiError
    ? err.message.replace(/^\S+ \S+: /, "").replace(/^(request failed: )?(fetch failed: )?/, "")
    : String(err);

const signalAborted = (err: unknown): boolean => err instanceof Error && err.name === "AbortError";

export interface WatchScope {
  /** undefined: all namespaces. */
  readonly namespace: string | undefined;
}

const nsPart = (n: string | undefined) => (n === undefined ? "" : `/namespaces/${n}`);
type Obj = KubeObject & Readonly<Record<string, unknown>>;

export class ClusterWatch {
  readonly #source: ObservedSource;
  readonly #bgds: Informer<Obj>;
  readonly #deployments: Informer<Obj>;
  readonly #pods: Informer<Obj>;
  readonly #services: Informer<Obj>;
  readonly #slices: Informer<Obj>;
  readonly #events: Informer<Obj>;
  readonly #all: Informer<Obj>[];
  readonly #stop = new AbortController();

  constructor(client: ListWatcher, server: string, scope: WatchScope, onChange: () => void) {
    this.#source = new ObservedSource(client, server, onChange, this.#stop.signal);
    const n = nsPart(scope.namespace);
    const make = (path: string, selector: { labelSelector?: string; fieldSelector?: string } = {}) => {
      const i = new Informer<Obj>({
        source: this.#source,
        path,
        ...selector,
        // Reconnect quickly after an API server restart: a person is looking at the page.
        backoff: { initialMs: 200, maxMs: 5000 },
      });
      i.onAdd(onChange);
      i.onUpdate(onChange);
      i.onDelete(onChange);
      return i;
    };
    const owned = { labelSelector: LABEL_NAME };
    this.#bgds = make(`/apis/bluegreen.io/v1${n}/${PLURAL}`);
    this.#deployments = make(`/apis/apps/v1${n}/deployments`, owned);
    this.#pods = make(`/api/v1${n}/pods`, owned);
    // Our Services carry bluegreen.io/name, adopted ones too once the operator has adopted them; their
    // EndpointSlices inherit the Service's labels.
    this.#services = make(`/api/v1${n}/services`, owned);
    this.#slices = make(`/apis/discovery.k8s.io/v1${n}/endpointslices`, owned);
    this.#events = make(`/api/v1${n}/events`, { fieldSelector: "involvedObject.kind=BlueGreenDeployment" });
    this.#all = [this.#bgds, this.#deployments, this.#pods, this.#services, this.#slices, this.#events];
  }

  start(): void {
    for (const i of this.#all) i.start();
  }

  async stop(): Promise<void> {
    this.#stop.abort();
    await Promise.all(this.#all.map((i) => i.stop()));
  }

  connection(): Connection {
    // Until every kind has been listed once, a BGD would show without its pods or Services.
    return this.#source.connection(this.#all.every((i) => i.hasSynced()));
  }

  bgds(): readonly Obj[] {
    return this.#bgds.list();
  }

  bgd(namespace: string, name: string): Obj | undefined {
    return this.#bgds.get(namespace, name);
  }

  related(namespace: string, name: string, serviceNames: readonly string[]): Related {
    const services: Record<string, unknown> = {};
    const endpointSlices: Record<string, readonly unknown[]> = {};
    for (const svc of serviceNames) {
      const got = this.#services.get(namespace, svc);
      if (got !== undefined) services[svc] = got;
      endpointSlices[svc] = this.#slices.byLabel(namespace, "kubernetes.io/service-name", svc);
    }
    const events = this.#events
      .list(namespace)
      .filter(
        (e) => rec(e.involvedObject).name === name && rec(e.involvedObject).kind === "BlueGreenDeployment",
      );
    return {
      deployments: this.#deployments.byLabel(namespace, LABEL_NAME, name),
      pods: this.#pods.byLabel(namespace, LABEL_NAME, name),
      events,
      services,
      endpointSlices,
    };
  }
}
