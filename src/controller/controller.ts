/**
 * The BlueGreenDeployment controller: informers for the BGDs and everything they own, a work queue
 * of BGD keys, and the reconciler. Events only decide which key to enqueue.
 */
import type { Logger } from "pino";
import { LABEL_MANAGED_BY, LABEL_NAME, MANAGED_BY, PLURAL } from "../api/labels.ts";
import { Informer, type KubeObject } from "./informer.ts";
import type { KubeClient } from "./kube.ts";
import type { Caches, DeploymentObj, EndpointSliceObj, PodObj, ServiceObj } from "./observe.ts";
import { makeReconciler, type ReconcileOutcome } from "./reconciler.ts";
import { WorkQueue, type WorkQueueHooks } from "./workqueue.ts";

export interface ControllerOptions {
  readonly client: KubeClient;
  /** Namespaces to watch; empty means cluster-wide. */
  readonly namespaces: readonly string[];
  readonly workers: number;
  readonly log: Logger;
  readonly now?: () => number;
  readonly queueHooks?: WorkQueueHooks;
  readonly onReconcile?: (outcome: ReconcileOutcome) => void;
  readonly onReconcileError?: (key: string, err: unknown) => void;
  readonly onReconcileDone?: (
    key: string,
    seconds: number,
    result: "success" | "error" | "requeue_after",
  ) => void;
  /**
   * Every BGD change the cache sees: (undefined, obj) added, (old, obj) updated, (obj, undefined)
   * deleted. Rollout metrics count status transitions (switches, aborts) from the API's truth.
   */
  readonly onBgdChange?: (
    old: Readonly<KubeObject> | undefined,
    obj: Readonly<KubeObject> | undefined,
  ) => void;
}

const MANAGED = `${LABEL_MANAGED_BY}=${MANAGED_BY}`;

/** One informer per namespace scope (or one cluster-wide), seen as one cache. */
class ScopedInformers<T extends KubeObject> {
  readonly informers: Informer<T>[];
  readonly #byNamespace = new Map<string, Informer<T>>();
  readonly #clusterWide: Informer<T> | undefined;

  constructor(
    client: KubeClient,
    namespaces: readonly string[],
    collection: (ns: string | undefined) => string,
    labelSelector: string | undefined,
    log: Logger,
  ) {
    const make = (ns: string | undefined) =>
      new Informer<T>({
        source: client,
        path: collection(ns),
        ...(labelSelector !== undefined ? { labelSelector } : {}),
        log: log.child({ informer: collection(ns) }),
      });
    if (namespaces.length === 0) {
      this.#clusterWide = make(undefined);
      this.informers = [this.#clusterWide];
    } else {
      this.#clusterWide = undefined;
      for (const ns of namespaces) this.#byNamespace.set(ns, make(ns));
      this.informers = [...this.#byNamespace.values()];
    }
  }

  #for(ns: string): Informer<T> | undefined {
    return this.#clusterWide ?? this.#byNamespace.get(ns);
  }
  get(ns: string, name: string): Readonly<T> | undefined {
    return this.#for(ns)?.get(ns, name);
  }
  byLabel(ns: string, label: string, value: string): Readonly<T>[] {
    return this.#for(ns)?.byLabel(ns, label, value) ?? [];
  }
  list(): Readonly<T>[] {
    return this.informers.flatMap((i) => i.list());
  }
  on(handler: (obj: Readonly<T>) => void): void {
    for (const i of this.informers) {
      i.onAdd(handler);
      i.onUpdate((_old, obj) => handler(obj));
      i.onDelete(handler);
    }
  }
}

const ns = (n: string | undefined) => (n === undefined ? "" : `/namespaces/${n}`);

export class BlueGreenController {
  readonly queue: WorkQueue;
  readonly #opts: ControllerOptions;
  readonly #bgds: ScopedInformers<KubeObject>;
  readonly #deployments: ScopedInformers<DeploymentObj & KubeObject>;
  readonly #services: ScopedInformers<ServiceObj & KubeObject>;
  readonly #slices: ScopedInformers<EndpointSliceObj & KubeObject>;
  readonly #pods: ScopedInformers<PodObj & KubeObject>;
  #running: Promise<void> | undefined;
  #informersStarted = false;

