/**
 * The planner, one reconcile at a time: given what the cluster shows (an Observed sketch) and the time,
 * which writes does it plan, and what does it report? Grouped by situation; the last group runs
 * whole scenarios through the simulated cluster of support/world.ts.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { BlueGreenDeploymentStatus } from "../../src/api/schema.ts";
import { classify, plan } from "../../src/bluegreen/plan.ts";
import type { Observed, Plan } from "../../src/bluegreen/types.ts";
import {
  type ColorSketch,
  condition,
  events,
  history,
  iso,
  observed,
  rev,
  SECOND,
  type Sketch,
  statusAfter,
  T0,
  withPlannedStatus,
  writes,
} from "./support/observed.ts";
import {
  annotate,
  editSpec,
  newWorld,
  podFails,
  reconcile,
  settleCluster,
  type World,
} from "./support/world.ts";

const V0 = "app:v0";
const V1 = "app:v1";
const V2 = "app:v2";
const V3 = "app:v3";
const [R1, R2, R3] = [rev(V1), rev(V2), rev(V3)];
const LONG_AGO = T0 - 3600 * SECOND;
const DEADLINE = 600 * SECOND; // the default progressDeadlineSeconds

interface Case {
  readonly name: string;
  readonly given: Sketch;
  readonly now?: number;
  /** The plan's cluster writes, exactly and in order (Events and status are checked in `then`). */
  readonly writes: readonly string[];
  readonly phase?: NonNullable<BlueGreenDeploymentStatus["phase"]>;
  readonly expect?: (p: Plan, status: BlueGreenDeploymentStatus, o: Observed) => void;
  /** A known defect of the planner: the case states the behaviour we want and is reported, not enforced. */
  readonly todo?: string;
}

function table(cases: readonly Case[]): void {
  for (const c of cases) {
    it(c.name, c.todo !== undefined ? { todo: c.todo } : {}, () => {
      const o = observed(c.given);
      const p = plan(o, c.now ?? T0);
      assert.deepEqual(writes(p), c.writes);
      const status = statusAfter(o, p);
      if (c.phase !== undefined) assert.equal(status.phase, c.phase, status.message);
      c.expect?.(p, status, o);
    });
  }
}

// Common cluster shapes ------------------------------------------------------------------------------------

/** v1 serving from blue since long ago; the spec now asks for `image`. */
const live = (image: string, extra: Partial<Sketch> = {}): Sketch => ({
  image,
  blue: { image: V1 },
  active: "blue",
  status: { activeColor: "blue", phase: "Stable", history: history({ image: V1, at: LONG_AGO }) },
  ...extra,
});

/** v2 deployed to green alongside live v1 (the rollout of v2 started `startedAgo` ms before T0). */
const rollingOut = (green: ColorSketch, extra: Partial<Sketch> = {}, startedAgo = 10 * SECOND): Sketch =>
  live(V2, {
    green,
    preview: "blue",
    ...extra,
    status: {
      activeColor: "blue",
      phase: "Progressing",
      history: history({ image: V1, at: LONG_AGO }),
      rollout: { revision: R2, startedAt: iso(T0 - startedAgo) },
      ...extra.status,
    },
  });

/** v2 on green, fully ready behind the preview Service, waiting for approval since `readyAgo`. */
const awaiting = (extra: Partial<Sketch> = {}, readyAgo = 5 * SECOND, startedAgo = 10 * SECOND): Sketch => {
  const base = rollingOut({ image: V2 }, { preview: "green", ...extra }, startedAgo);
  return {
    ...base,
    status: {
      ...base.status,
      phase: "AwaitingPromotion",
      rollout: { revision: R2, startedAt: iso(T0 - startedAgo), previewReadySince: iso(T0 - readyAgo) },
      // What the last status recorded while the preview was fully ready.
      colors: { green: { revision: R2, image: V2, replicas: 3, readyReplicas: 3, role: "preview" } },
      ...extra.status,
    },
  };
};

