/**
 * The BlueGreenDeployment controller: informers for the BGDs and everything they own, a work queue
 * of BGD keys, and the reconciler. Events only decide which key to enqueue.
 */
import { hostname } from "node:os";
import type { Logger } from "pino";
import { HTTPROUTE_API, LABEL_MANAGED_BY, LABEL_NAME, MANAGED_BY, PLURAL } from "../api/labels.ts";
import type { GateWork } from "../bluegreen/gates/plan-gates.ts";
import { CONFIGMAP_NAME } from "../bluegreen/notify/payload.ts";
import type { Informer, KubeObject } from "../kube/informer.ts";
import type { KubeClient, ListWatcher } from "../kube/kube.ts";
import { type Clock, WorkQueue, type WorkQueueHooks } from "../kube/workqueue.ts";
import type { Writer } from "./executor.ts";
import { readJobLogTail } from "./gates/job-log.ts";
import { measurement } from "./gates/measure.ts";
import { GateRunner, type Measured } from "./gates/runner.ts";
import { Notifier, type NotifierOptions } from "./notify/notifier.ts";
import type { Caches, DeploymentObj, EndpointSliceObj, HTTPRouteObj, PodObj, ServiceObj } from "./observe.ts";
import { makeReconciler } from "./reconciler.ts";
import { ScopedInformers } from "./scoped-informers.ts";
import {
  slimBgd,
  slimConfigMap,
  slimDeployment,
  slimEndpointSlice,
  slimHTTPRoute,
  slimJob,
  slimPod,
  slimService,
} from "./slim.ts";

/** What the controller calls on the API server: `KubeClient`, or an in-memory store in tests. */
export type ControllerClient = ListWatcher & Writer & Pick<KubeClient, "get" | "getText">;

export interface ControllerOptions {
  readonly client: ControllerClient;
  /** Namespaces to watch; empty means cluster-wide. */
  readonly namespaces: readonly string[];
  readonly workers: number;
  /**
   * Whether this process reconciles the BGD namespace/name (its shard owns it: runtime/shard.ts);
   * default every BGD.
   */
  readonly owns?: (namespace: string, name: string) => boolean;
  /** Gate measurements in flight at once, across all BGDs (default 16). */
  readonly gateConcurrency?: number;
  /**
   * The namespace whose bluegreen-notifications ConfigMap holds cluster-wide receivers (the operator's own);
   * read only where this controller watches (cluster-wide, or a namespace it was given).
   */
  readonly notificationsNamespace?: string | undefined;
  /** Notification sender settings (tests shorten the backoff). */
  readonly notificationSender?: NotifierOptions["sender"];
  /** Every gate measurement that finished (metrics). */
  readonly onGateMeasured?: (m: Measured) => void;
  /** Every notification delivery's end (metrics). */
  readonly onNotificationResult?: NotifierOptions["onResult"];
  readonly log: Logger;
  readonly now?: () => number;
  /** The work queue's timers (requeues, backoff); tests simulate hours with a fake one. */
  readonly queueClock?: Clock;
  readonly queueHooks?: WorkQueueHooks;
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

const ns = (n: string | undefined) => (n === undefined ? "" : `/namespaces/${n}`);

export class BlueGreenController {
  readonly queue: WorkQueue;
  readonly #opts: ControllerOptions;
  readonly #bgds: ScopedInformers<KubeObject>;
  readonly #deployments: ScopedInformers<DeploymentObj & KubeObject>;
  readonly #services: ScopedInformers<ServiceObj & KubeObject>;
  readonly #slices: ScopedInformers<EndpointSliceObj & KubeObject>;
  readonly #pods: ScopedInformers<PodObj & KubeObject>;
  readonly #jobs: ScopedInformers<KubeObject>;
  readonly #configMaps: ScopedInformers<KubeObject>;
  readonly #routes: ScopedInformers<HTTPRouteObj & KubeObject>;
  readonly notifier: Notifier;
  /** Gate measurements, off the reconcile path; `inFlight` feeds the gate metrics. */
  readonly gates: GateRunner;
  #running: Promise<void> | undefined;
  #informersStarted = false;