  constructor(opts: ControllerOptions) {
    this.#opts = opts;
    const { client, namespaces, log } = opts;
    this.queue = new WorkQueue(opts.queueHooks !== undefined ? { hooks: opts.queueHooks } : {});
    this.#bgds = new ScopedInformers(
      client,
      namespaces,
      (n) => `/apis/bluegreen.io/v1${ns(n)}/${PLURAL}`,
      undefined,
      log,
    );
    this.#deployments = new ScopedInformers(
      client,
      namespaces,
      (n) => `/apis/apps/v1${ns(n)}/deployments`,
      MANAGED,
      log,
    );
    // Every Service in scope, not only ours: a Service named in spec.service.name is the user's
    // and carries none of our labels until we adopt it.
    this.#services = new ScopedInformers(
      client,
      namespaces,
      (n) => `/api/v1${ns(n)}/services`,
      undefined,
      log,
    );
    // EndpointSlices carry the labels of their Service: ours, and adopted ones once labelled.
    this.#slices = new ScopedInformers(
      client,
      namespaces,
      (n) => `/apis/discovery.k8s.io/v1${ns(n)}/endpointslices`,
      LABEL_NAME,
      log,
    );
    // Pods are created by ReplicaSets from our template, which carries bluegreen.io/name.
    this.#pods = new ScopedInformers(client, namespaces, (n) => `/api/v1${ns(n)}/pods`, LABEL_NAME, log);

    const enqueueSelf = (o: Readonly<KubeObject>) => {
      const m = o.metadata;
      if (m?.name !== undefined && m.namespace !== undefined) this.queue.add(`${m.namespace}/${m.name}`);
    };
    const enqueueOwner = (o: Readonly<KubeObject>) => {
      const m = o.metadata;
      const owner = m?.labels?.[LABEL_NAME];
      if (owner !== undefined && m?.namespace !== undefined) this.queue.add(`${m.namespace}/${owner}`);
    };
    this.#bgds.on(enqueueSelf);
    const onBgdChange = opts.onBgdChange;
    if (onBgdChange !== undefined) {
      for (const i of this.#bgds.informers) {
        i.onAdd((o) => onBgdChange(undefined, o));
        i.onUpdate((old, o) => onBgdChange(old, o));
        i.onDelete((o) => onBgdChange(o, undefined));
      }
    }
    this.#deployments.on(enqueueOwner);
    this.#services.on((svc) => {
      enqueueOwner(svc);
      // A user's Service not adopted yet carries no label of ours: find the BGDs that name it.
      const m = svc.metadata;
      if (m?.labels?.[LABEL_NAME] !== undefined || m?.namespace === undefined) return;
      for (const bgd of this.#bgds.list()) {
        const b = bgd as {
          metadata?: { name?: string; namespace?: string };
          spec?: { service?: { name?: string } };
        };
        if (b.metadata?.namespace === m.namespace && b.spec?.service?.name === m.name) enqueueSelf(bgd);
      }
    });
    this.#slices.on(enqueueOwner);
    this.#pods.on(enqueueOwner);
  }

  get caches(): Caches {
    return {
      deployment: (n, name) => this.#deployments.get(n, name),
      service: (n, name) => this.#services.get(n, name),
      podsOf: (n, bgd) => this.#pods.byLabel(n, LABEL_NAME, bgd),
      endpointSlicesOf: (n, svc) => this.#slices.byLabel(n, "kubernetes.io/service-name", svc),
    };
  }

  get #all(): Informer<KubeObject>[] {
    return [
      ...this.#bgds.informers,
      ...this.#deployments.informers,
      ...this.#services.informers,
      ...this.#slices.informers,
      ...this.#pods.informers,
    ] as Informer<KubeObject>[];
  }

  hasSynced(): boolean {
    return this.#all.every((i) => i.hasSynced());
  }

  /** The BGDs in the cache, read at scrape time by the rollout metrics. */
  listBgds(): Readonly<KubeObject>[] {
    return this.#bgds.list();
  }

  /**
   * Starts the informers (once) and waits for their caches. A standby replica calls only this, so
   * its caches are warm and it reconciles the moment it wins the leader election.
   */
  async syncCaches(signal?: AbortSignal): Promise<void> {
    const { log } = this.#opts;
    if (!this.#informersStarted) {
      this.#informersStarted = true;
      for (const i of this.#all) i.start();
    }
    if (this.hasSynced()) return;
    await Promise.all(this.#all.map((i) => i.waitForSync(signal)));
    log.info({ bgds: this.#bgds.list().length }, "Caches synced");
  }

  /** Starts the informers, waits for their caches, then runs the workers until stop(). */
  async start(signal?: AbortSignal): Promise<void> {
    const { log } = this.#opts;
    await this.syncCaches(signal);
    const now = this.#opts.now ?? Date.now;
    const reconcile = makeReconciler({
      client: this.#opts.client,
      caches: this.caches,
      getBgd: (n, name) => this.#bgds.get(n, name),
      now,
      log,
      ...(this.#opts.onReconcile !== undefined ? { onResult: this.#opts.onReconcile } : {}),
    });
    const timed = async (key: string) => {
      const started = performance.now();
      try {
        const r = await reconcile(key);
        this.#opts.onReconcileDone?.(
          key,
          (performance.now() - started) / 1000,
          r.requeueAfterMs !== undefined ? "requeue_after" : "success",
        );
        return r;
      } catch (err) {
        this.#opts.onReconcileDone?.(key, (performance.now() - started) / 1000, "error");
        throw err;
      }
    };
    this.#running = this.queue.run(this.#opts.workers, timed, {
      onError: (key, err) => {
        log.error({ bgd: key, err: err instanceof Error ? err.message : String(err) }, "Reconcile failed");
        this.#opts.onReconcileError?.(key, err);
      },
    });
  }

  /** Finishes in-flight reconciles, then stops the informers. */
  async stop(): Promise<void> {
    await this.queue.shutDownWithDrain();
    await this.#running;
    if (this.#informersStarted) await Promise.all(this.#all.map((i) => i.stop()));
  }
}
