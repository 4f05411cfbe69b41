/**
 * The planner with no live color yet: bringing the first color up and creating the Services.
 * Table cases: an Observed sketch and the time in, the exact writes and the status out.
 */
import assert from "node:assert/strict";
import { describe } from "node:test";
import { condition, iso, SECOND, T0 } from "./support/observed.ts";
import { DEADLINE, hasEvent, R1, R2, table, V1, V2 } from "./support/plan-cases.ts";

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
