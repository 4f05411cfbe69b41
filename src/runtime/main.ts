#!/usr/bin/env node
/**
 * The operator process: flags → kubeconfig → controller, with leader election, metrics, health
 * probes and graceful shutdown.
 *
 * Lifecycle (controller-runtime's): the informer caches start at once in every replica, so a
 * standby is warm; the workers start only in the leader. A leader that loses its Lease stops
 * writing at once (the client refuses every write; see leader.ts) and exits 1 so its Deployment
 * restarts it as a standby. On SIGTERM/SIGINT the process turns unready, lets in-flight reconciles
 * finish, releases the Lease so a standby takes over immediately, and exits 0.
 */
// First: V8's memory setting applies before the other modules load (v8-memory.ts says why).
import "./v8-memory.ts";
import { pino } from "pino";
import { BlueGreenController } from "../controller/controller.ts";
import { KubeClient, loadKubeConfig } from "../kube/kube.ts";
import { parseFlags, VERSION } from "./flags.ts";
import { GateMetrics } from "./gate-metrics.ts";
import { LeaderElector } from "./leader.ts";
import { OperatorMetrics } from "./metrics.ts";
import { RolloutMetrics } from "./rollout-metrics.ts";
import { type Endpoint, metricsRoute, probe, serve } from "./server.ts";
import { owns, shardLeaseName } from "./shard.ts";

/** A write refused because this replica is not (or no longer) the leader. */
export class NotLeaderError extends Error {
  constructor(method: string, path: string) {
    super(`${method} ${path}: refused, this replica does not hold the leader lease`);
    this.name = "NotLeaderError";
  }
}

const statusOf = (o: unknown): unknown =>
  typeof o === "object" && o !== null ? (o as { status?: unknown }).status : undefined;

