/**
 * The planner while the live color runs the desired revision: sizes, preview, verification, scale-down.
 * Table cases: an Observed sketch and the time in, the exact writes and the status out.
 */
import assert from "node:assert/strict";
import { describe } from "node:test";
import { condition, history, iso, SECOND, T0 } from "./support/observed.ts";
import {
  DEADLINE,
  hasEvent,
  LONG_AGO,
  live,
  R2,
  switched,
  table,
  V0,
  V1,
  V2,
  V3,
} from "./support/plan-cases.ts";

describe("steady: the live color runs the desired revision", () => {
  table([
    {
      name: "a replica-only change scales the live color and never writes a template",
      given: live(V1, { spec: { replicas: 5 }, blue: { image: V1, replicas: 3 } }),
      writes: ["ScaleDeployment blue x5"],
    },
    {
      name: "an edited active Service is put back, on the same color",
      given: live(V1, { activeUpToDate: false }),
      writes: ["ApplyService active blue"],
    },
    {
      name: "the preview Service follows the live color when no rollout is in progress",
      given: live(V1, { green: { image: V2, replicas: 0 }, preview: "green" }),
      writes: ["ApplyService preview blue"],
    },
    {
      name: "keeps the old color warm until its scale-down deadline, and reports Stable meanwhile",
      given: switched({ blue: { image: V1, scaleDownAt: T0 + 20 * SECOND } }),
      writes: [],
      phase: "Stable",
      expect: (p) => assert.equal(p.requeueAfterMs, 20 * SECOND),
    },
    {
      name: "scales the old color down once its deadline has passed",
      given: switched({ blue: { image: V1, scaleDownAt: T0 - SECOND } }),
      writes: ["ScaleDeployment blue x0"],
      phase: "Stable",
      expect: (p) => hasEvent(p, "Normal ScaledDown"),
    },
    {
      name: "a retired color that served and lost its scale-down deadline is kept warm the whole delay from now",
      given: switched({ blue: { image: V1 } }),
      writes: [`SetScaleDownDeadline blue ${iso(T0 + 30 * SECOND)}`],
      phase: "Stable",
      expect: (p) => assert.equal(p.requeueAfterMs, 30 * SECOND),
    },
    {
      name: "an unreadable scale-down deadline on a retired color that served is written again, the whole delay from now",
      given: switched({ blue: { image: V1, scaleDownAt: "invalid" } }),
      writes: [`SetScaleDownDeadline blue ${iso(T0 + 30 * SECOND)}`],
    },
    {
      name: "a retired color that never served (not in the history) and has no deadline is scaled down now",
      given: switched({
        blue: { image: V1 },
        status: {
          activeColor: "green",
          phase: "Verifying",
          history: history({ image: V2, at: T0 - 10 * SECOND, from: "blue" }),
        },
      }),
      writes: ["ScaleDeployment blue x0"],
    },
    {
      name: "scaleDownDelaySeconds 0 scales a retired color without a deadline down now",
      given: switched({ spec: { strategy: { scaleDownDelaySeconds: 0 } }, blue: { image: V1 } }),
      writes: ["ScaleDeployment blue x0"],
    },
    {
      name: "scaleDownDelaySeconds 0 keeps the old color while the new one is not verified behind the active Service",
      given: switched({
        spec: { strategy: { scaleDownDelaySeconds: 0 } },
        blue: { image: V1, scaleDownAt: T0 - 10 * SECOND },
        activeEndpoints: { green: 2 },
      }),
      writes: [],
      phase: "Verifying",
      expect: (p) => assert.equal(p.requeueAfterMs, DEADLINE - 10 * SECOND),
    },
    {
      name: "scaleDownDelaySeconds 0 scales the old color down on the reconcile after the new one is verified",
      given: switched({
        spec: { strategy: { scaleDownDelaySeconds: 0 } },
        blue: { image: V1, scaleDownAt: T0 - 10 * SECOND },
      }),
      writes: ["ScaleDeployment blue x0"],
      phase: "Stable",
    },
    {
      name: "switches back when the promoted color never becomes ready within the deadline",
      given: switched({ green: { image: V2, ready: 1 } }, DEADLINE + SECOND),
      writes: ["ApplyService active blue", `MarkAborted ${R2}`],
      phase: "Aborted",
      expect: (p, st) => {
        hasEvent(p, "Warning SwitchedBack");
        assert.equal(st.activeColor, "blue");
        assert.equal(condition(st, "Degraded")?.reason, "SwitchedBack");
      },
    },
    {
      name: "does not switch back before the deadline after the switch",
      given: switched({ green: { image: V2, ready: 1 } }, DEADLINE - SECOND),
      writes: [],
      phase: "Verifying",
      expect: (p) => assert.equal(p.requeueAfterMs, SECOND),
    },
    {
      name: "does not switch back to an old color that is no longer fully ready",
      given: switched({ green: { image: V2, ready: 1 }, blue: { image: V1, ready: 2 } }, DEADLINE + SECOND),
      writes: [],
      phase: "Verifying",
    },
    {
      name: "with revisionHistoryLimit 1, still switches back to the color it switched from",
      given: switched(
        {
          spec: { revisionHistoryLimit: 1 },
          // The deadline the switch wrote: promotedAt + scaleDownDelaySeconds (30).
          blue: { image: V1, scaleDownAt: T0 - DEADLINE - SECOND + 30 * SECOND },
          green: { image: V2, ready: 1 },
          status: {
            activeColor: "green",
            history: history({ image: V2, at: T0 - DEADLINE - SECOND, from: "blue" }),
          },
        },
        DEADLINE + SECOND,
      ),
      writes: ["ApplyService active blue", `MarkAborted ${R2}`],
    },
    {
      name: "never switches back to a color that a later rollout rewrote (v3 pushed, then v2 re-applied)",
      given: switched({ green: { image: V2, ready: 1 }, blue: { image: V3 } }, DEADLINE + SECOND),
      writes: [],
      phase: "Verifying",
    },
    {
      name: "never switches back to a revision aborted on the other color after a revert",
      given: live(V1, {
        blue: { image: V1, ready: 2 },
        green: { image: V2, scaleDownAt: T0 + 20 * SECOND },
        annotations: { abort: R2 },
      }),
      writes: [],
    },
    {
      name: "never switches back to a revision aborted on the other color after a revert, once the abort is cleared",
      given: live(V1, {
        blue: { image: V1, ready: 2 },
        green: { image: V2, scaleDownAt: T0 + 20 * SECOND },
        status: {
          activeColor: "blue",
          history: history({ image: V1, at: LONG_AGO, from: "green" }, { image: V0, at: LONG_AGO - SECOND }),
        },
      }),
      writes: [],
    },
    {
      name: "after a revert mid-rollout, a live pod short never hands the traffic to the unapproved preview",
      given: live(V1, {
        blue: { image: V1, ready: 2 },
        green: { image: V2 },
        preview: "green",
      }),
      writes: ["ApplyService preview blue"],
      expect: (_p, st) => {
        assert.equal(st.activeColor, "blue");
        assert.notEqual(st.phase, "Aborted");
      },
    },
    {
      name: "a Deployment written by an older operator (no template annotation) is recognised by its revision",
      given: live(V1, { blue: { image: V1, withoutTemplateAnnotation: true } }),
      writes: [],
      phase: "Stable",
    },
  ]);
});
