/**
 * A check's measurements as a pure state machine: when each is due, how outcomes decide the check, and that
 * the record stays bounded and idempotent whatever order results arrive in.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  type CheckRecord,
  type CheckTiming,
  KEPT_MEASUREMENTS,
  type MeasurementPhase,
  measurementsTaken,
  nextStep,
  recordMeasurement,
  startCheck,
} from "../../src/bluegreen/gates/measurement.ts";
import { pointProgress } from "../../src/bluegreen/gates/point.ts";

const T0 = Date.parse("2026-01-01T00:00:00Z");
const S = 1000;
const timing = (t: Partial<CheckTiming> = {}): CheckTiming => ({
  intervalMs: 10 * S,
  count: 3,
  failureLimit: 0,
  initialDelayMs: 0,
  ...t,
});

/** Runs measurements at the moments nextStep asks for them, each taking one second. */
function run(t: CheckTiming, outcomes: readonly MeasurementPhase[], startMs = T0): CheckRecord {
  let r = startCheck(startMs);
  let now = startMs;
  for (const phase of outcomes) {
    const step = nextStep(t, r, now);
    if (step.kind === "done") break;
    if (step.kind === "wait") now = step.untilMs;
    const index = measurementsTaken(r);
    r = recordMeasurement(t, r, {
      index,
      phase,
      startedAt: new Date(now).toISOString(),
      finishedAt: new Date(now + S).toISOString(),
      value: String(index),
    });
    now += S;
  }
  return r;
}

describe("when measurements are due", () => {
  it("the first after initialDelaySeconds, counted from the start of the check", () => {
    const t = timing({ initialDelayMs: 30 * S });
    const r = startCheck(T0);
    assert.deepEqual(nextStep(t, r, T0), { kind: "wait", untilMs: T0 + 30 * S });
    assert.deepEqual(nextStep(t, r, T0 + 30 * S), { kind: "measure", index: 0 });
  });
  it("each next one interval after the previous one finished", () => {
    const t = timing();
    const r = run(t, ["Successful"]);
    // measured at T0, finished at T0+1s
    assert.deepEqual(nextStep(t, r, T0 + 5 * S), { kind: "wait", untilMs: T0 + 11 * S });
    assert.deepEqual(nextStep(t, r, T0 + 11 * S), { kind: "measure", index: 1 });
  });
  it("none once the check is decided", () => {
    assert.deepEqual(nextStep(timing(), run(timing(), ["Failed"]), T0 + 999 * S), {
      kind: "done",
      phase: "Failed",
    });
  });
});

describe("how outcomes decide a check", () => {
  const table: [string, Partial<CheckTiming>, MeasurementPhase[], string, number][] = [
    ["count successes pass", { count: 3 }, ["Successful", "Successful", "Successful"], "Successful", 3],
    ["one failure with limit 0 fails at once", { count: 3 }, ["Successful", "Failed"], "Failed", 2],
    ["an error counts as a failure", { count: 3 }, ["Error"], "Failed", 1],
    [
      "a flap within failureLimit passes",
      { count: 4, failureLimit: 1 },
      ["Successful", "Failed", "Successful", "Successful"],
      "Successful",
      4,
    ],
    [
      "failures beyond failureLimit fail before count is reached",
      { count: 10, failureLimit: 1 },
      ["Failed", "Successful", "Error"],
      "Failed",
      3,
    ],
    [
      "an inconclusive measurement leaves the check undecided",
      { count: 2 },
      ["Successful", "Inconclusive"],
      "Inconclusive",
      2,
    ],
    ["still running before count", { count: 3 }, ["Successful", "Successful"], "Running", 2],
  ];
  for (const [what, t, outcomes, phase, taken] of table) {
    it(what, () => {
      const r = run(timing(t), outcomes);
      assert.equal(r.phase, phase);
      assert.equal(measurementsTaken(r), taken);
    });
  }
  it("says how far it got and what the last measurement saw", () => {
    const r = run(timing({ count: 4, failureLimit: 1 }), ["Successful", "Failed", "Error"]);
    assert.equal(r.message, "3 of 4 measurements: 1 successful, 2 failed (limit 1); last Error (2)");
  });
});

describe("records", () => {
  it("ignore a result recorded twice or out of turn", () => {
    const t = timing();
    const r = run(t, ["Successful"]);
    const again = { index: 0, phase: "Failed" as const, startedAt: r.startedAt, finishedAt: r.startedAt };
    assert.equal(recordMeasurement(t, r, again), r);
    assert.equal(recordMeasurement(t, r, { ...again, index: 5 }), r);
  });
  it("stay bounded and consistent for any outcomes (property)", () => {
    const phases = fc.constantFrom<MeasurementPhase>("Successful", "Failed", "Error", "Inconclusive");
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 20 }),
        fc.integer({ min: 0, max: 5 }),
        fc.array(phases, { maxLength: 30 }),
        (count, failureLimit, outcomes) => {
          const t = timing({ count, failureLimit });
          const r = run(t, outcomes);
          const taken = measurementsTaken(r);
          assert.ok(taken <= count);
          assert.ok(r.measurements.length <= KEPT_MEASUREMENTS);
          const failures = outcomes.slice(0, taken).filter((p) => p === "Failed" || p === "Error").length;
          assert.equal(r.failed, failures);
          if (failures > failureLimit) assert.equal(r.phase, "Failed");
          else if (taken < count) assert.equal(r.phase, "Running");
          else assert.equal(r.phase, r.inconclusive > 0 ? "Inconclusive" : "Successful");
        },
      ),
    );
  });
});

describe("a point's checks run in order", () => {
  const checks = [
    { name: "migrate", timing: timing({ count: 1 }) },
    { name: "smoke", timing: timing({ count: 2, initialDelayMs: 5 * S }) },
  ];
  it("starts the first check, then the next only after it succeeded", () => {
    assert.deepEqual(pointProgress(checks, new Map(), T0), { kind: "start", check: "migrate" });
    const migrated = run(checks[0]?.timing ?? timing(), ["Successful"]);
    assert.deepEqual(pointProgress(checks, new Map([["migrate", migrated]]), T0 + 2 * S), {
      kind: "start",
      check: "smoke",
    });
    const smoke = startCheck(T0 + 2 * S);
    assert.deepEqual(
      pointProgress(
        checks,
        new Map([
          ["migrate", migrated],
          ["smoke", smoke],
        ]),
        T0 + 3 * S,
      ),
      { kind: "wait", check: "smoke", untilMs: T0 + 7 * S },
    );
  });
  it("fails at the first failed check and never starts the ones after it", () => {
    const failed = run(checks[0]?.timing ?? timing(), ["Failed"]);
    const p = pointProgress(checks, new Map([["migrate", failed]]), T0 + 60 * S);
    assert.equal(p.kind, "failed");
    assert.equal(p.kind === "failed" && p.check, "migrate");
  });
  it("passes when every check succeeded, and at once when there are none", () => {
    const ok1 = run(timing({ count: 1 }), ["Successful"]);
    const ok2 = run(timing({ count: 2 }), ["Successful", "Successful"]);
    assert.deepEqual(
      pointProgress(
        checks,
        new Map([
          ["migrate", ok1],
          ["smoke", ok2],
        ]),
        T0,
      ),
      { kind: "passed" },
    );
    assert.deepEqual(pointProgress([], new Map(), T0), { kind: "passed" });
  });
});
