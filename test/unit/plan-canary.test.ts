/**
 * The HTTPRoute switch and the weighted canary steps (spec.trafficRouting, spec.strategy.canary), planned
 * from what the cluster shows and the status (the step), with the clock given.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Measurement } from "../../src/bluegreen/gates/measurement.ts";
import { plan } from "../../src/bluegreen/plan.ts";
import type { ObservedGates } from "../../src/bluegreen/types.ts";
import {
  condition,
  history,
  iso,
  observed,
  SECOND,
  type Sketch,
  statusAfter,
  T0,
  UID,
  writes,
} from "./support/observed.ts";
import {
  awaiting,
  hasEvent,
  LONG_AGO,
  R2,
  R3,
  rollingOut,
  switched,
  table,
  V1,
  V2,
  V3,
} from "./support/plan-cases.ts";

const ROUTE = { trafficRouting: { httpRoute: { name: "web" } } };
const STEPS = [{ setWeight: 10 }, { pause: {} }, { setWeight: 50 }, { pause: { durationSeconds: 60 } }];
const CANARY = { ...ROUTE, strategy: { canary: { steps: STEPS } } };

/** v2 ready on green behind the preview Service, the canary at `step` with the route at `preview` percent. */
const atStep = (
  step: number | undefined,
  preview: number,
  extra: Partial<Sketch> = {},
  stepStartedAgo = 5 * SECOND,
): Sketch => {
  const base = awaiting({ spec: CANARY, route: { preview }, ...extra });
  return {
    ...base,
    status: {
      ...base.status,
      phase: "Progressing",
      rollout: {
        revision: R2,
        startedAt: iso(T0 - 60 * SECOND),
        ...(step !== undefined
          ? { canary: { step, weight: preview, stepStartedAt: iso(T0 - stepStartedAgo) } }
          : {}),
      },
      ...extra.status,
    },
  };
};

const canaryOf = (s: Sketch, now = T0) => {
  const o = observed(s);
  return statusAfter(o, plan(o, now)).rollout?.canary;
};

describe("HTTPRoute without canary steps", () => {
  table([
    {
      name: "the switch is still the one active Service selector write; the route stays at active 100 / preview 0",
      given: awaiting({ spec: ROUTE, route: { preview: 0 }, annotations: { promote: R2 } }),
      writes: ["ApplyService active green", `SetScaleDownDeadline blue ${iso(T0 + 30 * SECOND)}`],
      phase: "Verifying",
      expect: (_p, status) =>
        assert.deepEqual(status.traffic, { httpRoute: "web", activeWeight: 100, previewWeight: 0 }),
    },
    {
      name: "a route someone left at 50/50 goes back to the active Service before anything else of a rollout",
      given: rollingOut({ image: V2, ready: 1 }, { spec: ROUTE, route: { preview: 50 } }),
      writes: ["SetRouteWeights preview 0"],
      phase: "Progressing",
    },
    {
      name: "a route that is not there: Degraded, nothing deployed, no traffic moved",
      given: { spec: ROUTE, route: { exists: false } },
      writes: [],
      phase: "Degraded",
      expect: (_p, status) => {
        assert.equal(condition(status, "Degraded")?.reason, "HTTPRouteNotUsable");
        assert.match(
          status.message ?? "",
          /HTTPRoute web named in spec.trafficRouting.httpRoute.name does not exist/,
        );
      },
    },
    {
      name: "a route without a backendRef to the preview Service: Degraded, the rollout waits, traffic not moved",
      given: awaiting({
        spec: CANARY,
        route: { preview: 0, missing: "preview" },
        annotations: { promote: R2 },
      }),
      writes: [],
      phase: "Degraded",
      expect: (_p, status) =>
        assert.match(
          status.message ?? "",
          /no backendRef to the preview Service \(app-preview\).*traffic was not moved/,
        ),
    },
    {
      name: "a route not marked as ours yet is adopted (an annotation), nothing else written",
      given: { ...live(), spec: ROUTE, route: { preview: 0, adopted: false } },
      writes: ["AdoptRoute"],
      phase: "Stable",
    },
  ]);
});