async function main(): Promise<void> {
  const flags = parseFlags(process.argv);
  const log = pino({ level: flags.logLevel, base: { component: "bluegreen-operator" } });
  const kc = loadKubeConfig(flags.kubeconfig);
  const server = kc.getCurrentCluster()?.server ?? "";
  const metrics = new OperatorMetrics({ workers: flags.workers });
  const election = flags.leaderElection;

  let elector: LeaderElector | undefined;
  const client = new KubeClient(kc, {
    hooks: {
      ...metrics.requestHooks(server),
      // The fence: with leader election on, only the current leader's writes leave this process.
      beforeSend(method, path) {
        if (election !== undefined && method !== "GET" && elector?.isLeader() !== true) {
          throw new NotLeaderError(method, path);
        }
      },
    },
  });
  let rollout: RolloutMetrics | undefined;
  let gateMetrics: GateMetrics | undefined;
  // Counted by the leader only (a standby's caches see the same transitions), as the rollout counters.
  const counting = () => elector === undefined || elector.isLeader();
  const controller = new BlueGreenController({
    client,
    namespaces: flags.namespaces,
    workers: flags.workers,
    gateConcurrency: flags.gateConcurrency,
    notificationsNamespace: flags.notificationsNamespace,
    owns: (namespace, name) => owns(flags.shard, namespace, name),
    log,
    queueHooks: metrics.queueHooks(),
    onReconcileDone: (_key, seconds, result) => metrics.reconcileDone(seconds, result),
    onReconcileError: () => metrics.reconcileError(),
    onBgdChange: (old, obj) => {
      rollout?.onChange(old, obj);
      const m = (obj ?? old)?.metadata;
      if (counting() && m?.namespace !== undefined && m.name !== undefined)
        gateMetrics?.observeStatus(m.namespace, m.name, statusOf(old), statusOf(obj));
    },
    onGateMeasured: (m) => gateMetrics?.observeMeasurement(m.kind, m.phase, m.seconds),
    onNotificationResult: (r) =>
      gateMetrics?.observeDelivery(
        r.receiver,
        r.ok ? "delivered" : r.reason.startsWith("dropped") ? "dropped" : "failed",
      ),
  });
  metrics.watchQueue(controller.queue);
  rollout = new RolloutMetrics({
    registry: metrics.registry,
    list: () => controller.listBgds(),
    counting,
  });
  gateMetrics = new GateMetrics(metrics.registry, () => controller.gates.inFlight, flags.gateConcurrency);

  const abort = new AbortController();
  let stopping = false;
  let synced = false;
  const endpoints: Endpoint[] = [];
  if (flags.healthProbeBindAddress !== undefined) {
    const health = await serve(flags.healthProbeBindAddress, {
      "/healthz": probe(() => undefined),
      // A standby is ready too: its caches are warm and it can take over at any moment. Requiring
      // leadership would leave one of two replicas unready forever and stall the operator's own
      // rolling updates.
      "/readyz": probe(() =>
        stopping ? "shutting down" : synced ? undefined : "informer caches not synced yet",
      ),
    });
    endpoints.push(health);
    log.info({ address: health.address }, "Serving health probes");
  }
  if (flags.metricsBindAddress !== undefined) {
    const m = await serve(flags.metricsBindAddress, { "/metrics": metricsRoute(metrics.registry) });
    endpoints.push(m);
    log.info({ address: m.address }, "Serving metrics");
  }

  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, "Shutting down");
    abort.abort();
    // Drain first: the Lease is still renewed while in-flight reconciles finish...
    await controller.stop();
    // ...then hand it over, so the successor starts now instead of after the lease duration.
    await elector?.stop();
    await Promise.all(endpoints.map((e) => e.close()));
    log.info({}, "Stopped");
    process.exit(0);
  };
  process.on("SIGTERM", () => void shutdown("SIGTERM"));
  process.on("SIGINT", () => void shutdown("SIGINT"));

  log.info(
    {
      version: VERSION,
      namespaces: flags.namespaces.length === 0 ? "all" : flags.namespaces,
      workers: flags.workers,
      gateConcurrency: flags.gateConcurrency,
      leaderElection:
        election === undefined ? false : `${election.namespace}/${shardLeaseName(election.id, flags.shard)}`,
      shard: flags.shard === undefined ? "none" : `${flags.shard.index} of ${flags.shard.count}`,
    },
    "Starting bluegreen-operator",
  );
  const fatal = (err: unknown) => {
    log.error({ err: err instanceof Error ? err.message : String(err) }, "Controller failed");
    process.exit(1);
  };
  // A shutdown during the initial sync aborts it; that is not a failure.
  const quietWhenStopping = (err: unknown) => {
    if (!stopping) throw err;
  };
  const caches = controller
    .syncCaches(abort.signal)
    .then(() => {
      synced = true;
    })
    .catch(quietWhenStopping);

  if (election === undefined) {
    await caches;
    await controller.start(abort.signal).catch(quietWhenStopping);
    return;
  }
  // One Lease per shard: one leader and its standbys per slice of the BGDs.
  const leaseName = shardLeaseName(election.id, flags.shard);
  const lease = `${election.namespace}/${leaseName}`;
  elector = new LeaderElector({
    api: new KubeClient(kc, { hooks: metrics.requestHooks(server) }),
    namespace: election.namespace,
    name: leaseName,
    leaseDurationMs: election.leaseDurationMs,
    renewDeadlineMs: election.renewDeadlineMs,
    retryPeriodMs: election.retryPeriodMs,
    log,
    onStartedLeading: () => {
      metrics.setLeader(leaseName, true);
      log.info({ lease }, "Started leading");
      controller.start(abort.signal).catch((err: unknown) => {
        if (!stopping) fatal(err);
      });
    },
    onStoppedLeading: (why) => {
      metrics.setLeader(leaseName, false);
      // Like controller-runtime: no new reconciles, and exit non-zero so the Deployment restarts
      // this replica as a standby. Writes already refuse (the fence), so exiting now loses nothing.
      controller.queue.shutDown();
      log.error({ lease, why }, "Lost leadership, exiting");
      process.exit(1);
    },
  });
  metrics.setLeader(leaseName, false);
  void elector.start().catch(fatal);
  await caches;
}

main().catch((err: unknown) => {
  process.stderr.write(`bluegreen-operator: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
