/**
 * The operator's Prometheus metrics under the names controller-runtime and client-go use, so the
 * dashboards and alerts people already have for Go operators work unchanged:
 * controller_runtime_*, workqueue_*, rest_client_requests_total, leader_election_master_status,
 * plus the process_* and nodejs_* defaults of prom-client.
 */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import type { RequestHooks } from "../kube/kube.ts";
import type { WorkQueueHooks } from "../kube/workqueue.ts";

/** The `controller` (and work queue `name`) label: controller-runtime names it after the kind. */
export const CONTROLLER = "bluegreendeployment";

/** controller-runtime's reconcile_time_seconds buckets (pkg/internal/controller/metrics). */
const RECONCILE_BUCKETS = [
  0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.25,
  1.5, 1.75, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5, 6, 7, 8, 9, 10, 15, 20, 25, 30, 40, 50, 60,
];
/** controller-runtime's workqueue buckets: ExponentialBuckets(10e-9, 10, 12), 10 ns to 1000 s. */
const QUEUE_BUCKETS = Array.from({ length: 12 }, (_, i) => Number((1e-8 * 10 ** i).toPrecision(1)));

export type ReconcileResult = "success" | "error" | "requeue" | "requeue_after";

export interface UnfinishedWork {
  unfinishedWork(): { totalSeconds: number; longestSeconds: number };
}

export class OperatorMetrics {
  readonly registry = new Registry();
  readonly #reconcileTotal: Counter<"controller" | "result">;
  readonly #reconcileErrors: Counter<"controller">;
  readonly #reconcileTime: Histogram<"controller">;
  readonly #activeWorkers: Gauge<"controller">;
  readonly #depth: Gauge<"name" | "controller">;
  readonly #adds: Counter<"name" | "controller">;
  readonly #queueDuration: Histogram<"name" | "controller">;
  readonly #workDuration: Histogram<"name" | "controller">;
  readonly #retries: Counter<"name" | "controller">;
  readonly #requests: Counter<"code" | "method" | "host">;
  readonly #leader: Gauge<"name">;
  #queue: UnfinishedWork | undefined;

