/**
 * The planner for an aborted revision (traffic stays) and a paused rollout (progress freezes).
 * Table cases: an Observed sketch and the time in, the exact writes and the status out.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { plan } from "../../src/bluegreen/plan.ts";
import {
  condition,
  history,
  iso,
  observed,
  SECOND,
  type Sketch,
  statusAfter,
  T0,
  withPlannedStatus,
  writes,
} from "./support/observed.ts";
import {
  awaiting,
  hasEvent,
  LONG_AGO,
  live,
  R1,
  R2,
  R3,
  switched,
  table,
  V1,
  V2,
  V3,
} from "./support/plan-cases.ts";

describe("aborted: traffic stays, the new color retires", () => {
  const aborted = (extra: Partial<Sketch> = {}) => awaiting({ annotations: { abort: R2 }, ...extra });
  /** Aborted and retired, with the Degraded condition an earlier reconcile wrote. */
  const abortedBy = (reason: string, message: string) =>
    aborted({
      preview: "blue",
      green: { image: V2, replicas: 0 },
      status: {
        phase: "Aborted",
        conditions: [
          { type: "Degraded", status: "True", lastTransitionTime: iso(T0 - 10 * SECOND), reason, message },
        ],
      },
    });
  table([
    {
      name: "abort while waiting for promotion keeps traffic, points the preview back and sets a scale-down deadline",
      given: aborted(),
      writes: ["ApplyService preview blue", `SetScaleDownDeadline green ${iso(T0 + 30 * SECOND)}`],
      phase: "Aborted",
      expect: (p, st) => {
        assert.equal(st.activeColor, "blue");
        assert.equal(condition(st, "Degraded")?.reason, "Aborted");
        assert.equal(st.rollout, undefined);
        assert.equal(p.requeueAfterMs, 30 * SECOND);
        hasEvent(p, "Warning Aborted");
      },
    },
    {
      name: "an abort the operator made keeps its cause (deadline, switch back) as the Degraded reason while aborted",
      given: abortedBy(
        "SwitchedBack",
        `Switched back to blue: revision ${R2} on green never became ready after the switch`,
      ),
      writes: [],
      phase: "Aborted",
      expect: (_p, st) => {
        assert.equal(condition(st, "Degraded")?.reason, "SwitchedBack");
        assert.match(condition(st, "Degraded")?.message ?? "", /never became ready/);
      },
    },
    {
      name: "the cause of an earlier abort of another revision is not carried over",
      given: abortedBy(
        "ProgressDeadlineExceeded",
        `Revision ${R3} not ready within progressDeadlineSeconds (600s)`,
      ),
      writes: [],
      expect: (_p, st) => assert.equal(condition(st, "Degraded")?.reason, "Aborted"),
    },
    {
      name: "an approval does not override an abort of the same revision",
      given: aborted({ annotations: { abort: R2, promote: R2 } }),
      writes: ["ApplyService preview blue", `SetScaleDownDeadline green ${iso(T0 + 30 * SECOND)}`],
      phase: "Aborted",
    },
    {
      name: "scales the aborted color down once the abort delay has passed",
      given: aborted({ preview: "blue", green: { image: V2, scaleDownAt: T0 - SECOND } }),
      writes: ["ScaleDeployment green x0"],
    },
    {
      name: "abortScaleDownDelaySeconds 0 scales the aborted color down at once",
      given: aborted({ spec: { strategy: { abortScaleDownDelaySeconds: 0 } } }),
      writes: ["ApplyService preview blue", "ScaleDeployment green x0"],
    },
    {
      name: "an aborted color already at zero needs nothing",
      given: aborted({ preview: "blue", green: { image: V2, replicas: 0 } }),
      writes: [],
      phase: "Aborted",
    },
    {
      name: "abort wins over pause",
      given: aborted({ spec: { paused: true }, preview: "blue", green: { image: V2, replicas: 0 } }),
      writes: [],
      phase: "Aborted",
    },
    {
      name: "update after abort: v3 previews normally on the idle color",
      given: live(V3, { green: { image: V2, replicas: 0 }, annotations: { abort: R2 } }),
      writes: [`ApplyDeployment green ${R3} x3`],
      phase: "Progressing",
    },
    {
      name: "a retry (abort annotation removed) brings the aborted revision back with a fresh deadline",
      given: live(V2, { green: { image: V2, replicas: 0 } }),
      writes: ["ScaleDeployment green x3"],
      phase: "Progressing",
      expect: (_p, st) => assert.equal(st.rollout?.startedAt, iso(T0)),
    },
  ]);
});

