/**
 * Gate and notification metrics.
 *
 * - `bluegreen_gate_checks_total{namespace,name,point,check,result}`: checks that ended (Successful, Failed,
 *   Inconclusive), counted from status transitions the cache sees (like the rollout counters: the API's truth,
 *   not what this process believes it did). `checkEndings` is pure, so it is tested without a registry.
 * - `bluegreen_gate_measurements_total{kind,phase}`, `bluegreen_gate_measurement_duration_seconds{kind}`,
 *   `bluegreen_gate_measurements_in_flight` against `bluegreen_gate_max_concurrent_measurements`
 *   (`--gate-concurrency`): the gate runner's work (a Prometheus that hangs shows up here).
 * - `bluegreen_notifications_total{receiver,result}`: deliveries (delivered, failed, dropped).
 */
import { Counter, Gauge, Histogram, type Registry } from "prom-client";

/** A measurement takes milliseconds (http) to minutes (a Job). */
const DURATION_BUCKETS = [0.01, 0.05, 0.1, 0.5, 1, 2, 5, 10, 30, 60, 300, 600];
const ENDED = new Set(["Successful", "Failed", "Inconclusive"]);

interface CheckView {
  readonly name: string;
  readonly point: string;
  readonly revision: string;
  readonly phase: string;
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

function checksOf(status: unknown): CheckView[] {
  const gates = isRecord(status) && Array.isArray(status.gates) ? status.gates : [];
  return gates
    .filter(isRecord)
    .flatMap((g) =>
      typeof g.name === "string" &&
      typeof g.point === "string" &&
      typeof g.revision === "string" &&
      typeof g.phase === "string"
        ? [{ name: g.name, point: g.point, revision: g.revision, phase: g.phase }]
        : [],
    );
}

/** The checks that ended between two statuses of one BGD. */
export function checkEndings(
  before: unknown,
  after: unknown,
): { point: string; check: string; result: string }[] {
  const was = new Map(checksOf(before).map((c) => [`${c.revision}/${c.name}`, c.phase]));
  return checksOf(after)
    .filter((c) => ENDED.has(c.phase) && was.get(`${c.revision}/${c.name}`) !== c.phase)
    .map((c) => ({ point: c.point, check: c.name, result: c.phase }));
}

export class GateMetrics {
  readonly #checks: Counter<"namespace" | "name" | "point" | "check" | "result">;
  readonly #measurements: Counter<"kind" | "phase">;
  readonly #duration: Histogram<"kind">;
  readonly #notifications: Counter<"receiver" | "result">;

  constructor(registry: Registry, inFlight: () => number, concurrency?: number) {
    const registers = [registry];
    if (concurrency !== undefined)
      new Gauge({
        name: "bluegreen_gate_max_concurrent_measurements",
        help: "Gate measurements allowed in flight at once (--gate-concurrency).",
        registers,
      }).set(concurrency);
    this.#checks = new Counter({
      name: "bluegreen_gate_checks_total",
      help: "Gate checks that ended, by result (Successful, Failed, Inconclusive).",
      labelNames: ["namespace", "name", "point", "check", "result"],
      registers,
    });
    this.#measurements = new Counter({
      name: "bluegreen_gate_measurements_total",
      help: "Gate measurements taken, by check kind and outcome.",
      labelNames: ["kind", "phase"],
      registers,
    });
    this.#duration = new Histogram({
      name: "bluegreen_gate_measurement_duration_seconds",
      help: "How long gate measurements took.",
      labelNames: ["kind"],
      buckets: DURATION_BUCKETS,
      registers,
    });
    new Gauge({
      name: "bluegreen_gate_measurements_in_flight",
      help: "Gate measurements running now.",
      registers,
      collect() {
        this.set(inFlight());
      },
    });
    this.#notifications = new Counter({
      name: "bluegreen_notifications_total",
      help: "Notification deliveries, by receiver and result (delivered, failed, dropped).",
      labelNames: ["receiver", "result"],
      registers,
    });
  }

  /** A BGD's status changed in the cache. */
  observeStatus(namespace: string, name: string, before: unknown, after: unknown): void {
    for (const e of checkEndings(before, after)) this.#checks.inc({ namespace, name, ...e });
  }

  observeMeasurement(kind: string, phase: string, seconds: number): void {
    this.#measurements.inc({ kind, phase });
    this.#duration.observe({ kind }, seconds);
  }

  observeDelivery(receiver: string, result: "delivered" | "failed" | "dropped"): void {
    this.#notifications.inc({ receiver, result });
  }
}
