/**
 * The planner while a new revision goes to the idle color: preview, approval, the switch.
 * Table cases: an Observed sketch and the time in, the exact writes and the status out.
 */
import assert from "node:assert/strict";
import { describe } from "node:test";
import { condition, iso, SECOND, T0 } from "./support/observed.ts";
import {
  awaiting,
  hasEvent,
  live,
  R1,
  R2,
  R3,
  rollingOut,
  switched,
  table,
  V0,
  V1,
  V2,
  V3,
} from "./support/plan-cases.ts";

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
      name: "does not point the preview Service at green before the Deployment controller has seen the write, when green's other pods are not known",
      given: rollingOut({ image: V2, rolledOut: false }),
      writes: [],
    },
    {
      name: "points the preview Service at green as soon as every new pod is Ready, before the Deployment's status says so",
      given: rollingOut({ image: V2, rolledOut: false, staleReady: 0 }),
      writes: ["ApplyService preview green"],
      phase: "Progressing",
    },
    {
      name: "does not point the preview Service at green early while a ready pod of the previous revision is still in green",
      given: rollingOut({ image: V2, rolledOut: false, staleReady: 1 }),
      writes: [],
      phase: "Progressing",
    },
    {
      name: "does not promote a preview that was pointed at early until the Deployment says it rolled out",
      given: rollingOut(
        { image: V2, rolledOut: false, staleReady: 0 },
        { preview: "green", spec: { strategy: { promotion: { mode: "Auto" } } } },
      ),
      writes: [],
      phase: "Progressing",
    },
    {
      name: "asks for a manual approval once the preview's pods and endpoints are ready, before the Deployment's status says so",
      given: rollingOut({ image: V2, rolledOut: false, staleReady: 0 }, { preview: "green" }),
      writes: [],
      phase: "AwaitingPromotion",
      expect: (_p, st) => assert.equal(st.rollout?.previewReadySince, iso(T0)),
    },
    {
      name: "an approval of a preview the Deployment has not yet reported rolled out waits for it before the switch",
      given: rollingOut(
        { image: V2, rolledOut: false, staleReady: 0 },
        { preview: "green", annotations: { promote: R2 } },
      ),
      writes: [],
      phase: "Promoting",
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
