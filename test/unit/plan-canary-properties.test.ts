/**
 * Properties of the canary planner over random orders of what can happen while v2 goes through its steps:
 * the route's cache catching up or not, time passing, promotions of the right and the wrong step, aborts,
 * pauses and resumes, and the operator dying between any two writes (the status write lost with the rest).
 * Only the route and status move here (the new color is ready at full size throughout): that is where the
 * canary's decisions live.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { plan } from "../../src/bluegreen/plan.ts";
import type { Observed, PlannedAction } from "../../src/bluegreen/types.ts";
import { iso, observed, SECOND, type Sketch, T0 } from "./support/observed.ts";
import { awaiting, R2 } from "./support/plan-cases.ts";

const STEPS = [{ setWeight: 10 }, { pause: { durationSeconds: 30 } }, { setWeight: 50 }, { pause: {} }];
const WEIGHTS = new Set([0, 10, 50, 100]);

type Event =
  | { readonly kind: "reconcile"; readonly crashAfter: number }
  | { readonly kind: "tick"; readonly seconds: number }
  | { readonly kind: "promoteStep"; readonly step: number }
  | { readonly kind: "promote" }
  | { readonly kind: "abort" }
  | { readonly kind: "pause"; readonly paused: boolean };

const eventArb: fc.Arbitrary<Event> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant("reconcile" as const), crashAfter: fc.nat(4) }) },
  {
    weight: 3,
    arbitrary: fc.record({ kind: fc.constant("tick" as const), seconds: fc.integer({ min: 1, max: 40 }) }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("promoteStep" as const), step: fc.nat(4) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("promote" as const) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("pause" as const), paused: fc.boolean() }) },
);

interface World {
  preview: number;
  switched: boolean;
  status: Observed["status"];
  annotations: { promote?: string; promoteStep?: string; abort?: string };
  paused: boolean;
  now: number;
  /** Every route write, in order. */
  writes: number[];
}

function observe(w: World): Observed {
  const sketch: Sketch = awaiting({
    spec: {
      trafficRouting: { httpRoute: { name: "web" } },
      strategy: { canary: { steps: STEPS } },
      paused: w.paused,
    },
    route: { preview: w.preview },
    annotations: w.annotations,
  });
  return observed({
    ...sketch,
    ...(w.switched ? { active: "green" } : {}),
    status: { ...w.status, activeColor: w.switched ? "green" : "blue" },
  });
}

/** One reconcile; checks the plan's shape and applies its first `crashAfter + 1` writes (all when larger). */
function step(w: World, crashAfter: number): World {
  const o = observe(w);
  const p = plan(o, w.now);
  const routeWrites = p.actions.filter((a) => a.type === "SetRouteWeights");
  assert.ok(routeWrites.length <= 1, "one route write per plan");
  const firstRoute = p.actions.findIndex((a) => a.type === "SetRouteWeights");
  const switchAt = p.actions.findIndex((a) => a.type === "ApplyService" && a.role === "active");
  if (firstRoute >= 0 && switchAt >= 0)
    assert.ok(firstRoute < switchAt, "the route moves before the selector");
  const next: World = { ...w, writes: [...w.writes] };
  const done = p.actions.slice(0, crashAfter + 1 >= p.actions.length ? p.actions.length : crashAfter + 1);
  for (const a of done as PlannedAction[]) {
    if (a.type === "SetRouteWeights") {
      assert.ok(WEIGHTS.has(a.preview), `weight ${a.preview} is a step's, 0 or 100`);
      next.preview = a.preview;
      next.writes.push(a.preview);
    }
    if (a.type === "ApplyService" && a.role === "active" && a.color === "green") {
      // The commit point: every request already goes to green through the route.
      assert.equal(next.preview, 100, "the selector follows a route that sends everything to the new color");
      assert.equal(w.annotations.abort, undefined, "never after an abort");
      assert.ok(!w.paused, "never while paused");
      next.switched = true;
    }
    if (a.type === "UpdateStatus") next.status = a.status;
    if (a.type === "MarkAborted") next.annotations = { ...next.annotations, abort: a.revision };
  }
  return next;
}

function run(events: readonly Event[]): World {
  let w: World = {
    preview: 0,
    switched: false,
    status: { rollout: { revision: R2, startedAt: iso(T0 - 60 * SECOND) } },
    annotations: {},
    paused: false,
    now: T0,
    writes: [],
  };
  for (const e of events) {
    if (w.switched) break;
    switch (e.kind) {
      case "reconcile":
        w = step(w, e.crashAfter);
        break;
      case "tick":
        w = { ...w, now: w.now + e.seconds * SECOND };
        break;
      case "promoteStep":
        w = { ...w, annotations: { ...w.annotations, promoteStep: `${R2}:${e.step}` } };
        break;
      case "promote":
        w = { ...w, annotations: { ...w.annotations, promote: R2 } };
        break;
      case "abort":
        w = { ...w, annotations: { ...w.annotations, abort: R2 } };
        break;
      case "pause":
        w = { ...w, paused: e.paused };
        break;
    }
    if (w.annotations.abort === undefined && !w.switched) {
      // Weights only ever rise through the steps in order (a crash repeats one, never skips one).
      const rising = w.writes.filter((x, i) => i === 0 || x !== w.writes[i - 1]);
      assert.deepEqual(rising, [10, 50, 100].slice(0, rising.length), `route writes ${w.writes.join(",")}`);
    }
  }
  return w;
}

describe("canary properties", () => {
  it("over random events and crashes: weights rise step by step, the switch follows a route at 100, an abort puts it back", () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(eventArb, fc.constant<Event>({ kind: "abort" })), { maxLength: 60 }),
        (events) => {
          const w = run(events);
          if (w.annotations.abort !== undefined && !w.switched) {
            // Aborted before the switch: a few settled reconciles leave every request on the live color.
            let settled = w;
            for (let i = 0; i < 3; i++) settled = step(settled, 99);
            assert.equal(settled.preview, 0);
          }
        },
      ),
      { numRuns: Number(process.env.PLAN_RUNS ?? 300) },
    );
  });

  it("given time, the step approvals and the final one, it always switches", () => {
    fc.assert(
      fc.property(fc.array(eventArb, { maxLength: 40 }), (events) => {
        const finish: Event[] = [
          { kind: "pause", paused: false },
          ...Array.from({ length: 6 }, (_, i): Event[] => [
            { kind: "reconcile", crashAfter: 99 },
            { kind: "tick", seconds: 31 },
            { kind: "promoteStep", step: 3 },
            { kind: "reconcile", crashAfter: 99 },
            { kind: "promote" },
            { kind: "reconcile", crashAfter: i },
          ]).flat(),
        ];
        const w = run([...events, ...finish]);
        assert.ok(w.switched, `not switched: route at ${w.preview}, status ${w.status.message}`);
      }),
      { numRuns: Number(process.env.PLAN_RUNS ?? 300) },
    );
  });
});
