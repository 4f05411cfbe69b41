/**
 * Gates in the planner: a preRollout migration before the new template is written, prePromotion checks that
 * hold both an approval and the automatic promotion, and a failed check that aborts with traffic never moved.
 * Results come from status and the runner (Observed), time from the caller: nothing here runs a check.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Measurement } from "../../src/bluegreen/gates/measurement.ts";
import { plan } from "../../src/bluegreen/plan.ts";
import type { ObservedGates } from "../../src/bluegreen/types.ts";
import {
  condition,
  events,
  iso,
  observed,
  SECOND,
  type Sketch,
  statusAfter,
  T0,
  UID,
  writes,
} from "./support/observed.ts";
import { awaiting, live, R2, rollingOut, switched, V2 } from "./support/plan-cases.ts";

const smoke = { name: "smoke", http: { url: "http://{{previewServiceIP}}:{{servicePort}}/healthz" } };
const migrate = {
  name: "migrate",
  job: { spec: { template: { spec: { containers: [{ name: "m", image: "migrate:v2" }] } } } },
};
const gates = (
  results: Record<string, Measurement["phase"]> = {},
  jobs: Record<string, unknown> = {},
): ObservedGates => ({
  result: (id) => {
    const phase = results[id];
    return phase === undefined
      ? undefined
      : { index: 0, phase, startedAt: iso(T0 - SECOND), finishedAt: iso(T0), value: "status 200" };
  },
  jobs: new Map(Object.entries(jobs)),
  activeServiceIP: "10.96.0.10",
  previewServiceIP: "10.96.0.11",
});
const id = (check: string) => `${UID}/${R2}/${check}/0`;

/** Plans twice: once to start the check (its record), once more from the status the first wrote. */
function settle(sketch: Sketch, again: Partial<Sketch> = {}, now = T0) {
  const first = plan(observed(sketch), now);
  const o = observed({ ...sketch, ...again, status: statusAfter(observed(sketch), first) });
  return { first, o, p: plan(o, now) };
}