/** Just switched from blue (v1, kept warm) to green (v2) `switchedAgo` ms before T0. */
const switched = (extra: Partial<Sketch> = {}, switchedAgo = 10 * SECOND): Sketch => ({
  image: V2,
  blue: { image: V1, scaleDownAt: T0 + 20 * SECOND },
  green: { image: V2 },
  active: "green",
  status: {
    activeColor: "green",
    phase: "Verifying",
    history: history({ image: V2, at: T0 - switchedAgo, from: "blue" }, { image: V1, at: LONG_AGO }),
  },
  ...extra,
});

const hasEvent = (p: Plan, e: string) =>
  assert.ok(events(p).includes(e), `no ${e} in ${events(p).join(", ")}`);
const noAbort = (p: Plan) => assert.ok(!p.actions.some((a) => a.type === "MarkAborted"), "aborted");

// ---------------------------------------------------------------------------------------------------------

describe("first deployment", () => {
  table([
    {
      name: "a hand-broken active selector goes back to the color that served, never to an unapproved preview",
      given: {
        image: V2,
        active: "invalid",
        blue: { image: V1 },
        green: { image: V2 },
        status: { activeColor: "blue" },
      },
      writes: ["ApplyService active blue"],
      phase: "Progressing",
      expect: (p) =>
        assert.ok(
          p.actions.some((a) => a.type === "ApplyService" && a.repair === true),
          "the Service spec is replaced, not merged",
        ),
    },
    {
      name: "writes blue at full size and points no Service at it yet",
      given: { image: V1 },
      writes: [`ApplyDeployment blue ${R1} x3`],
      phase: "Initializing",
      expect: (_p, st) => assert.equal(st.rollout?.revision, R1),
    },
    {
      name: "does not point the Service at blue while 2 of 3 pods are ready",
      given: { image: V1, blue: { image: V1, ready: 2 } },
      writes: [],
      phase: "Initializing",
      expect: (_p, st) => assert.match(st.message ?? "", /2\/3/),
    },
    {
      name: "does not point the Service at blue before the Deployment controller has seen the write",
      given: { image: V1, blue: { image: V1, rolledOut: false } },
      writes: [],
      phase: "Initializing",
    },
    {
      name: "points the Service at blue only when every pod is ready, and is Stable at once",
      given: { image: V1, blue: { image: V1 } },
      writes: ["ApplyService active blue", "ApplyService preview blue"],
      phase: "Stable",
      expect: (p, st) => {
        hasEvent(p, "Normal Switched");
        assert.equal(st.activeColor, "blue");
        assert.deepEqual(
          st.history?.map((h) => h.revision),
          [R1],
        );
        assert.equal(st.rollout, undefined);
      },
    },
    {
      name: "with the preview disabled, points only the active Service",
      given: { image: V1, spec: { preview: { enabled: false } }, blue: { image: V1 } },
      writes: ["ApplyService active blue"],
    },
    {
      name: "follows a replica change made before the first pods were ready",
      given: { image: V1, spec: { replicas: 5 }, blue: { image: V1, replicas: 3 } },
      writes: ["ScaleDeployment blue x5"],
      phase: "Initializing",
    },
    {
      name: "rewrites blue when the spec changed before anything served",
      given: { image: V2, blue: { image: V1, ready: 0 } },
      writes: [`ApplyDeployment blue ${R2} x3`],
    },
    {
      name: "a slow first deployment is Degraded past the deadline but never aborted: there is nothing to fall back to",
      given: {
        image: V1,
        blue: { image: V1, ready: 0 },
        status: { rollout: { revision: R1, startedAt: iso(T0 - DEADLINE - SECOND) } },
      },
      writes: [],
      expect: (_p, st) => assert.equal(condition(st, "Degraded")?.reason, "ProgressDeadlineExceeded"),
    },
    {
      name: "an active Service that lost its selector is pointed back at the color running the desired revision",
      given: { image: V2, blue: { image: V1 }, green: { image: V2 }, active: "none", preview: "blue" },
      // With no status saying which color served, the desired revision's; the preview follows on
      // the next reconcile, which sees a live color again.
      writes: ["ApplyService active green"],
    },
  ]);
});

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
      name: "a lost scale-down deadline on a retired color means scale down now",
      given: switched({ blue: { image: V1 } }),
      writes: ["ScaleDeployment blue x0"],
    },
    {
      name: "an unreadable scale-down deadline on a retired color means scale down now",
      given: switched({ blue: { image: V1, scaleDownAt: "invalid" } }),
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

describe("rollout: a new revision goes to the idle color", () => {
  table([
    {
      name: "writes the new revision to the idle color at the preview size and leaves the live color alone",
      given: live(V2, { spec: { preview: { replicas: 1 } } }),
      writes: [`ApplyDeployment green ${R2} x1`],
      phase: "Progressing",
      expect: (p, st) => {
        hasEvent(p, "Normal Deploying");
        assert.deepEqual(st.rollout, { revision: R2, startedAt: iso(T0) });
        assert.equal(st.activeColor, "blue");
      },
    },
    {
      name: "replaces a retired revision on the idle color",
      given: live(V2, { green: { image: V0, replicas: 0 } }),
      writes: [`ApplyDeployment green ${R2} x3`],
    },
    {
      name: "does not point the preview Service at green while 2 of 3 pods are ready",
      given: rollingOut({ image: V2, ready: 2 }),
      writes: [],
      phase: "Progressing",
    },
    {
      name: "does not point the preview Service at green before the Deployment controller has seen the write",
      given: rollingOut({ image: V2, rolledOut: false }),
      writes: [],
    },
    {
      name: "points the preview Service at green once every pod is ready",
      given: rollingOut({ image: V2 }),
      writes: ["ApplyService preview green"],
      phase: "Progressing",
    },
    {
      name: "waits for the preview Service's endpoints before asking for approval",
      given: rollingOut({ image: V2 }, { preview: "green", previewEndpoints: { green: 1 } }),
      writes: [],
      phase: "Progressing",
      expect: (_p, st) => assert.equal(st.rollout?.previewReadySince, undefined),
    },
    {
      name: "waits for approval with the preview ready, and says how to approve",
      given: rollingOut({ image: V2 }, { preview: "green" }),
      writes: [],
      phase: "AwaitingPromotion",
      expect: (_p, st) => {
        assert.match(st.message ?? "", new RegExp(`bluegreen.io/promote=${R2}`));
        assert.equal(st.rollout?.previewReadySince, iso(T0));
        assert.equal(st.previewColor, "green");
        assert.equal(st.previewRevision, R2);
        assert.equal(condition(st, "Promoted")?.status, "False");
      },
    },
    {
      name: "switches the active Service in one write once the approved revision is ready at full size",
      given: awaiting({ annotations: { promote: R2 } }),
      writes: ["ApplyService active green", `SetScaleDownDeadline blue ${iso(T0 + 30 * SECOND)}`],
      phase: "Verifying",
      expect: (p, st) => {
        hasEvent(p, "Normal Switched");
        assert.equal(st.activeColor, "green");
        assert.equal(st.history?.[0]?.revision, R2);
        assert.equal(st.history?.[0]?.switchedFrom, "blue");
        assert.equal(st.rollout, undefined);
      },
    },
    {
      name: "an approval scales a reduced preview to full size before the switch",
      given: awaiting({
        spec: { preview: { replicas: 1 } },
        green: { image: V2, replicas: 1 },
        annotations: { promote: R2 },
      }),
      writes: ["ScaleDeployment green x3"],
      phase: "Promoting",
      expect: (_p, st) => assert.equal(st.rollout?.promotedAt, iso(T0)),
    },
    {
      name: "after the approval, does not switch while the full-size color is not ready behind the preview Service",
      given: awaiting({ annotations: { promote: R2 }, previewEndpoints: { green: 2 } }),
      writes: [],
      phase: "Promoting",
    },
    {
      name: "ignores an approval for another revision and says so in the Promoted condition",
      given: awaiting({ annotations: { promote: R3 } }),
      writes: [],
      phase: "AwaitingPromotion",
      expect: (_p, st) => {
        const promoted = condition(st, "Promoted");
        assert.equal(promoted?.reason, "StaleApproval");
        assert.match(promoted?.message ?? "", new RegExp(`${R3}.*${R2}`));
      },
    },
    {
      name: "the spent approval of the live revision, left from the last rollout, is no warning",
      given: awaiting({ annotations: { promote: R1 } }),
      writes: [],
      phase: "AwaitingPromotion",
      expect: (_p, st) => {
        const promoted = condition(st, "Promoted");
        assert.equal(promoted?.reason, "AwaitingPromotion");
        assert.equal(promoted?.status, "False");
      },
    },
    {
      name: "an approval remembered in status.rollout survives the annotation being removed",
      given: awaiting({
        status: { rollout: { revision: R2, startedAt: iso(T0 - 60 * SECOND), promotedAt: iso(T0) } },
      }),
      writes: ["ApplyService active green", `SetScaleDownDeadline blue ${iso(T0 + 30 * SECOND)}`],
    },
    {
      name: "an approval remembered for v2 does not carry over to v3",
      given: live(V3, {
        green: { image: V3 },
        preview: "green",
        status: { rollout: { revision: R2, startedAt: iso(T0 - 60 * SECOND), promotedAt: iso(T0 - SECOND) } },
      }),
      writes: [],
      phase: "AwaitingPromotion",
    },
    {
      name: "supersede mid-rollout: v3 replaces v2 on the idle color, and the approval of v2 does not promote it",
      given: live(V3, { green: { image: V2 }, preview: "green", annotations: { promote: R2 } }),
      writes: [`ApplyDeployment green ${R3} x3`],
      expect: (_p, st) => assert.equal(st.activeColor, "blue"),
    },
    {
      name: "automatic promotion waits for its delay, counted from when the preview became ready",
      given: awaiting({ spec: { strategy: { promotion: { mode: "Auto", delaySeconds: 60 } } } }, 30 * SECOND),
      writes: [],
      phase: "AwaitingPromotion",
      expect: (p) => assert.equal(p.requeueAfterMs, 30 * SECOND),
    },
    {
      name: "automatic promotion switches once its delay has passed",
      given: awaiting({ spec: { strategy: { promotion: { mode: "Auto", delaySeconds: 60 } } } }, 61 * SECOND),
      writes: ["ApplyService active green", `SetScaleDownDeadline blue ${iso(T0 + 30 * SECOND)}`],
    },
    {
      name: "automatic promotion without delay switches in the reconcile that finds the preview ready",
      given: rollingOut(
        { image: V2 },
        { preview: "green", spec: { strategy: { promotion: { mode: "Auto" } } } },
      ),
      writes: ["ApplyService active green", `SetScaleDownDeadline blue ${iso(T0 + 30 * SECOND)}`],
    },
    {
      name: "re-applying a revision that still runs warm switches back at once without waiting for approval",
      given: switched({ image: V1 }),
      writes: ["ApplyService active blue", `SetScaleDownDeadline green ${iso(T0 + 30 * SECOND)}`],
      phase: "Verifying",
      expect: (_p, st) => assert.equal(st.history?.[0]?.revision, R1),
    },
    {
      name: "re-applying a promoted revision whose color was scaled down brings it to full size, no approval needed",
      given: switched({ image: V1, blue: { image: V1, replicas: 0 } }),
      writes: ["ScaleDeployment blue x3"],
      phase: "Promoting",
    },
    {
      name: "re-applying a revision that never served waits for approval like any other",
      given: live(V0, { green: { image: V0 }, preview: "green" }),
      writes: [],
      phase: "AwaitingPromotion",
    },
    {
      name: "a replica change scales the live color and keeps the preview at its reduced count",
      given: awaiting({
        spec: { replicas: 5, preview: { replicas: 1 } },
        blue: { image: V1, replicas: 3 },
        green: { image: V2, replicas: 1 },
      }),
      writes: ["ScaleDeployment blue x5"],
      phase: "AwaitingPromotion",
    },
    {
      name: "a replica change resizes a full-size preview and never rewrites its template",
      given: awaiting({
        spec: { replicas: 5 },
        blue: { image: V1, replicas: 3 },
        green: { image: V2, replicas: 3 },
      }),
      writes: ["ScaleDeployment blue x5", "ScaleDeployment green x5"],
    },
  ]);
});

describe("rollout: the progress deadline", () => {
  table([
    {
      name: "a never-ready revision past the deadline is aborted and traffic never moves",
      given: rollingOut({ image: V2, ready: 0 }, {}, DEADLINE + SECOND),
      writes: [`MarkAborted ${R2}`],
      phase: "Aborted",
      expect: (p, st) => {
        hasEvent(p, "Warning Aborted");
        assert.equal(st.activeColor, "blue");
        assert.equal(condition(st, "Degraded")?.reason, "ProgressDeadlineExceeded");
      },
    },
    {
      name: "a slow revision before the deadline only asks to be woken at the deadline",
      given: rollingOut({ image: V2, ready: 1 }, {}, DEADLINE - 5 * SECOND),
      writes: [],
      expect: (p, st) => {
        assert.equal(p.requeueAfterMs, 5 * SECOND);
        assert.equal(condition(st, "Degraded")?.status, "False");
      },
    },
    {
      name: "with abortOnProgressDeadline false, a never-ready revision is Degraded but not aborted",
      given: rollingOut(
        { image: V2, ready: 0 },
        { spec: { strategy: { abortOnProgressDeadline: false } } },
        DEADLINE + SECOND,
      ),
      writes: [],
      expect: (_p, st) => assert.equal(condition(st, "Degraded")?.status, "True"),
    },
    {
      name: "after an approval, the deadline counts from the approval",
      given: awaiting(
        {
          green: { image: V2, ready: 1 },
          status: {
            rollout: { revision: R2, startedAt: iso(LONG_AGO), promotedAt: iso(T0 - DEADLINE - SECOND) },
            // Stuck at 1 of 3 ready since the approval.
            colors: { green: { revision: R2, image: V2, replicas: 3, readyReplicas: 1, role: "preview" } },
          },
        },
        0,
      ),
      writes: [`MarkAborted ${R2}`],
    },
    {
      name: "waiting for promotion past the progress deadline is not a failure",
      given: awaiting({}, 2 * DEADLINE, 3 * DEADLINE),
      writes: [],
      phase: "AwaitingPromotion",
      expect: (p, st) => {
        noAbort(p);
        assert.equal(condition(st, "Degraded")?.status, "False");
      },
    },
    {
      name: "a revision whose pods are all ready is not aborted because the preview endpoints lag at the deadline",
      given: rollingOut(
        { image: V2 },
        { preview: "green", previewEndpoints: { green: 0 } },
        DEADLINE + SECOND,
      ),
      writes: [],
      expect: (p) => noAbort(p),
    },
    {
      name: "a replica change while waiting for promotion past the deadline does not abort the rollout",
      given: awaiting(
        { spec: { replicas: 4 }, blue: { image: V1, replicas: 3 }, green: { image: V2, replicas: 3 } },
        2 * DEADLINE,
        3 * DEADLINE,
      ),
      writes: ["ScaleDeployment blue x4", "ScaleDeployment green x4"],
      expect: (p) => noAbort(p),
    },
    {
      name: "a preview pod restarting while waiting for promotion past the deadline does not abort the rollout",
      given: awaiting({ green: { image: V2, ready: 2 } }, 2 * DEADLINE, 3 * DEADLINE),
      writes: [],
      expect: (p) => noAbort(p),
    },
  ]);
});

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

describe("drift: a hand-edited Deployment is put back", () => {
  const edited = { specHash: "after-edit", recordedSpecHash: "as-we-wrote" };
  table([
    {
      name: "a Deployment whose spec still hashes to what we recorded is left alone",
      given: live(V1, { blue: { image: V1, specHash: "same", recordedSpecHash: "same" } }),
      writes: [],
      phase: "Stable",
    },
    {
      name: "a hand edit of the live Deployment is reverted to its revision, with a Warning event",
      given: live(V1, { blue: { image: V1, ...edited } }),
      writes: [`RepairDeployment blue ${R1}`],
      phase: "Stable",
      expect: (p) => hasEvent(p, "Warning DriftReverted"),
    },
    {
      name: "a warm old color is reverted to its own revision, not to the new one",
      given: switched({ blue: { image: V1, scaleDownAt: T0 + 20 * SECOND, ...edited } }),
      writes: [`RepairDeployment blue ${R1}`],
    },
    {
      name: "the repair comes before the rest of the step",
      given: live(V1, { spec: { replicas: 5 }, blue: { image: V1, replicas: 3, ...edited } }),
      writes: [`RepairDeployment blue ${R1}`, "ScaleDeployment blue x5"],
    },
    {
      name: "an edited idle color that gets the new template anyway is not repaired first",
      given: live(V2, { green: { image: V1, replicas: 0, ...edited } }),
      writes: [`ApplyDeployment green ${R2} x3`],
    },
    {
      name: "a Deployment written without a recorded hash gets one, and nothing is reverted",
      given: live(V1, { blue: { image: V1, specHash: "now" } }),
      writes: ["RecordDeploymentSpec blue now"],
      expect: (p) => assert.deepEqual(events(p), []),
    },
    {
      name: "a drifted Deployment whose template annotation is gone too gets its hash recorded, not a repair",
      given: live(V1, { blue: { image: V1, withoutTemplateAnnotation: true, ...edited } }),
      writes: ["RecordDeploymentSpec blue after-edit"],
    },
  ]);
});

describe("a reconcile that finds nothing to do writes nothing", () => {
  const settled: readonly [string, Sketch][] = [
    ["stable", live(V1, { preview: "blue" })],
    ["first deployment waiting for pods", { image: V1, blue: { image: V1, ready: 1 } }],
    ["new revision waiting for pods", rollingOut({ image: V2, ready: 1 })],
    ["awaiting promotion", awaiting()],
    [
      "awaiting an automatic promotion",
      awaiting({ spec: { strategy: { promotion: { mode: "Auto", delaySeconds: 60 } } } }),
    ],
    ["verifying after the switch", switched({ activeEndpoints: { green: 1 } })],
    ["old color warm until its deadline", switched()],
    [
      "aborted, new color waiting for its scale-down",
      awaiting({
        annotations: { abort: R2 },
        preview: "blue",
        green: { image: V2, scaleDownAt: T0 + 5 * SECOND },
      }),
    ],
    ["paused", awaiting({ spec: { paused: true } })],
  ];
  for (const [situation, sketch] of settled) {
    it(`plans nothing on the second reconcile of an unchanged world: ${situation}`, () => {
      const o = observed(sketch);
      const first = plan(o, T0);
      assert.deepEqual(writes(first), [], "the sketch is meant to need no cluster write");
      const second = plan(withPlannedStatus(o, first), T0);
      assert.deepEqual(second.actions, []);
    });
  }

  it("classifies every situation the planner knows", () => {
    const kinds = new Set(
      [
        { image: V1 },
        live(V1),
        rollingOut({ image: V2 }),
        awaiting({ annotations: { abort: R2 } }),
        live(V2, { spec: { paused: true } }),
      ].map((s) => classify(observed(s)).kind),
    );
    assert.deepEqual([...kinds].sort(), ["Aborted", "FirstDeploy", "Paused", "Rollout", "Steady"]);
  });
});

// ---------------------------------------------------------------------------------------------------------
// Whole scenarios through the simulated cluster

interface Trace {
  world: World;
  readonly writes: string[];
  readonly phases: string[];
}

/** Lets the cluster and the operator run until a reconcile has nothing left to do. */
function untilQuiet(t: Trace, opts: { settle?: boolean } = {}): Trace {
  for (let i = 0; i < 30; i++) {
    if (opts.settle ?? true) t.world = settleCluster(t.world);
    const r = reconcile(t.world);
    t.world = r.world;
    t.writes.push(...writes(r.plan));
    if (r.world.status.phase !== undefined && t.phases.at(-1) !== r.world.status.phase)
      t.phases.push(r.world.status.phase);
    if (r.plan.actions.length === 0) return t;
  }
  assert.fail(`no rest after 30 reconciles; last writes ${t.writes.slice(-5).join("; ")}`);
}

const serving = (spec: Parameters<typeof newWorld>[0] = {}): Trace => {
  const t = untilQuiet({ world: newWorld({ image: V1, ...spec }), writes: [], phases: [] });
  assert.equal(t.world.status.phase, "Stable");
  return { world: t.world, writes: [], phases: [] };
};
const selects = (w: World) => w.active.selector;
const runsOn = (w: World, c: "blue" | "green") => w.deployments[c]?.image;

describe("scenarios", () => {
  it("a release goes deploy → preview → approve → switch → verify → retire, in that order", () => {
    let t = serving({ scaleDownDelaySeconds: 0 });
    t.world = editSpec(t.world, { image: V2 });
    t = untilQuiet(t);
    assert.equal(t.world.status.phase, "AwaitingPromotion");
    assert.equal(selects(t.world), "blue");
    t.world = annotate(t.world, { promote: R2 });
    t = untilQuiet(t);
    assert.deepEqual(t.writes, [
      `ApplyDeployment green ${R2} x3`,
      "ApplyService preview green",
      "ApplyService active green",
      `SetScaleDownDeadline blue ${iso(T0)}`,
      "ScaleDeployment blue x0",
    ]);
    assert.deepEqual(t.phases, ["Progressing", "AwaitingPromotion", "Verifying", "Stable"]);
    assert.equal(selects(t.world), "green");
    assert.equal(t.world.deployments.blue?.replicas, 0);
  });

  it("revert mid-rollout: v2 waiting, v1 re-applied → Stable on v1 at once, preview cleaned up", () => {
    let t = serving();
    t.world = editSpec(t.world, { image: V2 });
    t = untilQuiet(t);
    t.world = editSpec(t.world, { image: V1 });
    t = untilQuiet({ ...t, writes: [], phases: [] });
    assert.deepEqual(t.writes, ["ApplyService preview blue", "ScaleDeployment green x0"]);
    assert.deepEqual(t.phases, ["Stable"]);
    assert.equal(selects(t.world), "blue");
  });

  it("supersede mid-rollout: v2 approved but not switched, v3 pushed → v3 waits for its own approval", () => {
    let t = serving({ previewReplicas: 1 });
    t.world = editSpec(t.world, { image: V2 });
    t = untilQuiet(t);
    t.world = annotate(editSpec(t.world, { image: V3 }), { promote: R2 });
    t = untilQuiet(t);
    assert.equal(t.world.status.phase, "AwaitingPromotion");
    assert.equal(selects(t.world), "blue");
    assert.equal(runsOn(t.world, "green"), V3);
    assert.equal(t.world.deployments.green?.replicas, 1, "v3 previews at the reduced size");
    t.world = annotate(t.world, { promote: R3 });
    t = untilQuiet(t);
    assert.equal(selects(t.world), "green");
    assert.equal(t.world.status.activeRevision, R3);
  });

  it("update after abort: v2 aborted, v3 pushed → v3 previews; promoting it retires what is left", () => {
    let t = serving({ abortScaleDownDelaySeconds: 0, scaleDownDelaySeconds: 0 });
    t.world = editSpec(t.world, { image: V2 });
    t = untilQuiet(t);
    t.world = annotate(t.world, { abort: R2 });
    t = untilQuiet(t);
    assert.equal(t.world.status.phase, "Aborted");
    assert.equal(t.world.deployments.green?.replicas, 0);
    t.world = editSpec(t.world, { image: V3 });
    t = untilQuiet(t);
    assert.equal(t.world.status.phase, "AwaitingPromotion");
    t.world = annotate(t.world, { promote: R3 });
    t = untilQuiet(t);
    assert.equal(t.world.status.phase, "Stable");
    assert.equal(selects(t.world), "green");
    assert.equal(t.world.deployments.blue?.replicas, 0);
  });

  it("switches back when the promoted color never becomes ready after the switch (Flagger #1898)", () => {
    let t = serving();
    t.world = annotate(editSpec(t.world, { image: V2 }), { promote: R2 });
    t = untilQuiet(t);
    assert.equal(selects(t.world), "green");
    // Verifying: green loses two pods before its endpoints were ever seen ready behind the active Service.
    const switchedAt = t.world.now;
    t.world = podFails(
      podFails({ ...t.world, active: { ...t.world.active, endpoints: { blue: 0, green: 0 } } }, "green"),
      "green",
    );
    t = untilQuiet(t, { settle: false });
    assert.equal(t.world.status.phase, "Verifying");
    assert.equal(selects(t.world), "green");
    t.world = { ...t.world, now: switchedAt + DEADLINE };
    t = untilQuiet(t, { settle: false });
    assert.equal(selects(t.world), "blue");
    assert.equal(t.world.annotations.abort, R2);
    assert.equal(t.world.status.phase, "Aborted");
  });

  it("a crash between the switch and the deadline write scales the old color down once the new one is verified", () => {
    let t = serving({ scaleDownDelaySeconds: 3600 });
    t.world = annotate(editSpec(t.world, { image: V2 }), { promote: R2 });
    for (;;) {
      t.world = settleCluster(t.world);
      const r = reconcile(t.world, { crashAfter: 1 });
      t.world = r.world;
      if (selects(t.world) === "green") break;
    }
    assert.equal(t.world.deployments.blue?.scaleDownAt, undefined, "the deadline write was lost");
    t = untilQuiet(t);
    assert.equal(t.world.deployments.blue?.replicas, 0);
    assert.equal(t.world.status.phase, "Stable");
  });

  it("a crash right after the switch still switches back when the promoted color never becomes ready", () => {
    let t = serving({ scaleDownDelaySeconds: 3600 });
    t.world = editSpec(t.world, { image: V2 });
    t = untilQuiet(t);
    assert.equal(t.world.status.phase, "AwaitingPromotion");
    // The reconcile that switches dies right after its first write, the active Service selector.
    const r = reconcile(annotate(t.world, { promote: R2 }), { crashAfter: 1 });
    assert.deepEqual(writes(r.plan).slice(0, 1), ["ApplyService active green"]);
    const switchedAt = r.world.now;
    t.world = podFails(podFails(r.world, "green"), "green");
    for (let i = 0; i < 4; i++) {
      t = untilQuiet(t, { settle: false });
      t.world = { ...t.world, now: t.world.now + DEADLINE / 2 };
    }
    assert.ok(t.world.now > switchedAt + DEADLINE);
    assert.equal(selects(t.world), "blue", `still on green: ${t.world.status.message}`);
  });

  it("re-applying the previous revision while the old color is warm switches back without approval", () => {
    let t = serving({ scaleDownDelaySeconds: 3600 });
    t.world = annotate(editSpec(t.world, { image: V2 }), { promote: R2 });
    t = untilQuiet(t);
    assert.equal(selects(t.world), "green");
    t.world = editSpec(t.world, { image: V1 });
    t = untilQuiet({ ...t, writes: [] });
    assert.equal(t.writes[0], "ApplyService active blue");
    assert.ok(!t.writes.some((w) => w.startsWith("ApplyDeployment")), t.writes.join("; "));
    assert.equal(selects(t.world), "blue");
  });
});
