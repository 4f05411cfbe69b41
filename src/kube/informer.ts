/**
 * An informer: a read-only cache of one resource kind kept current by list + watch, the basis of every
 * `observe()`. Like client-go's reflector it lists (paged), then watches from the list's
 * resourceVersion with bookmarks; it resumes from the last resourceVersion it saw after a watch ends,
 * relists when the apiserver says that version is gone (410), and retries forever with jittered
 * exponential backoff while the apiserver is unreachable. Quiet periods need no traffic: the watch
 * has no client idle timeout, and the server ends it after a randomized `timeoutSeconds`.
 */
import { ApiError, isGone } from "./api-errors.ts";
import type { ListWatcher, Query, WatchEvent } from "./kube.ts";
import {
  deepFreeze,
  diffRelist,
  isKubeObject,
  type KubeObject,
  type ObjectMeta,
  objectKey,
  olderThan,
  type StoreChange,
  sleep,
} from "./objects.ts";

export { diffRelist, type KubeObject, type ObjectMeta, objectKey, type StoreChange } from "./objects.ts";

/** pino's Logger fits. */
export interface InformerLogger {
  debug(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface InformerOptions {
  readonly source: ListWatcher;
  /** A collection path: `/apis/apps/v1/deployments` (all namespaces) or `/api/v1/namespaces/ns/configmaps`. */
  readonly path: string;
  readonly labelSelector?: string;
  readonly fieldSelector?: string;
  /** Items per list request; default 500. */
  readonly pageSize?: number;
  readonly log?: InformerLogger;
  /** Retry delays while the apiserver fails: default 200 ms doubling to 30 s, ±50 % jitter. */
  readonly backoff?: { readonly initialMs?: number; readonly maxMs?: number };
  /** Source of randomness (jitter, watch timeouts); tests make it deterministic. */
  readonly random?: () => number;
  /**
   * Applied to every object as it arrives (list items and watch events, deletions included), before
   * it is cached and handed to handlers: a controller keeps only the fields it reads, so the cache
   * does not hold `managedFields` and the like for every object in scope. It must keep
   * `metadata.name`, `namespace`, `resourceVersion` and any label `byLabel` is asked for.
   */
  readonly transform?: (obj: KubeObject) => KubeObject;
  /** A type that may not be served (a CRD not installed): a 404 list is an empty synced cache, retried every maxMs. */
  readonly optional?: boolean;
}

class NotServed extends Error {}

export class Informer<T extends KubeObject> {
  readonly #opts: InformerOptions;
  readonly #random: () => number;
  readonly #items = new Map<string, T>();
  readonly #byNamespace = new Map<string, Map<string, T>>();
  /** label key → `namespace\0value` → objects, built on first use of `byLabel`. */
  readonly #labelIndexes = new Map<string, Map<string, Map<string, T>>>();
  readonly #onAdd: ((obj: Readonly<T>) => void)[] = [];
  readonly #onUpdate: ((old: Readonly<T>, obj: Readonly<T>) => void)[] = [];
  readonly #onDelete: ((obj: Readonly<T>) => void)[] = [];
  readonly #abort = new AbortController();
  #syncWaiters: { resolve: () => void; reject: (e: unknown) => void }[] = [];
  #running: Promise<void> | undefined;
  #resourceVersion = "";
  #synced = false;
  #notServed = false;
  /** Events (bookmarks included) the current watch has delivered. */
  #delivered = 0;

  constructor(opts: InformerOptions) {
    this.#opts = opts;
    this.#random = opts.random ?? Math.random;
  }

  onAdd(handler: (obj: Readonly<T>) => void): void {
    this.#beforeStart("onAdd");
    this.#onAdd.push(handler);
  }

  onUpdate(handler: (old: Readonly<T>, obj: Readonly<T>) => void): void {
    this.#beforeStart("onUpdate");
    this.#onUpdate.push(handler);
  }

  /** On a relist the object is the last state the cache saw, not necessarily the final one. */
  onDelete(handler: (obj: Readonly<T>) => void): void {
    this.#beforeStart("onDelete");
    this.#onDelete.push(handler);
  }

  start(): void {
    this.#beforeStart("start");
    this.#running = this.#run();
  }

  /** Aborts in-flight requests; resolves when the informer has stopped. */
  async stop(): Promise<void> {
    this.#abort.abort();
    this.#rejectSyncWaiters(new Error(`informer for ${this.#opts.path} stopped before it synced`));
    await this.#running;
  }

  /** True once the first list is in the cache and its add handlers have run. */
  hasSynced(): boolean {
    return this.#synced;
  }

  async waitForSync(signal?: AbortSignal): Promise<void> {
    if (this.#synced) return;
    if (this.#abort.signal.aborted) throw new Error(`informer for ${this.#opts.path} is stopped`);
    signal?.throwIfAborted();
    await new Promise<void>((resolve, reject) => {
      const onAbort = () => {
        this.#syncWaiters = this.#syncWaiters.filter((w) => w !== waiter);
        reject(signal?.reason);
      };
      const waiter = {
        resolve: () => {
          signal?.removeEventListener("abort", onAbort);
          resolve();
        },
        reject: (e: unknown) => {
          signal?.removeEventListener("abort", onAbort);
          reject(e);
        },
      };
      this.#syncWaiters.push(waiter);
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  /** The newest resourceVersion the cache reflects (from the list, an event or a bookmark). */
  lastSyncResourceVersion(): string {
    return this.#resourceVersion;
  }

  get(namespace: string, name: string): Readonly<T> | undefined {
    return this.#items.get(namespace === "" ? name : `${namespace}/${name}`);
  }

  /** Every cached object, or those of one namespace. */
  list(namespace?: string): Readonly<T>[] {
    if (namespace === undefined) return [...this.#items.values()];
    return [...(this.#byNamespace.get(namespace)?.values() ?? [])];
  }

  size(): number {
    return this.#items.size;
  }

  /**
   * Objects in `namespace` whose label `label` equals `value`, e.g. the Deployments of one BGD
   * (`byLabel(ns, "bluegreen.io/name", "app")`), without scanning the cache. The first call for a
   * label key builds its index; from then on it is kept up to date with every change.
   */
  byLabel(namespace: string, label: string, value: string): Readonly<T>[] {
    let index = this.#labelIndexes.get(label);
    if (index === undefined) {
      index = new Map();
      this.#labelIndexes.set(label, index);
      for (const [key, obj] of this.#items) this.#indexOne(label, index, key, obj, true);
    }
    return [...(index.get(`${namespace}\0${value}`)?.values() ?? [])];
  }

  #beforeStart(what: string): void {
    if (this.#running !== undefined) throw new Error(`informer ${what}() called after start()`);
  }

  async #run(): Promise<void> {
    const signal = this.#abort.signal;
    const initial = this.#opts.backoff?.initialMs ?? 200;
    const max = this.#opts.backoff?.maxMs ?? 30_000;
    const log = this.#opts.log;
    let delay = initial;
    const backOff = async () => {
      await sleep(Math.round(delay * (0.5 + this.#random())), signal);
      delay = Math.min(delay * 2, max);
    };
    let needList = true;
    while (!signal.aborted) {
      let listing = needList;
      const relisted = needList;
      this.#delivered = 0;
      try {
        if (needList) {
          await this.#relist(signal);
          needList = false;
          listing = false;
          delay = initial;
        }
        await this.#watchOnce(signal);
        // A watch that ends with nothing delivered, not even a bookmark, is not healthy.
        if (this.#delivered === 0) await backOff();
        else delay = initial;
      } catch (err) {
        if (signal.aborted) break;
        // A watch that delivered events was healthy until now: this failure starts a new series.
        if (this.#delivered > 0) delay = initial;
        if (err instanceof NotServed) {
          if (!this.#notServed) log?.info({ path: err.message }, "Resource type not served; will list again");
          this.#notServed = true;
          await sleep(max, signal);
          continue;
        }
        if (isGone(err) && !listing) {
          log?.info(
            { path: this.#opts.path, resourceVersion: this.#resourceVersion },
            "Watch expired, relisting",
          );
          needList = true;
          // Expired at once after a fresh list: relisting in a tight loop would not help.
          if (relisted && this.#delivered === 0) await backOff();
          continue;
        }
        log?.warn(
          { path: this.#opts.path, err: err instanceof Error ? err.message : String(err) },
          listing ? "List failed, retrying" : "Watch failed, retrying",
        );
        await backOff();
      }
    }
  }

  /**
   * A full paged list. `resourceVersion` is left unset: the apiserver answers with its most recent
   * state (a consistent read), which is never older than anything this cache saw, so a relist cannot
   * move the cache back in time. Only the first page could carry a resourceVersion; later pages are
   * pinned to the first page's snapshot by their continue token.
   */
  async #relist(signal: AbortSignal): Promise<void> {
    const { path, labelSelector, fieldSelector } = this.#opts;
    const base: Query = { labelSelector, fieldSelector, limit: this.#opts.pageSize ?? 500 };
    const fresh = new Map<string, T>();
    let page = await this.#opts.source.list(path, base, signal).catch((err: unknown) => {
      if (this.#opts.optional !== true || !(err instanceof ApiError) || err.code !== 404) throw err;
      for (const change of diffRelist(this.#items, new Map())) this.#apply(change);
      this.#markSynced();
      throw new NotServed(path);
    });
    this.#notServed = false;
    const resourceVersion = page.resourceVersion;
    for (;;) {
      for (const item of page.items) {
        if (!isKubeObject(item)) continue;
        fresh.set(objectKey(item), this.#cacheable(item));
      }
      if (page.continue === undefined) break;
      page = await this.#opts.source.list(path, { ...base, continue: page.continue }, signal);
    }
    if (signal.aborted) return;
    if (olderThan(resourceVersion, this.#resourceVersion)) {
      throw new Error(
        `list returned resourceVersion ${resourceVersion}, older than ${this.#resourceVersion}`,
      );
    }
    const changes = diffRelist(this.#items, fresh);
    this.#resourceVersion = resourceVersion;
    for (const change of changes) this.#apply(change);
    this.#opts.log?.debug(
      { path, resourceVersion, items: fresh.size, changes: changes.length },
      "Listed resource",
    );
    this.#markSynced();
  }

  #markSynced(): void {
    if (this.#synced) return;
    this.#synced = true;
    for (const w of this.#syncWaiters) w.resolve();
    this.#syncWaiters = [];
  }

  /** One watch request, from the last resourceVersion, until the server or the network ends it. */
  async #watchOnce(signal: AbortSignal): Promise<void> {
    const { path, labelSelector, fieldSelector } = this.#opts;
    // 5–10 minutes, randomized so that many informers do not reconnect in lockstep.
    const timeoutSeconds = 300 + Math.floor(this.#random() * 300);
    const query: Query = {
      resourceVersion: this.#resourceVersion,
      allowWatchBookmarks: true,
      timeoutSeconds,
      labelSelector,
      fieldSelector,
    };
    for await (const ev of this.#opts.source.watch(path, query, signal)) {
      if (signal.aborted) break;
      this.#delivered++;
      this.#handleEvent(ev);
    }
  }

  #handleEvent(ev: WatchEvent): void {
    const meta = ev.object.metadata as ObjectMeta | undefined;
    const rv = typeof meta?.resourceVersion === "string" ? meta.resourceVersion : "";
    // A watch stream is ordered, so this only guards against a server bug moving the cache back.
    if (rv !== "" && olderThan(rv, this.#resourceVersion)) {
      this.#opts.log?.warn({ path: this.#opts.path, rv, last: this.#resourceVersion }, "Ignored stale event");
      return;
    }
    if (ev.type !== "BOOKMARK") {
      if (!isKubeObject(ev.object)) {
        this.#opts.log?.warn({ path: this.#opts.path, type: ev.type }, "Ignored event without a name");
      } else {
        const obj = this.#cacheable(ev.object as unknown as KubeObject);
        const key = objectKey(obj);
        const old = this.#items.get(key);
        if (ev.type === "DELETED") {
          if (old !== undefined) this.#apply({ type: "delete", obj });
        } else if (old === undefined) this.#apply({ type: "add", obj });
        else this.#apply({ type: "update", old, obj });
      }
    }
    if (rv !== "") this.#resourceVersion = rv;
  }

  #cacheable(obj: KubeObject): T {
    const t = this.#opts.transform;
    return deepFreeze((t === undefined ? obj : t(obj)) as T);
  }

  #apply(change: StoreChange<T>): void {
    const key = objectKey(change.obj);
    const ns = change.obj.metadata?.namespace ?? "";
    const previous = change.type === "add" ? undefined : this.#items.get(key);
    if (previous !== undefined)
      for (const [label, index] of this.#labelIndexes) this.#indexOne(label, index, key, previous, false);
    if (change.type === "delete") {
      this.#items.delete(key);
      const inNs = this.#byNamespace.get(ns);
      inNs?.delete(key);
      if (inNs?.size === 0) this.#byNamespace.delete(ns);
    } else {
      this.#items.set(key, change.obj);
      let inNs = this.#byNamespace.get(ns);
      if (inNs === undefined) {
        inNs = new Map();
        this.#byNamespace.set(ns, inNs);
      }
      inNs.set(key, change.obj);
      for (const [label, index] of this.#labelIndexes) this.#indexOne(label, index, key, change.obj, true);
    }
    this.#notify(change);
  }

  #indexOne(label: string, index: Map<string, Map<string, T>>, key: string, obj: T, add: boolean): void {
    const value = obj.metadata?.labels?.[label];
    if (value === undefined) return;
    const slot = `${obj.metadata?.namespace ?? ""}\0${value}`;
    let members = index.get(slot);
    if (add) {
      if (members === undefined) {
        members = new Map();
        index.set(slot, members);
      }
      members.set(key, obj);
    } else {
      members?.delete(key);
      if (members?.size === 0) index.delete(slot);
    }
  }

  #notify(change: StoreChange<T>): void {
    switch (change.type) {
      case "add":
        for (const h of this.#onAdd) this.#call(() => h(change.obj));
        break;
      case "update":
        for (const h of this.#onUpdate) this.#call(() => h(change.old, change.obj));
        break;
      case "delete":
        for (const h of this.#onDelete) this.#call(() => h(change.obj));
        break;
    }
  }

  #call(handler: () => void): void {
    try {
      handler();
    } catch (err) {
      // A handler bug must neither stop the cache from following the cluster nor starve other handlers.
      this.#opts.log?.warn(
        { path: this.#opts.path, err: err instanceof Error ? err.message : String(err) },
        "Event handler failed",
      );
    }
  }

  #rejectSyncWaiters(err: Error): void {
    for (const w of this.#syncWaiters) w.reject(err);
    this.#syncWaiters = [];
  }
}
