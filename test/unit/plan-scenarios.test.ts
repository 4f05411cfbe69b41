/**
 * Whole scenarios through the simulated cluster of support/world.ts, one reconcile at a time.
 * Each runs the planner against the simulated cluster until it rests, and checks what it did.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { iso, T0, writes } from "./support/observed.ts";
import { DEADLINE, R2, R3, V1, V2, V3 } from "./support/plan-cases.ts";
import {
  annotate,
  editSpec,
  newWorld,
  podFails,
  reconcile,
  settleCluster,
  type World,
} from "./support/world.ts";

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

  it("a crash between the switch and the deadline write keeps the old color warm the whole delay, then scales it down", () => {
    let t = serving({ scaleDownDelaySeconds: 3600 });
    t.world = annotate(editSpec(t.world, { image: V2 }), { promote: R2 });
    for (;;) {
      t.world = settleCluster(t.world);
      const r = reconcile(t.world, { crashAfter: 1 });
      t.world = r.world;
      if (selects(t.world) === "green") break;
    }
    assert.equal(t.world.deployments.blue?.scaleDownAt, undefined, "the deadline write was lost");
    const restartedAt = t.world.now;
    t = untilQuiet(t);
    assert.equal(t.world.status.phase, "Stable");
    assert.equal(t.world.deployments.blue?.replicas, 3, "blue stays warm");
    assert.equal(
      t.world.deployments.blue?.scaleDownAt,
      iso(restartedAt + 3600 * 1000),
      "a new deadline, the whole delay",
    );
    t.world = { ...t.world, now: restartedAt + 3600 * 1000 };
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