  constructor(opts: { readonly workers: number }) {
    const registers = [this.registry];
    const c = { controller: CONTROLLER };
    const q = { name: CONTROLLER, controller: CONTROLLER };
    collectDefaultMetrics({ register: this.registry });
    // Gauges named *_total break Prometheus naming (promtool check metrics); the per-type
    // nodejs_active_handles/requests/resources gauges carry the same numbers.
    for (const name of [
      "nodejs_active_handles_total",
      "nodejs_active_requests_total",
      "nodejs_active_resources_total",
    ]) {
      this.registry.removeSingleMetric(name);
    }

    this.#reconcileTotal = new Counter({
      name: "controller_runtime_reconcile_total",
      help: "Total number of reconciliations per controller",
      labelNames: ["controller", "result"],
      registers,
    });
    for (const result of ["success", "error", "requeue", "requeue_after"] as const) {
      this.#reconcileTotal.inc({ ...c, result }, 0);
    }
    this.#reconcileErrors = new Counter({
      name: "controller_runtime_reconcile_errors_total",
      help: "Total number of reconciliation errors per controller",
      labelNames: ["controller"],
      registers,
    });
    this.#reconcileErrors.inc(c, 0);
    this.#reconcileTime = new Histogram({
      name: "controller_runtime_reconcile_time_seconds",
      help: "Length of time per reconciliation per controller",
      labelNames: ["controller"],
      buckets: RECONCILE_BUCKETS,
      registers,
    });
    this.#reconcileTime.zero(c);
    new Gauge({
      name: "controller_runtime_max_concurrent_reconciles",
      help: "Maximum number of concurrent reconciles per controller",
      labelNames: ["controller"],
      registers,
    }).set(c, opts.workers);
    this.#activeWorkers = new Gauge({
      name: "controller_runtime_active_workers",
      help: "Number of currently used workers per controller",
      labelNames: ["controller"],
      registers,
    });
    this.#activeWorkers.set(c, 0);

    this.#depth = new Gauge({
      name: "workqueue_depth",
      help: "Current depth of workqueue",
      labelNames: ["name", "controller"],
      registers,
    });
    this.#depth.set(q, 0);
    this.#adds = new Counter({
      name: "workqueue_adds_total",
      help: "Total number of adds handled by workqueue",
      labelNames: ["name", "controller"],
      registers,
    });
    this.#adds.inc(q, 0);
    this.#queueDuration = new Histogram({
      name: "workqueue_queue_duration_seconds",
      help: "How long in seconds an item stays in workqueue before being requested",
      labelNames: ["name", "controller"],
      buckets: QUEUE_BUCKETS,
      registers,
    });
    this.#queueDuration.zero(q);
    this.#workDuration = new Histogram({
      name: "workqueue_work_duration_seconds",
      help: "How long in seconds processing an item from workqueue takes.",
      labelNames: ["name", "controller"],
      buckets: QUEUE_BUCKETS,
      registers,
    });
    this.#workDuration.zero(q);
    this.#retries = new Counter({
      name: "workqueue_retries_total",
      help: "Total number of retries handled by workqueue",
      labelNames: ["name", "controller"],
      registers,
    });
    this.#retries.inc(q, 0);
    const queue = () => this.#queue?.unfinishedWork() ?? { totalSeconds: 0, longestSeconds: 0 };
    new Gauge({
      name: "workqueue_unfinished_work_seconds",
      help: "How many seconds of work has been done that is in progress and hasn't been observed by work_duration. Large values indicate stuck threads. One can deduce the number of stuck threads by observing the rate at which this increases.",
      labelNames: ["name", "controller"],
      registers,
      collect() {
        this.set(q, queue().totalSeconds);
      },
    });
    new Gauge({
      name: "workqueue_longest_running_processor_seconds",
      help: "How many seconds has the longest running processor for workqueue been running.",
      labelNames: ["name", "controller"],
      registers,
      collect() {
        this.set(q, queue().longestSeconds);
      },
    });

    this.#requests = new Counter({
      name: "rest_client_requests_total",
      help: "Number of HTTP requests, partitioned by status code, method, and host.",
      labelNames: ["code", "method", "host"],
      registers,
    });
    this.#leader = new Gauge({
      name: "leader_election_master_status",
      help: "Gauge of if the reporting system is master of the relevant lease, 0 indicates backup, 1 indicates master. 'name' is the string used to identify the lease. Please make sure to group by name.",
      labelNames: ["name"],
      registers,
    });
  }

  /** The queue whose in-progress work the workqueue_unfinished/longest gauges report. */
  watchQueue(queue: UnfinishedWork): void {
    this.#queue = queue;
  }

  /** workqueue_* and controller_runtime_active_workers, fed by the WorkQueue. */
  queueHooks(): WorkQueueHooks {
    const q = { name: CONTROLLER, controller: CONTROLLER };
    const c = { controller: CONTROLLER };
    return {
      onAdd: () => this.#adds.inc(q),
      onDepthChange: (depth) => this.#depth.set(q, depth),
      // A key handed to a worker: its wait ends and the worker becomes busy...
      onQueueLatency: (seconds) => {
        this.#queueDuration.observe(q, seconds);
        this.#activeWorkers.inc(c);
      },
      // ...until its reconcile is done.
      onWorkDuration: (seconds) => {
        this.#workDuration.observe(q, seconds);
        this.#activeWorkers.dec(c);
      },
      onRetry: () => this.#retries.inc(q),
    };
  }

  reconcileDone(seconds: number, result: ReconcileResult): void {
    const c = { controller: CONTROLLER };
    this.#reconcileTotal.inc({ ...c, result });
    this.#reconcileTime.observe(c, seconds);
  }

  reconcileError(): void {
    this.#reconcileErrors.inc({ controller: CONTROLLER });
  }

  /** rest_client_requests_total for one client; `code` is "<error>" when no answer came, as in client-go. */
  requestHooks(server: string): Required<Pick<RequestHooks, "afterResponse">> {
    const host = hostOf(server);
    return {
      afterResponse: (method, code) =>
        this.#requests.inc({ code: code === undefined ? "<error>" : String(code), method, host }),
    };
  }

  setLeader(lease: string, leading: boolean): void {
    this.#leader.set({ name: lease }, leading ? 1 : 0);
  }
}

function hostOf(server: string): string {
  try {
    return new URL(server).host;
  } catch {
    return server;
  }
}
