/**
 * The planner and hand edits of the Deployments, and a reconcile with nothing to do.
 * Table cases: an Observed sketch and the time in, the exact writes and the status out.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { classify, plan } from "../../src/bluegreen/plan.ts";
import { events, observed, SECOND, type Sketch, T0, withPlannedStatus, writes } from "./support/observed.ts";
import {
  awaiting,
  hasEvent,
  live,
  R1,
  R2,
  rollingOut,
  switched,
  table,
  V1,
  V2,
} from "./support/plan-cases.ts";

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