describe("prePromotion gates", () => {
  const withGate = (extra: Partial<Sketch> = {}): Sketch =>
    awaiting({ spec: { gates: { prePromotion: [smoke] } }, gates: gates(), ...extra });

  it("measure the ready preview before it awaits promotion, through its ClusterIP", () => {
    const o = observed(withGate());
    const p = plan(o, T0);
    assert.deepEqual(writes(p), [`RunMeasurement ${id("smoke")}`]);
    const m = p.actions.find((a) => a.type === "RunMeasurement");
    assert.equal(
      m?.type === "RunMeasurement" && m.work.work.kind === "http" && m.work.work.request.url,
      "http://10.96.0.11:80/healthz",
    );
    const st = statusAfter(o, p);
    assert.equal(st.phase, "Progressing");
    assert.match(st.message ?? "", /waiting for prePromotion gate smoke/);
    assert.deepEqual(
      st.gates?.map((g) => [g.name, g.point, g.phase, g.revision]),
      [["smoke", "prePromotion", "Running", R2]],
    );
  });
  it("hold an approval until they pass: no switch while the check runs", () => {
    const { p } = settle(withGate({ annotations: { promote: R2 } }));
    assert.ok(!writes(p).includes("ApplyService active green"), writes(p).join(", "));
  });
  it("let an approved revision switch once they passed, and tell the runner its result is recorded", () => {
    const { p } = settle(withGate({ annotations: { promote: R2 } }), {
      gates: gates({ [id("smoke")]: "Successful" }),
    });
    assert.deepEqual(writes(p), [
      `ForgetMeasurement ${id("smoke")}`,
      "ApplyService active green",
      `SetScaleDownDeadline blue ${iso(T0 + 30 * SECOND)}`,
    ]);
  });
  it("let the automatic promotion count its delay only from when they passed", () => {
    const auto = {
      spec: { gates: { prePromotion: [smoke] }, strategy: { promotion: { mode: "Auto", delaySeconds: 60 } } },
      // The preview became ready with the gates in place: it was never "ready for promotion" before.
      status: { phase: "Progressing" as const, rollout: { revision: R2, startedAt: iso(T0 - 10 * SECOND) } },
    };
    const { p, o } = settle(withGate(auto), { gates: gates({ [id("smoke")]: "Successful" }) });
    const st = statusAfter(o, p);
    assert.equal(st.phase, "AwaitingPromotion");
    assert.ok(!writes(p).includes("ApplyService active green"));
    assert.match(st.message ?? "", new RegExp(`promoting automatically at ${iso(T0 + 60 * SECOND)}`));
  });
  it("hold the automatic promotion with no delay: the preview keeps its preview size and no approval is recorded while a check runs", () => {
    // Auto, delay 0, a preview of 1 of 3 pods that has just become ready behind the preview Service.
    const sketch = rollingOut(
      { image: V2, replicas: 1 },
      {
        preview: "green",
        spec: {
          preview: { replicas: 1 },
          strategy: { promotion: { mode: "Auto", delaySeconds: 0 } },
          gates: { prePromotion: [smoke] },
        },
        gates: gates(),
      },
    );
    const { first, p, o } = settle(sketch);
    for (const plan of [first, p]) {
      assert.ok(!writes(plan).some((w) => w.startsWith("ScaleDeployment green")), writes(plan).join(", "));
      assert.ok(!writes(plan).includes("ApplyService active green"), writes(plan).join(", "));
    }
    const st = statusAfter(o, p);
    assert.equal(st.rollout?.promotedAt, undefined, "not approved while the gate runs");
    assert.equal(st.phase, "Progressing");
    assert.match(st.message ?? "", /waiting for prePromotion gate smoke/);
  });
  it("hold an approval given early: the preview keeps its preview size until they passed", () => {
    const sketch = rollingOut(
      { image: V2, replicas: 1 },
      {
        preview: "green",
        annotations: { promote: R2 },
        spec: { preview: { replicas: 1 }, gates: { prePromotion: [smoke] } },
        gates: gates(),
      },
    );
    const { first, p, o } = settle(sketch);
    for (const plan of [first, p])
      assert.ok(!writes(plan).some((w) => w.startsWith("ScaleDeployment green")), writes(plan).join(", "));
    assert.equal(statusAfter(o, p).rollout?.promotedAt, undefined);
  });
  it("promote automatically with no delay once they passed: full size first, then the switch", () => {
    const sketch = rollingOut(
      { image: V2, replicas: 1 },
      {
        preview: "green",
        spec: {
          preview: { replicas: 1 },
          strategy: { promotion: { mode: "Auto", delaySeconds: 0 } },
          gates: { prePromotion: [smoke] },
        },
        gates: gates(),
      },
    );
    const { p, o } = settle(sketch, { gates: gates({ [id("smoke")]: "Successful" }) });
    assert.deepEqual(writes(p), [`ForgetMeasurement ${id("smoke")}`, "ScaleDeployment green x3"]);
    const st = statusAfter(o, p);
    assert.equal(st.phase, "Promoting");
    assert.equal(st.rollout?.promotedAt, iso(T0));
    // At full size and ready, the next reconcile switches (the gate's passed record stands).
    const full = observed({ ...sketch, green: { image: V2 }, status: st, gates: gates() });
    assert.ok(writes(plan(full, T0 + SECOND)).includes("ApplyService active green"));
  });
  it("abort the revision when a check fails, with traffic never moved and the cause kept", () => {
    const { p, o } = settle(withGate({ annotations: { promote: R2 } }), {
      gates: gates({ [id("smoke")]: "Failed" }),
    });
    assert.deepEqual(writes(p), [`ForgetMeasurement ${id("smoke")}`, `MarkAborted ${R2}`]);
    assert.deepEqual(events(p), ["Warning GateFailed", "Warning Aborted"]);
    const st = statusAfter(o, p);
    assert.equal(st.phase, "Aborted");
    assert.equal(st.activeColor, "blue");
    assert.equal(condition(st, "Degraded")?.reason, "GateFailed");
    assert.equal(st.gates?.[0]?.phase, "Failed");
    // The next reconcile (aborted) keeps why, and the failed record.
    const after = observed({ ...withGate(), annotations: { abort: R2 }, status: st });
    const next = statusAfter(after, plan(after, T0 + SECOND));
    assert.equal(condition(next, "Degraded")?.reason, "GateFailed");
    assert.equal(next.gates?.[0]?.phase, "Failed");
  });
});

