/**
 * The planner and the progress deadline of a rollout.
 * Table cases: an Observed sketch and the time in, the exact writes and the status out.
 */
import assert from "node:assert/strict";
import { describe } from "node:test";
import { condition, iso, SECOND, T0 } from "./support/observed.ts";
import {
  awaiting,
  DEADLINE,
  hasEvent,
  LONG_AGO,
  noAbort,
  R2,
  rollingOut,
  table,
  V1,
  V2,
} from "./support/plan-cases.ts";

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