function live(): Sketch {
  return {
    image: V1,
    blue: { image: V1 },
    active: "blue",
    status: { activeColor: "blue", phase: "Stable", history: history({ image: V1, at: LONG_AGO }) },
  };
}

describe("canary steps", () => {
  table([
    {
      name: "the ready preview takes its first weight in one route write",
      given: atStep(undefined, 0),
      writes: ["SetRouteWeights preview 10"],
      phase: "Progressing",
      expect: (p, status) => {
        hasEvent(p, "Normal CanaryWeight");
        assert.deepEqual(status.rollout?.canary, { step: 0, weight: 10, stepStartedAt: iso(T0) });
      },
    },
    {
      name: "the preview is scaled to full size before any traffic reaches it",
      given: atStep(undefined, 0, {
        spec: { ...CANARY, preview: { replicas: 1 } },
        green: { image: V2, replicas: 1 },
      }),
      writes: ["ScaleDeployment green x3"],
      phase: "Progressing",
    },
    {
      name: "once the route shows the weight, a pause without a duration holds it until promoted",
      given: atStep(0, 10),
      writes: [],
      phase: "AwaitingPromotion",
      expect: (_p, status) => {
        assert.equal(status.rollout?.canary?.step, 1);
        assert.match(status.message ?? "", /Canary step 2\/4: holding 10% .*bluegreen.io\/promote-step=.*:1/);
      },
    },
    {
      name: "an approval of the whole revision does not skip a pause: only promote-step of that step does",
      given: atStep(1, 10, { annotations: { promote: R2 } }),
      writes: [],
      phase: "AwaitingPromotion",
    },
    {
      name: "promote-step of an earlier step, or of another revision, does not let the pause go",
      given: atStep(1, 10, { annotations: { promoteStep: `${R3}:1` } }),
      writes: [],
      phase: "AwaitingPromotion",
    },
    {
      name: "promote-step of this pause moves on: the next step is recorded first (and looked at again at once)",
      given: atStep(1, 10, { annotations: { promoteStep: `${R2}:1` } }),
      writes: [],
      phase: "Progressing",
      expect: (p, status) => {
        assert.equal(status.rollout?.canary?.step, 2);
        assert.equal(p.requeueAfterMs, 10);
      },
    },
    {
      name: "then its weight is one route write",
      given: atStep(2, 10, { annotations: { promoteStep: `${R2}:1` } }),
      writes: ["SetRouteWeights preview 50"],
      phase: "Progressing",
      expect: (p) => hasEvent(p, "Normal CanaryWeight"),
    },
    {
      name: "a timed pause holds the weight until its time, then the steps are done",
      given: atStep(3, 50, {}, 30 * SECOND),
      writes: [],
      phase: "Progressing",
      expect: (p) => assert.equal(p.requeueAfterMs, 30 * SECOND),
    },
    {
      name: "after the last step the switch waits for approval (Manual)",
      given: atStep(3, 50, {}, 61 * SECOND),
      writes: [],
      phase: "AwaitingPromotion",
      expect: (_p, status) => {
        assert.equal(status.rollout?.canary?.step, 4);
        assert.match(status.message ?? "", /Canary steps done at 50%.*approve the switch/);
      },
    },
    {
      name: "approved after the steps: one route write sends everything to the new color, the selector follows",
      given: atStep(4, 50, { annotations: { promote: R2 } }),
      writes: [
        "SetRouteWeights preview 100",
        "ApplyService active green",
        `SetScaleDownDeadline blue ${iso(T0 + 30 * SECOND)}`,
      ],
      phase: "Verifying",
      expect: (p, status) => {
        hasEvent(p, "Normal Switched");
        assert.equal(status.rollout, undefined);
        assert.equal(status.history?.[0]?.revision, R2);
      },
    },
    {
      name: "Auto: the switch comes promotion.delaySeconds after the last step",
      given: atStep(
        4,
        50,
        {
          spec: {
            ...CANARY,
            strategy: { ...CANARY.strategy, promotion: { mode: "Auto", delaySeconds: 20 } },
          },
        },
        5 * SECOND,
      ),
      writes: [],
      phase: "AwaitingPromotion",
      expect: (p) => assert.equal(p.requeueAfterMs, 15 * SECOND),
    },
    {
      name: "an abort at any step sends all traffic back to the live color in one route write, first",
      given: atStep(2, 50, { annotations: { abort: R2 } }),
      writes: [
        "SetRouteWeights preview 0",
        "ApplyService preview blue",
        `SetScaleDownDeadline green ${iso(T0 + 30 * SECOND)}`,
      ],
      phase: "Aborted",
    },
    {
      name: "spec.paused freezes the step and the weight: no write, the step kept",
      given: atStep(2, 50, { spec: { ...CANARY, paused: true } }),
      writes: [],
      phase: "Paused",
      expect: (_p, status) => assert.deepEqual(status.rollout?.canary, { step: 2, weight: 50 }),
    },
    {
      name: "a new revision pushed mid-canary: the route goes back to the live color before its pods are replaced",
      given: { ...atStep(2, 50), image: V3 },
      writes: ["SetRouteWeights preview 0", `ApplyDeployment green ${R3} x3`],
      phase: "Progressing",
    },
    {
      name: "a rollback to a revision that served before skips the steps",
      given: {
        ...awaiting({ spec: CANARY, route: { preview: 0 } }),
        status: {
          activeColor: "blue",
          history: history({ image: V1, at: LONG_AGO }, { image: V2, at: LONG_AGO - SECOND }),
          rollout: { revision: R2, startedAt: iso(T0 - 10 * SECOND) },
        },
      },
      writes: ["ApplyService active green", `SetScaleDownDeadline blue ${iso(T0 + 30 * SECOND)}`],
    },
  ]);

  it("resumes the same step after a restart: the plan depends on status and the route only", () => {
    // A process that died after writing the route for step 2 and before its status write: the route shows 50,
    // the status still step 2 (setWeight 50): the step is done, not written again.
    assert.deepEqual(writes(plan(observed(atStep(2, 50)), T0)), []);
    assert.equal(canaryOf(atStep(2, 50))?.step, 4 - 1);
  });
});

