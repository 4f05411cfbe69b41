/**
 * One check's progress, as a pure state machine over what status records: the planner asks `nextStep` what
 * is due at `now` (the injected clock), the gate runner measures, and `recordMeasurement` folds the outcome
 * into the record that is written to status. Nothing here reads a clock or does I/O, so a restarted
 * operator resumes exactly where status says the check was.
 *
 * Semantics (the README's "Gates" section says the same):
 * - the first measurement is due `initialDelaySeconds` after the check starts; each next one `interval`
 *   after the previous one finished (measurements of one check never overlap);
 * - a measurement is Successful, Failed (the answer was wrong), Error (no usable answer: refused, timed out
 *   after `timeoutSeconds`, not JSON, a query error) or Inconclusive (an empty Prometheus result whose rule
 *   says Inconclusive);
 * - Failed and Error both count as failures: the check is Failed as soon as failures exceed `failureLimit`;
 * - otherwise, after `count` measurements the check is Successful, or Inconclusive if any measurement was.
 */

import {
  type CheckPhase,
  type GateCheckStatus,
  KEPT_MEASUREMENTS,
  MAX_LOG_TAIL,
  MAX_MEASUREMENT_TEXT,
  type MeasurementPhase,
} from "../../api/gate-status.ts";
import type { CheckTiming } from "../../api/gates.ts";

export type { CheckPhase, CheckTiming, MeasurementPhase };
export { KEPT_MEASUREMENTS };

export interface Measurement {
  /** 0 for the first measurement of the check: makes recording idempotent. */
  readonly index: number;
  readonly phase: MeasurementPhase;
  readonly startedAt: string;
  readonly finishedAt: string;
  /** What was measured (the query's value, the status code), for people. */
  readonly value?: string;
  readonly message?: string;
  /** The end of a failed Job's pod log. */
  readonly logTail?: string;
}

/** One check's record in status. */
export interface CheckRecord {
  readonly phase: CheckPhase;
  readonly startedAt: string;
  readonly successful: number;
  readonly failed: number;
  readonly inconclusive: number;
  /** Newest last, at most KEPT_MEASUREMENTS. */
  readonly measurements: readonly Measurement[];
  readonly message: string;
}

export type Step =
  | { readonly kind: "measure"; readonly index: number }
  | { readonly kind: "wait"; readonly untilMs: number }
  | { readonly kind: "done"; readonly phase: Exclude<CheckPhase, "Running"> };

export function startCheck(nowMs: number): CheckRecord {
  return {
    phase: "Running",
    startedAt: new Date(nowMs).toISOString(),
    successful: 0,
    failed: 0,
    inconclusive: 0,
    measurements: [],
    message: "Waiting for the first measurement",
  };
}

export const measurementsTaken = (r: Pick<CheckRecord, "successful" | "failed" | "inconclusive">): number =>
  r.successful + r.failed + r.inconclusive;

/** What the check needs at `nowMs`: a measurement (which one), a wait (until when), or nothing more. */
export function nextStep(timing: CheckTiming, record: CheckRecord, nowMs: number): Step {
  if (record.phase !== "Running") return { kind: "done", phase: record.phase };
  const taken = measurementsTaken(record);
  const last = record.measurements.at(-1);
  const dueMs =
    taken === 0 || last === undefined
      ? Date.parse(record.startedAt) + timing.initialDelayMs
      : Date.parse(last.finishedAt) + timing.intervalMs;
  return nowMs >= dueMs ? { kind: "measure", index: taken } : { kind: "wait", untilMs: dueMs };
}

const clip = (s: string | undefined): string | undefined =>
  s === undefined || s.length <= MAX_MEASUREMENT_TEXT ? s : `${s.slice(0, MAX_MEASUREMENT_TEXT - 1)}…`;

function summary(timing: CheckTiming, r: Omit<CheckRecord, "message">, last: Measurement): string {
  const taken = measurementsTaken(r);
  const counts = [
    `${r.successful} successful`,
    `${r.failed} failed (limit ${timing.failureLimit})`,
    ...(r.inconclusive > 0 ? [`${r.inconclusive} inconclusive`] : []),
  ].join(", ");
  const lastText = [last.value, last.message].filter((x) => x !== undefined && x !== "").join(": ");
  return `${taken} of ${timing.count} measurements: ${counts}; last ${last.phase}${lastText === "" ? "" : ` (${lastText})`}`;
}

/**
 * The record after one more measurement. A measurement whose index is not the next one (a late duplicate,
 * or one for a check that already ended) changes nothing, so applying a result twice is harmless.
 */
export function recordMeasurement(timing: CheckTiming, record: CheckRecord, m: Measurement): CheckRecord {
  if (record.phase !== "Running" || m.index !== measurementsTaken(record)) return record;
  const kept: Measurement = {
    index: m.index,
    phase: m.phase,
    startedAt: m.startedAt,
    finishedAt: m.finishedAt,
    ...(m.value !== undefined ? { value: clip(m.value) as string } : {}),
    ...(m.message !== undefined ? { message: clip(m.message) as string } : {}),
    ...(m.logTail !== undefined ? { logTail: m.logTail.slice(-MAX_LOG_TAIL) } : {}),
  };
  const counted = {
    startedAt: record.startedAt,
    successful: record.successful + (m.phase === "Successful" ? 1 : 0),
    failed: record.failed + (m.phase === "Failed" || m.phase === "Error" ? 1 : 0),
    inconclusive: record.inconclusive + (m.phase === "Inconclusive" ? 1 : 0),
    measurements: [...record.measurements, kept].slice(-KEPT_MEASUREMENTS),
  };
  const phase: CheckPhase =
    counted.failed > timing.failureLimit
      ? "Failed"
      : measurementsTaken(counted) < timing.count
        ? "Running"
        : counted.inconclusive > 0
          ? "Inconclusive"
          : "Successful";
  return { ...counted, phase, message: summary(timing, { ...counted, phase }, kept) };
}

/** What a runner reports for one measurement; the gate runner adds the index and the times. */
export interface Outcome {
  readonly phase: MeasurementPhase;
  readonly value?: string;
  readonly message?: string;
  readonly logTail?: string;
}

/** The record is exactly the state-machine part of a check's status entry, both ways (compile-time). */
type Assignable<A, B extends A> = B;
type RecordPart = Omit<GateCheckStatus, "name" | "point" | "kind" | "revision" | "job" | "measurements"> & {
  readonly measurements: readonly GateCheckStatus["measurements"][number][];
};
export type _RecordFitsStatus = Assignable<CheckRecord, RecordPart>;
export type _StatusFitsRecord = Assignable<RecordPart, CheckRecord>;
