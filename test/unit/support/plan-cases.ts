/**
 * The shapes the planner's table tests share: images and their revisions, the `Case` of a table and
 * its runner, and common cluster sketches (v1 live, v2 rolling out, awaiting approval, switched).
 */
import assert from "node:assert/strict";
import { it } from "node:test";
import type { BlueGreenDeploymentStatus } from "../../../src/api/schema.ts";
import { plan } from "../../../src/bluegreen/plan.ts";
import type { Observed, Plan } from "../../../src/bluegreen/types.ts";
import {
  type ColorSketch,
  events,
  history,
  iso,
  observed,
  rev,
  SECOND,
  type Sketch,
  statusAfter,
  T0,
  writes,
} from "./observed.ts";

export const V0 = "app:v0";
export const V1 = "app:v1";
export const V2 = "app:v2";
export const V3 = "app:v3";
export const [R1, R2, R3] = [rev(V1), rev(V2), rev(V3)];
export const LONG_AGO = T0 - 3600 * SECOND;
export const DEADLINE = 600 * SECOND; // the default progressDeadlineSeconds

export interface Case {
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

export function table(cases: readonly Case[]): void {
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
export const live = (image: string, extra: Partial<Sketch> = {}): Sketch => ({
  image,
  blue: { image: V1 },
  active: "blue",
  status: { activeColor: "blue", phase: "Stable", history: history({ image: V1, at: LONG_AGO }) },
  ...extra,
});

/** v2 deployed to green alongside live v1 (the rollout of v2 started `startedAgo` ms before T0). */
export const rollingOut = (
  green: ColorSketch,
  extra: Partial<Sketch> = {},
  startedAgo = 10 * SECOND,
): Sketch =>
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
export const awaiting = (
  extra: Partial<Sketch> = {},
  readyAgo = 5 * SECOND,
  startedAgo = 10 * SECOND,
): Sketch => {
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
export const switched = (extra: Partial<Sketch> = {}, switchedAgo = 10 * SECOND): Sketch => ({
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

export const hasEvent = (p: Plan, e: string) =>
  assert.ok(events(p).includes(e), `no ${e} in ${events(p).join(", ")}`);
export const noAbort = (p: Plan) => assert.ok(!p.actions.some((a) => a.type === "MarkAborted"), "aborted");

// ---------------------------------------------------------------------------------------------------------