describe("prePromotion gates through the canary", () => {
  const errorRate = { name: "errors", http: { url: "http://{{previewServiceIP}}:{{servicePort}}/healthz" } };
  const id = `${UID}/${R2}/errors/0`;
  const gates = (phase?: Measurement["phase"]): ObservedGates => ({
    result: (m) =>
      m === id && phase !== undefined
        ? { index: 0, phase, startedAt: iso(T0 - SECOND), finishedAt: iso(T0), value: "status 500" }
        : undefined,
    jobs: new Map(),
    activeServiceIP: "10.96.0.10",
    previewServiceIP: "10.96.0.11",
  });
  const withGate = (
    step: number | undefined,
    preview: number,
    phase?: Measurement["phase"],
    extra: Partial<Sketch> = {},
  ) => {
    const spec = { ...CANARY, gates: { prePromotion: [errorRate] } };
    const first = atStep(step, preview, { spec, gates: gates(), ...extra });
    // The check's record, as the reconcile that started it wrote it.
    const started = statusAfter(observed(first), plan(observed(first), T0 - 2 * SECOND));
    return observed({
      ...first,
      gates: gates(phase),
      status: { ...first.status, gates: started.gates ?? [] },
    });
  };

  it("run while the steps advance: the first weight is written as the check measures", () => {
    const p = plan(withGate(undefined, 0), T0);
    assert.deepEqual(writes(p), [`RunMeasurement ${id}`, "SetRouteWeights preview 10"]);
  });
  it("a failed check at 10 %: every request back to the live color in one route write, first; the revision aborted", () => {
    const o = withGate(1, 10, "Failed");
    const p = plan(o, T0);
    assert.deepEqual(writes(p).slice(0, 1), ["SetRouteWeights preview 0"]);
    assert.ok(writes(p).includes(`MarkAborted ${R2}`), writes(p).join(", "));
    assert.equal(writes(p).filter((w) => w.startsWith("SetRouteWeights")).length, 1);
    const st = statusAfter(o, p);
    assert.equal(st.phase, "Aborted");
    assert.equal(condition(st, "Degraded")?.reason, "GateFailed");
  });
  it("the switch waits for the checks even when the steps are done and the switch approved", () => {
    const o = withGate(4, 50, undefined, { annotations: { promote: R2 } });
    const p = plan(o, T0);
    assert.ok(!writes(p).some((w) => w.startsWith("ApplyService active")), writes(p).join(", "));
    assert.ok(!writes(p).includes("SetRouteWeights preview 100"), writes(p).join(", "));
    assert.match(statusAfter(o, p).message ?? "", /Canary steps done at 50%.*prePromotion gate errors/);
  });
});