describe("preRollout gates", () => {
  const withMigration = (extra: Partial<Sketch> = {}): Sketch =>
    live(V2, { spec: { gates: { preRollout: [migrate] } }, gates: gates(), ...extra });
  const job = `app-migrate-${R2}`;
  const done = (type: "Complete" | "Failed") => ({
    status: {
      conditions: [{ type, status: "True", reason: type === "Failed" ? "BackoffLimitExceeded" : undefined }],
    },
  });

  it("create the migration Job and write no new template while it runs", () => {
    const o = observed(withMigration());
    const p = plan(o, T0);
    assert.deepEqual(writes(p), [`CreateJob ${job}`]);
    const st = statusAfter(o, p);
    assert.equal(st.phase, "Progressing");
    assert.deepEqual(st.rollout, { revision: R2, startedAt: iso(T0) });
    const running = settle(withMigration(), { gates: gates({}, { [job]: { status: { active: 1 } } }) });
    assert.deepEqual(writes(running.p), []);
  });
  it("write the new template once the Job completed", () => {
    const { p } = settle(withMigration(), {
      gates: gates({ [id("migrate")]: "Successful" }, { [job]: done("Complete") }),
    });
    assert.deepEqual(writes(p), [`ForgetMeasurement ${id("migrate")}`, `ApplyDeployment green ${R2} x3`]);
  });
  it("abort before any new pod starts when the Job failed", () => {
    const { p, o } = settle(withMigration(), {
      gates: gates({ [id("migrate")]: "Failed" }, { [job]: done("Failed") }),
    });
    assert.deepEqual(writes(p), [`ForgetMeasurement ${id("migrate")}`, `MarkAborted ${R2}`]);
    assert.equal(statusAfter(o, p).phase, "Aborted");
  });
});

describe("postPromotion gates", () => {
  const verify = {
    name: "live-errors",
    prometheus: { address: "http://127.0.0.1:9090", query: "x", successCondition: "result < 0.05" },
  };
  const withGate = (extra: Partial<Sketch> = {}): Sketch =>
    switched({ spec: { gates: { postPromotion: [verify] } }, gates: gates(), ...extra });

  it("check live traffic once the switch is verified, keeping the old color warm past its scale-down time", () => {
    const o = observed(withGate());
    const p = plan(o, T0 + 60 * SECOND);
    assert.deepEqual(writes(p), [`RunMeasurement ${id("live-errors")}`]);
    assert.equal(statusAfter(o, p).phase, "Verifying");
  });
  it("switch back to the warm old color when one fails", () => {
    const { p, o } = settle(
      withGate(),
      { gates: gates({ [id("live-errors")]: "Failed" }) },
      T0 + 60 * SECOND,
    );
    assert.deepEqual(writes(p), [
      "ApplyService active blue",
      `ForgetMeasurement ${id("live-errors")}`,
      `MarkAborted ${R2}`,
    ]);
    const st = statusAfter(o, p);
    assert.equal(st.activeColor, "blue");
    assert.equal(st.phase, "Aborted");
    assert.equal(condition(st, "Degraded")?.reason, "GateFailed");
    assert.deepEqual(events(p).slice(0, 2), ["Warning GateFailed", "Warning SwitchedBack"]);
  });
  it("let the old color go once they passed", () => {
    const { p } = settle(
      withGate(),
      { gates: gates({ [id("live-errors")]: "Successful" }) },
      T0 + 60 * SECOND,
    );
    assert.deepEqual(writes(p), [`ForgetMeasurement ${id("live-errors")}`, "ScaleDeployment blue x0"]);
  });
});
