/**
 * Runs measurements off the reconcile path. The planner asks for measurement `index` of a check; the reconciler
 * hands the request here and returns at once; when the measurement is done the runner keeps its result and
 * wakes the BGD's key. The next reconcile observes the result (`result(id)`), the planner folds it into the
 * check's record and the executor writes it to status — the runner itself never writes to the API, so status
 * keeps one writer. A result is identified by BGD uid, revision, check and index: asking twice runs once, a
 * result recorded twice changes nothing, and a restart (results in memory are lost) simply measures again.
 *
 * Concurrency is bounded overall; a BGD's checks run one after the other (the planner asks for one measurement
 * at a time), so a Prometheus that hangs holds one slot until its timeout and never another BGD's reconcile.
 */
import type { Measurement, Outcome } from "../../bluegreen/gates/measurement.ts";
import { measurementId } from "../../bluegreen/gates/work.ts";

export { measurementId };

export interface MeasurementRequest {
  /** `<uid>/<revision>/<check>/<index>`: see measurementId. */
  readonly id: string;
  /** The work queue key to wake when the result is in. */
  readonly key: string;
  readonly index: number;
  /** The check's kind, for the metrics. */
  readonly kind?: string;
  readonly measure: (signal: AbortSignal) => Promise<Outcome>;
}

/** One finished measurement, as the metrics count it. */
export interface Measured {
  readonly kind: string;
  readonly phase: string;
  readonly seconds: number;
}

export interface GateRunnerOptions {
  /** Measurements in flight at once, across all BGDs. */
  readonly concurrency: number;
  /** Wakes a key (the work queue's add). */
  readonly wake: (key: string) => void;
  readonly now: () => number;
  /** Results not collected after this long are dropped (a BGD deleted mid-check). */
  readonly keepResultsMs?: number;
  /** Told each measurement that finished (not one cancelled by close()). */
  readonly onMeasured?: (m: Measured) => void;
}

type Entry =
  | { readonly state: "queued"; readonly request: MeasurementRequest }
  | { readonly state: "running"; readonly request: MeasurementRequest }
  | {
      readonly state: "done";
      readonly key: string;
      readonly measurement: Measurement;
      readonly doneAt: number;
    };

export class GateRunner {
  readonly #entries = new Map<string, Entry>();
  readonly #queue: string[] = [];
  readonly #closing = new AbortController();
  #running = 0;
  readonly #o: Required<Omit<GateRunnerOptions, "onMeasured">> & Pick<GateRunnerOptions, "onMeasured">;

  constructor(options: GateRunnerOptions) {
    this.#o = { keepResultsMs: 10 * 60_000, ...options };
  }

  /**
   * Asks for a measurement; one already queued or running is not repeated. One done is measured again: the
   * planner folds a result it accepts instead of asking, so a request for a done id means it refused that
   * result as left over from an earlier run of the check (see controller/observe.ts currentResult).
   */
  request(r: MeasurementRequest): void {
    const state = this.#entries.get(r.id)?.state;
    if (this.#closing.signal.aborted || state === "queued" || state === "running") return;
    this.#entries.set(r.id, { state: "queued", request: r });
    this.#queue.push(r.id);
    this.#pump();
  }

  /** The finished measurement with this id, if any. */
  result(id: string): Measurement | undefined {
    const e = this.#entries.get(id);
    return e?.state === "done" ? e.measurement : undefined;
  }

  /** Whether the measurement is queued or running (for status messages: "measuring"). */
  pending(id: string): boolean {
    const s = this.#entries.get(id)?.state;
    return s === "queued" || s === "running";
  }

  /** Drops a result once it is in status (or no longer wanted). */
  forget(id: string): void {
    if (this.#entries.get(id)?.state === "done") this.#entries.delete(id);
  }

  get inFlight(): number {
    return this.#running;
  }

  /** Cancels what runs (their outcome is Error "cancelled", not recorded by anyone) and refuses new work. */
  close(): void {
    this.#closing.abort();
  }

  #pump(): void {
    this.#sweep();
    while (this.#running < this.#o.concurrency && this.#queue.length > 0) {
      const id = this.#queue.shift();
      const entry = id === undefined ? undefined : this.#entries.get(id);
      if (id === undefined || entry?.state !== "queued") continue;
      this.#running += 1;
      this.#entries.set(id, { state: "running", request: entry.request });
      void this.#run(id, entry.request);
    }
  }

  async #run(id: string, r: MeasurementRequest): Promise<void> {
    const startedAt = new Date(this.#o.now()).toISOString();
    // Durations from the monotonic clock: the injected one may stand still (tests) or jump.
    const started = performance.now();
    let outcome: Outcome;
    try {
      outcome = await r.measure(this.#closing.signal);
    } catch (e) {
      // A runner is supposed to turn every failure into an outcome; a bug in one must not stop the others.
      outcome = { phase: "Error", message: `internal error: ${e instanceof Error ? e.message : String(e)}` };
    }
    this.#running -= 1;
    if (!this.#closing.signal.aborted) {
      const doneAt = this.#o.now();
      const measurement: Measurement = {
        index: r.index,
        startedAt,
        finishedAt: new Date(doneAt).toISOString(),
        ...outcome,
      };
      this.#entries.set(id, { state: "done", key: r.key, measurement, doneAt });
      this.#o.onMeasured?.({
        kind: r.kind ?? "unknown",
        phase: outcome.phase,
        seconds: (performance.now() - started) / 1000,
      });
      this.#o.wake(r.key);
    }
    this.#pump();
  }

  #sweep(): void {
    const cutoff = this.#o.now() - this.#o.keepResultsMs;
    for (const [id, e] of this.#entries)
      if (e.state === "done" && e.doneAt < cutoff) this.#entries.delete(id);
  }
}