describe("after a canary's switch", () => {
  const afterSwitch = (extra: Partial<Sketch>) =>
    switched({ spec: CANARY, route: { preview: 100 }, preview: "green", ...extra });
  table([
    {
      name: "the weights return to active 100 / preview 0 once the active Service's endpoints are the new color only",
      given: afterSwitch({}),
      writes: ["SetRouteWeights preview 0"],
    },
    {
      name: "not while the active Service's endpoints still list the old color",
      given: afterSwitch({ activeEndpoints: { blue: 3, green: 3 } }),
      writes: [],
    },
    {
      name: "a switch back moves the weights to the active Service first, then its selector",
      given: afterSwitch({ green: { image: V2, ready: 1 } }),
      now: T0 + 600 * SECOND,
      writes: ["SetRouteWeights preview 0", "ApplyService active blue", `MarkAborted ${R2}`],
      phase: "Aborted",
    },
  ]);
});

describe("deletion", () => {
  it("hands the route back: all traffic to the active Service, our annotation removed", () => {
    const o = { ...observed(atStep(2, 50)), deleting: true };
    assert.deepEqual(writes(plan(o, T0)), ["HandBackRoute"]);
    const p = plan(o, T0);
    const patch = p.actions[0]?.write.requests[0];
    assert.deepEqual(patch?.body, [
      { op: "test", path: "/spec/rules/0/backendRefs/0/name", value: "app" },
      { op: "test", path: "/spec/rules/0/backendRefs/0/weight", value: 50 },
      { op: "replace", path: "/spec/rules/0/backendRefs/0/weight", value: 100 },
      { op: "test", path: "/spec/rules/0/backendRefs/1/name", value: "app-preview" },
      { op: "test", path: "/spec/rules/0/backendRefs/1/weight", value: 50 },
      { op: "replace", path: "/spec/rules/0/backendRefs/1/weight", value: 0 },
      { op: "test", path: "/metadata/annotations/bluegreen.io~1weights-managed-by", value: "app" },
      { op: "remove", path: "/metadata/annotations/bluegreen.io~1weights-managed-by" },
    ]);
  });
});

describe("the route write", () => {
  it("is one JSON patch that pins every backendRef's name and weight and changes only the weights", () => {
    const p = plan(observed(atStep(undefined, 0)), T0);
    const route = p.actions.find((a) => a.type === "SetRouteWeights");
    const r = route?.write.requests;
    assert.equal(r?.length, 1);
    assert.equal(r?.[0]?.verb, "patch");
    assert.equal(r?.[0]?.verb === "patch" ? r[0].patchType : undefined, "json");
    assert.equal(r?.[0]?.path, "/apis/gateway.networking.k8s.io/v1/namespaces/default/httproutes/web");
    assert.equal(r?.[0]?.testOps, true);
    assert.deepEqual(r?.[0]?.body, [
      { op: "test", path: "/spec/rules/0/backendRefs/0/name", value: "app" },
      { op: "test", path: "/spec/rules/0/backendRefs/0/weight", value: 100 },
      { op: "replace", path: "/spec/rules/0/backendRefs/0/weight", value: 90 },
      { op: "test", path: "/spec/rules/0/backendRefs/1/name", value: "app-preview" },
      { op: "test", path: "/spec/rules/0/backendRefs/1/weight", value: 0 },
      { op: "replace", path: "/spec/rules/0/backendRefs/1/weight", value: 10 },
    ]);
  });

  it("a settled canary step makes no write at all, status included", () => {
    const o = observed(atStep(1, 10));
    const first = plan(o, T0);
    const again = plan({ ...o, status: statusAfter(o, first) }, T0 + SECOND);
    assert.deepEqual(
      again.actions.map((a) => a.type),
      [],
    );
  });
});
