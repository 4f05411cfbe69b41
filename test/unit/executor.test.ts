/**
 * The executor and the reconcile around it, against the in-memory store: the exact writes of a
 * rollout (the unit-level twin of the e2e audit-log test), none from a reconcile with nothing to
 * do, and how the executor takes conflicts, refusals and failures it may pass over.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ANNOTATION_PROMOTE } from "../../src/api/labels.ts";
import type { PlannedAction } from "../../src/bluegreen/types.ts";
import { ConflictError, execute, PermanentError } from "../../src/controller/executor.ts";
import { ApiError } from "../../src/kube/api-errors.ts";
import { MemoryApi } from "./support/memory-api.ts";
import { T0 } from "./support/observed.ts";
import {
  annotate,
  applySpec,
  bgdAt,
  KINDS,
  newOperator,
  newSnapshot,
  settle,
  statusOf,
} from "./support/sim-cluster.ts";

const KEY = "default/app";

/** A cluster and an operator that run until the operator has nothing left to write. */
async function world(spec: Record<string, unknown>) {
  const api = new MemoryApi();
  let now = T0;
  applySpec(api, spec);
  const snap = newSnapshot(api);
  const reconcile = newOperator(api, snap, () => now);
  const round = async () => {
    settle(api, new Set());
    for (const k of KINDS) snap.sync(k);
    const r = await reconcile(KEY);
    now += Math.min(r.requeueAfterMs ?? 1000, 60_000);
  };
  const untilQuiet = async () => {
    for (let i = 0; i < 30; i++) {
      const before = api.log.length;
      await round();
      if (api.log.length === before) return;
    }
    assert.fail(`still writing after 30 rounds: ${api.log.slice(-5).join(", ")}`);
  };
  return { api, round, untilQuiet };
}

/** The store's log without status writes and Events (those vary with how many states a run sees). */
const clusterWrites = (log: readonly string[]) =>
  log
    .filter((w) => !w.endsWith("/status") && !w.startsWith("create "))
    .map((w) => w.replace(/\/api(s\/apps)?\/v1\/namespaces\/default\//, ""));

describe("the reconcile's writes", () => {
  it("makes exactly the writes of a rollout, in order, and then none", async () => {
    const strategy = { scaleDownDelaySeconds: 0 };
    const w = await world({ replicas: 2, image: "app:v1", strategy });
    await w.untilQuiet();
    assert.equal(statusOf(w.api).phase, "Stable");
    const since = w.api.log.length;
    applySpec(w.api, { replicas: 2, image: "app:v2", strategy });
    await w.untilQuiet();
    assert.equal(statusOf(w.api).phase, "AwaitingPromotion");
    annotate(w.api, ANNOTATION_PROMOTE, String(statusOf(w.api).previewRevision));
    await w.untilQuiet();
    assert.equal(statusOf(w.api).phase, "Stable");
    // The same list as the e2e test "the exact writes of a rollout, from the audit log".
    assert.deepEqual(clusterWrites(w.api.log.slice(since)), [
      "apply deployments/app-green",
      "patch deployments/app-green",
      "apply services/app-preview",
      "apply services/app",
      "patch deployments/app-blue",
      "patch deployments/app-blue",
    ]);
    const settled = w.api.log.length;
    await w.round();
    assert.deepEqual(w.api.log.slice(settled), [], "a reconcile with nothing to do writes nothing");
  });
});

describe("execute", () => {
  const event: PlannedAction = {
    type: "Event",
    eventType: "Normal",
    reason: "Test",
    message: "m",
    write: {
      what: "recording event Test",
      log: false,
      tolerate: "Any",
      requests: [{ verb: "create", path: "/api/v1/namespaces/default/events", body: {} }],
    },
  };
  const finalizer: PlannedAction = {
    type: "AddFinalizer",
    write: {
      what: "adding the Service hand-back finalizer",
      log: true,
      requests: [
        {
          verb: "patch",
          patchType: "merge",
          path: bgdAt,
          body: { metadata: { finalizers: ["x"] } },
          conditional: true,
          ownMetadata: true,
        },
      ],
    },
  };
  const ctx = (api: MemoryApi, resourceVersion: string) => ({
    client: api,
    key: KEY,
    generation: 1,
    resourceVersion,
  });

  it("makes no request for an empty plan", async () => {
    const api = new MemoryApi();
    await execute(ctx(api, "1"), []);
    assert.deepEqual(api.log, []);
  });

  it("sends a conditional write with the plan's resourceVersion: a stale one is a ConflictError", async () => {
    const api = new MemoryApi();
    applySpec(api, { image: "app:v1" });
    const stored = api.get(bgdAt)?.metadata.resourceVersion ?? "";
    await assert.rejects(execute(ctx(api, "0"), [finalizer]), ConflictError);
    await execute(ctx(api, stored), [finalizer]);
    assert.deepEqual(api.get(bgdAt)?.metadata.finalizers, ["x"]);
  });

  it("passes over a failed Event, stops at a refusal with a PermanentError", async () => {
    const api = new MemoryApi();
    api.faults = ["unavailable"];
    await execute(ctx(api, "1"), [event]);
    const refused = new MemoryApi();
    refused.create = () =>
      Promise.reject(new ApiError("POST", "/x", 422, { reason: "Invalid", message: "no" }));
    const { tolerate: _passedOver, ...write } = event.write;
    const strict: PlannedAction = { ...event, write };
    await assert.rejects(execute(ctx(refused, "1"), [strict]), PermanentError);
  });

  it("takes a 422 on a JSON patch with test ops (the route changed since the plan) as a conflict, not a refusal", async () => {
    const routeWrite: PlannedAction = {
      type: "SetRouteWeights",
      preview: 10,
      reason: "canary step 1/2",
      write: {
        what: "setting HTTPRoute web weights",
        log: true,
        requests: [
          {
            verb: "patch",
            patchType: "json",
            path: "/apis/gateway.networking.k8s.io/v1/namespaces/default/httproutes/web",
            body: [{ op: "test", path: "/spec/rules/0/backendRefs/1/weight", value: 0 }],
            testOps: true,
          },
        ],
      },
    };
    const moved = new MemoryApi();
    moved.patch = () =>
      Promise.reject(
        new ApiError("PATCH", "/x", 422, {
          message: "testing value /spec/rules/0/backendRefs/1/weight failed",
        }),
      );
    await assert.rejects(execute(ctx(moved, "1"), [routeWrite]), ConflictError);
    const request = routeWrite.write.requests[0];
    assert.ok(request !== undefined);
    const { testOps: _t, ...plain } = request;
    const strict: PlannedAction = { ...routeWrite, write: { ...routeWrite.write, requests: [plain] } };
    await assert.rejects(execute(ctx(moved, "1"), [strict]), PermanentError);
  });
});
