/**
 * One point of a rollout (preRollout, prePromotion, postPromotion) is an ordered list of checks: each starts
 * when the one before it succeeded, so a migration Job finishes before the smoke test that needs it starts.
 * `pointProgress` says, from the records in status and the injected time, what the point needs next. Pure.
 */
import { type CheckRecord, type CheckTiming, nextStep } from "./measurement.ts";

export interface CheckRef {
  readonly name: string;
  readonly timing: CheckTiming;
}

export type PointProgress =
  /** Every check succeeded (also: the point has no checks). */
  | { readonly kind: "passed" }
  | { readonly kind: "failed"; readonly check: string; readonly message: string }
  /** A check ended without a decision: the point holds until a person decides. */
  | { readonly kind: "inconclusive"; readonly check: string; readonly message: string }
  /** The check has no record yet: start it (status gets a fresh record). */
  | { readonly kind: "start"; readonly check: string }
  | { readonly kind: "measure"; readonly check: string; readonly index: number }
  | { readonly kind: "wait"; readonly check: string; readonly untilMs: number };

export function pointProgress(
  checks: readonly CheckRef[],
  records: ReadonlyMap<string, CheckRecord>,
  nowMs: number,
): PointProgress {
  for (const check of checks) {
    const record = records.get(check.name);
    if (record === undefined) return { kind: "start", check: check.name };
    const step = nextStep(check.timing, record, nowMs);
    switch (step.kind) {
      case "measure":
        return { kind: "measure", check: check.name, index: step.index };
      case "wait":
        return { kind: "wait", check: check.name, untilMs: step.untilMs };
      case "done":
        if (step.phase === "Failed") return { kind: "failed", check: check.name, message: record.message };
        if (step.phase === "Inconclusive")
          return { kind: "inconclusive", check: check.name, message: record.message };
    }
  }
  return { kind: "passed" };
}