  constructor(opts: ControllerOptions) {
    this.#opts = opts;
    const { client, namespaces, log } = opts;
    this.queue = new WorkQueue({
      ...(opts.queueHooks !== undefined ? { hooks: opts.queueHooks } : {}),
      ...(opts.queueClock !== undefined ? { clock: opts.queueClock } : {}),
    });
    this.#bgds = new ScopedInformers(
      client,
      namespaces,
      (n) => `/apis/bluegreen.io/v1${ns(n)}/${PLURAL}`,
      undefined,
      slimBgd,
      log,
    );
    this.#deployments = new ScopedInformers(
      client,
      namespaces,
      (n) => `/apis/apps/v1${ns(n)}/deployments`,
      MANAGED,
      slimDeployment,
      log,
    );
    // Every Service in scope, not only ours: a Service named in spec.service.name is the user's
    // and carries none of our labels until we adopt it.
    this.#services = new ScopedInformers(
      client,
      namespaces,
      (n) => `/api/v1${ns(n)}/services`,
      undefined,
      slimService,
      log,
    );
    // EndpointSlices carry the labels of their Service: ours, and adopted ones once labelled.
    this.#slices = new ScopedInformers(
      client,
      namespaces,
      (n) => `/apis/discovery.k8s.io/v1${ns(n)}/endpointslices`,
      LABEL_NAME,
      slimEndpointSlice,
      log,
    );
    // Pods are created by ReplicaSets from our template, which carries bluegreen.io/name.
    this.#pods = new ScopedInformers(
      client,
      namespaces,
      (n) => `/api/v1${ns(n)}/pods`,
      LABEL_NAME,
      slimPod,
      log,
    );
    // The Jobs of job checks: created by us, labelled with their BGD; a finished Job wakes its BGD.
    this.#jobs = new ScopedInformers(
      client,
      namespaces,
      (n) => `/apis/batch/v1${ns(n)}/jobs`,
      MANAGED,
      slimJob,
      log,
    );
    // Only the notifications ConfigMap (by name, so RBAC can grant that one name): receivers are read from
    // the cache when a transition is announced, and a change applies to the next one.
    this.#configMaps = new ScopedInformers(
      client,
      namespaces,
      (n) => `/api/v1${ns(n)}/configmaps`,
      undefined,
      slimConfigMap,
      log,
      `metadata.name=${CONFIGMAP_NAME}`,
    );
    // The users' HTTPRoutes (spec.trafficRouting): every one in scope, as they carry no label of ours. The
    // Gateway API may not be installed: then the list answers 404, the cache stays empty (a BGD naming a
    // route is Degraded: not found) and the list is tried again, so installing the CRDs later needs no restart.
    this.#routes = new ScopedInformers(
      client,
      namespaces,
      (n) => `/apis/${HTTPROUTE_API}${ns(n)}/httproutes`,
      undefined,
      slimHTTPRoute,
      log,
      undefined,
      true,
    );
    this.notifier = new Notifier({
      client,
      configMap: (n) =>
        this.#configMaps.get(n, CONFIGMAP_NAME) as { data?: Record<string, string> } | undefined,
      clusterNamespace: opts.notificationsNamespace,
      now: opts.now ?? Date.now,
      instance: hostname(),
      log,
      ...(opts.notificationSender !== undefined ? { sender: opts.notificationSender } : {}),
      ...(opts.onNotificationResult !== undefined ? { onResult: opts.onNotificationResult } : {}),
    });
    this.gates = new GateRunner({
      concurrency: opts.gateConcurrency ?? 16,
      now: opts.now ?? Date.now,
      wake: (key) => this.queue.add(key),
      ...(opts.onGateMeasured !== undefined ? { onMeasured: opts.onGateMeasured } : {}),
    });

    // The one place work enters the queue from events: a BGD of another shard never becomes a key
    // here (gate wake-ups and requeues only ever carry keys that did).
    const enqueue = (namespace: string, name: string) => {
      if (this.owns(namespace, name)) this.queue.add(`${namespace}/${name}`);
    };
    const enqueueSelf = (o: Readonly<KubeObject>) => {
      const m = o.metadata;
      if (m?.name !== undefined && m.namespace !== undefined) enqueue(m.namespace, m.name);
    };
    const enqueueOwner = (o: Readonly<KubeObject>) => {
      const m = o.metadata;
      const owner = m?.labels?.[LABEL_NAME];
      if (owner !== undefined && m?.namespace !== undefined) enqueue(m.namespace, owner);
    };
    this.#bgds.on(enqueueSelf);
    const onBgdChange = opts.onBgdChange;
    if (onBgdChange !== undefined) {
      // Rollout metrics count this shard's slice only, so the shards' series add up to the fleet.
      const mine = (o: Readonly<KubeObject>) =>
        this.owns(o.metadata?.namespace ?? "", o.metadata?.name ?? "");
      for (const i of this.#bgds.informers) {
        i.onAdd((o) => {
          if (mine(o)) onBgdChange(undefined, o);
        });
        i.onUpdate((old, o) => {
          if (mine(o)) onBgdChange(old, o);
        });
        i.onDelete((o) => {
          if (mine(o)) onBgdChange(o, undefined);
        });
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
    this.#routes.on((route) => {
      const m = route.metadata;
      if (m?.namespace === undefined) return;
      for (const bgd of this.#bgds.list()) {
        const b = bgd as {
          metadata?: { namespace?: string };
          spec?: { trafficRouting?: { httpRoute?: { name?: string } } };
        };
        if (b.metadata?.namespace === m.namespace && b.spec?.trafficRouting?.httpRoute?.name === m.name)
          enqueueSelf(bgd);
      }
    });
    this.#slices.on(enqueueOwner);
    this.#pods.on(enqueueOwner);
    this.#jobs.on(enqueueOwner);
  }

  /** Runs one measurement off the reconcile path (see controller/gates/runner.ts). */
  #runMeasurement(key: string, namespace: string, w: GateWork): void {
    const { client } = this.#opts;
    const measure = measurement(w.work, {
      readSecret: async (name) => {
        const secret = await client
          .get<{ data?: Record<string, string> }>(
            `/api/v1/namespaces/${namespace}/secrets/${encodeURIComponent(name)}`,
          )
          .catch(() => undefined);
        if (secret === undefined) return undefined;
        return Object.fromEntries(
          Object.entries(secret.data ?? {}).map(([k, v]) => [k, Buffer.from(v, "base64").toString("utf8")]),
        );
      },
      jobLogTail: (job) => readJobLogTail(client, namespace, job),
    });
    this.gates.request({ id: w.id, key, index: w.index, kind: w.work.kind, measure });
  }

  get caches(): Caches {
    return {
      deployment: (n, name) => this.#deployments.get(n, name),
      service: (n, name) => this.#services.get(n, name),
      podsOf: (n, bgd) => this.#pods.byLabel(n, LABEL_NAME, bgd),
      endpointSlicesOf: (n, svc) => this.#slices.byLabel(n, "kubernetes.io/service-name", svc),
      jobsOf: (n, bgd) => this.#jobs.byLabel(n, LABEL_NAME, bgd),
      httpRoute: (n, name) => this.#routes.get(n, name),
      gateResult: (id) => this.gates.result(id),
    };
  }

  get #all(): Informer<KubeObject>[] {
    return [
      ...this.#bgds.informers,
      ...this.#deployments.informers,
      ...this.#services.informers,
      ...this.#slices.informers,
      ...this.#pods.informers,
      ...this.#jobs.informers,
      ...this.#configMaps.informers,
      ...this.#routes.informers,
    ] as Informer<KubeObject>[];
  }

  hasSynced(): boolean {
    return this.#all.every((i) => i.hasSynced());
  }

  /** Whether this process's shard owns the BGD (always, unsharded). */
  owns(namespace: string, name: string): boolean {
    return this.#opts.owns?.(namespace, name) ?? true;
  }

  /** This shard's BGDs in the cache, read at scrape time by the rollout metrics. */
  listBgds(): Readonly<KubeObject>[] {
    return this.#bgds.list().filter((o) => this.owns(o.metadata?.namespace ?? "", o.metadata?.name ?? ""));
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
    log.info({ bgds: this.#bgds.list().length, owned: this.listBgds().length }, "Caches synced");
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
      gates: {
        run: (key, namespace, work) => this.#runMeasurement(key, namespace, work),
        forget: (id) => this.gates.forget(id),
      },
      onStatusWritten: (bgd, before, after) => this.notifier.announce(bgd, before, after),
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
    this.gates.close();
    await this.queue.shutDownWithDrain();
    await this.#running;
    await this.notifier.close();
    if (this.#informersStarted) await Promise.all(this.#all.map((i) => i.stop()));
  }
}