describe("paused: progress freezes, the live color keeps its size", () => {
  table([
    {
      name: "a pause holds a new revision before its template is written",
      given: live(V2, { spec: { paused: true } }),
      writes: [],
      phase: "Paused",
    },
    {
      name: "the bluegreen.io/paused annotation pauses like spec.paused",
      given: live(V2, { annotations: { paused: true } }),
      writes: [],
      phase: "Paused",
    },
    {
      name: "a pause holds an approved revision before the switch",
      given: awaiting({ spec: { paused: true }, annotations: { promote: R2 } }),
      writes: [],
      phase: "Paused",
      expect: (_p, st) => assert.equal(st.activeColor, "blue"),
    },
    {
      name: "a pause still follows replica changes of the live color",
      given: awaiting({
        spec: { paused: true, replicas: 4 },
        blue: { image: V1, replicas: 3 },
        green: { image: V2, replicas: 3 },
      }),
      writes: ["ScaleDeployment blue x4"],
      phase: "Paused",
    },
  ]);

  it("a pause stops the auto-promotion timer, which starts again from the resume", () => {
    const auto = { strategy: { promotion: { mode: "Auto", delaySeconds: 60 } } };
    const paused = observed(awaiting({ spec: { ...auto, paused: true } }, 120 * SECOND));
    const p1 = plan(paused, T0);
    assert.deepEqual(writes(p1), []);
    assert.equal(statusAfter(paused, p1).rollout?.previewReadySince, undefined);

    const resumed = { ...observed(awaiting({ spec: auto }, 120 * SECOND)), status: statusAfter(paused, p1) };
    const p2 = plan(resumed, T0 + 10 * SECOND);
    assert.deepEqual(writes(p2), [], "promoted right after the resume");
    assert.equal(statusAfter(resumed, p2).rollout?.previewReadySince, iso(T0 + 10 * SECOND));
    assert.equal(p2.requeueAfterMs, 60 * SECOND);

    const p3 = plan(withPlannedStatus(resumed, p2), T0 + 70 * SECOND);
    assert.deepEqual(writes(p3), [
      "ApplyService active green",
      `SetScaleDownDeadline blue ${iso(T0 + 100 * SECOND)}`,
    ]);
  });
});

describe("rollback without a spec edit: the live revision aborted while the previous color is warm", () => {
  const rolledBackMessage = `Rolled back: revision ${R2} was aborted while live on green; blue serves revision ${R1} again, until the spec moves on to another revision (the spec was not changed)`;
  /** After the switch back: blue serves v1 again, green (v2) waits for its abort deadline. */
  const rolledBack = (extra: Partial<Sketch> = {}) =>
    switched({
      active: "blue",
      preview: "blue",
      green: { image: V2, scaleDownAt: T0 + 20 * SECOND },
      annotations: { abort: R2 },
      status: {
        activeColor: "blue",
        phase: "Aborted",
        history: history({ image: V2, at: T0 - 60 * SECOND, from: "blue" }, { image: V1, at: LONG_AGO }),
        conditions: [
          {
            type: "Degraded",
            status: "True",
            lastTransitionTime: iso(T0 - 10 * SECOND),
            reason: "RolledBack",
            message: rolledBackMessage,
          },
        ],
      },
      ...extra,
    });
  table([
    {
      name: "one selector write puts traffic back on the warm color; the aborted one gets the abort deadline",
      given: switched({ annotations: { abort: R2 } }),
      writes: [
        "ApplyService active blue",
        "ApplyService preview blue",
        `SetScaleDownDeadline green ${iso(T0 + 30 * SECOND)}`,
      ],
      phase: "Aborted",
      expect: (p, st) => {
        assert.equal(st.activeColor, "blue");
        assert.equal(st.activeRevision, R1);
        assert.equal(st.message, rolledBackMessage);
        assert.equal(condition(st, "Degraded")?.reason, "RolledBack");
        assert.equal(condition(st, "Promoted")?.status, "False");
        assert.equal(p.requeueAfterMs, 30 * SECOND);
        hasEvent(p, "Warning RolledBack");
        assert.ok(!p.actions.some((a) => a.type === "ClearAborted"), "the abort must stay");
      },
    },
    {
      name: "works after verification too, while the old color is still within its scale-down delay",
      given: switched({
        annotations: { abort: R2 },
        status: {
          activeColor: "green",
          phase: "Stable",
          history: history({ image: V2, at: T0 - 60 * SECOND, from: "blue" }, { image: V1, at: LONG_AGO }),
        },
      }),
      writes: [
        "ApplyService active blue",
        "ApplyService preview blue",
        `SetScaleDownDeadline green ${iso(T0 + 30 * SECOND)}`,
      ],
      phase: "Aborted",
    },
    {
      name: "then traffic stays on it and the BGD keeps saying why, with no write",
      given: rolledBack(),
      writes: [],
      phase: "Aborted",
      expect: (p, st) => {
        assert.equal(st.activeColor, "blue");
        assert.equal(st.message, rolledBackMessage);
        assert.equal(condition(st, "Degraded")?.reason, "RolledBack");
        assert.equal(p.requeueAfterMs, 20 * SECOND);
      },
    },
    {
      name: "the aborted color is scaled down at its deadline; traffic stays",
      given: rolledBack({ green: { image: V2, scaleDownAt: T0 - SECOND } }),
      writes: ["ScaleDeployment green x0"],
      phase: "Aborted",
    },
    {
      name: "abortScaleDownDelaySeconds 0: the switch back writes no deadline, the next reconcile scales down",
      given: switched({ annotations: { abort: R2 }, spec: { strategy: { abortScaleDownDelaySeconds: 0 } } }),
      writes: ["ApplyService active blue", "ApplyService preview blue"],
      phase: "Aborted",
    },
    {
      name: "a previous color already scaled down: no switch, the BGD says why",
      given: switched({ annotations: { abort: R2 }, blue: { image: V1, replicas: 0 } }),
      writes: [],
      expect: (_p, st) => {
        assert.equal(st.activeColor, "green");
        assert.match(st.message ?? "", /cannot roll back: no color that served before is warm/);
      },
    },
    {
      name: "a previous color not fully ready: no switch",
      given: switched({
        annotations: { abort: R2 },
        blue: { image: V1, ready: 2, scaleDownAt: T0 + 20 * SECOND },
      }),
      writes: [],
      expect: (_p, st) => assert.equal(st.activeColor, "green"),
    },
    {
      name: "never to a color whose revision never served (an aborted preview nobody approved)",
      given: {
        image: V1,
        blue: { image: V1 },
        green: { image: V2, scaleDownAt: T0 + 20 * SECOND },
        active: "blue",
        annotations: { abort: R1 },
        status: { activeColor: "blue", phase: "Stable", history: history({ image: V1, at: LONG_AGO }) },
      },
      writes: [],
      expect: (_p, st) => assert.equal(st.activeColor, "blue"),
    },
    {
      name: "Git moves on to v3: the abort is cleared and v3 rolls out to the retired color",
      given: rolledBack({ image: V3, green: { image: V2, replicas: 0 } }),
      writes: [`ApplyDeployment green ${R3} x3`],
      phase: "Progressing",
      expect: (p) => assert.ok(p.actions.some((a) => a.type === "ClearAborted" && a.revision === R2)),
    },
    {
      name: "Git reverts to v1: steady on blue, the abort is cleared",
      given: rolledBack({ image: V1, green: { image: V2, replicas: 0 } }),
      writes: [],
      phase: "Stable",
      expect: (p) => assert.ok(p.actions.some((a) => a.type === "ClearAborted" && a.revision === R2)),
    },
  ]);
});
