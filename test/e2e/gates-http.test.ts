/**
 * http checks against the preview Service's ClusterIP through kube-proxy, at the edges of their semantics
 * (README "Gates"): a preview that answers later than `timeoutSeconds` gives an Error measurement, which
 * counts as a failure; failures up to `failureLimit` are tolerated and one more fails the check. podsim
 * answers as the one preview pod: slowly (`test.bluegreen.io/latency`) or with the codes of
 * `test.bluegreen.io/statuses` in turn, so which measurement fails is known in advance. (Pass and plain
 * failure: gates-traffic.test.ts.)
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { applyBgd, serviceSelector, waitStatus } from "./bgd.ts";
import { namespacesWithOperator } from "./fixture.ts";
import { gateRecord, held, measured } from "./gates-lib.ts";

const { ns } = namespacesWithOperator("ghttp", ["timeout", "flap"] as const, { name: "gates-http" });

const strategy = {
  promotion: { mode: "Auto", delaySeconds: 0 },
  // A bound on a hang on a busy machine, not a timing.
  progressDeadlineSeconds: 300,
  scaleDownDelaySeconds: 0,
  abortScaleDownDelaySeconds: 0,
};
const smoke = (timing: Record<string, unknown>) => ({
  prePromotion: [
    {
      name: "smoke",
      // kube-proxy programs the preview Service a moment after its endpoints are ready: a measurement before
      // that is refused (an Error), which would shift which answer each measurement gets.
      initialDelaySeconds: 5,
      ...timing,
      http: { url: "http://{{previewServiceIP}}:{{servicePort}}/smoke" },
    },
  ],
});
/** One pod per color, so every measurement reaches the same preview pod (and its `statuses` in order). */
const release = (n: string, image: string, gates: unknown, labels: Record<string, string> = {}) =>
  applyBgd(n, "app", { image, replicas: 1, strategy, labels, extraSpec: { gates } });
const WAIT = 180_000;

describe("http checks through kube-proxy", { concurrency: true }, () => {
  it("a preview that answers later than timeoutSeconds gives an Error measurement, a failure: the rollout aborts with traffic never moved", {
    timeout: 400_000,
  }, async () => {
    const n = ns.timeout;
    const gates = smoke({ timeoutSeconds: 1, count: 1, failureLimit: 0 });
    await release(n, "app:v1", gates);
    await waitStatus(n, "app", { phase: "Stable", activeColor: "blue" }, WAIT);

    // Every answer of the v2 pod waits 5 s: four longer than the check waits.
    await release(n, "app:v2", gates, { "test.bluegreen.io/latency": "5s" });
    const st = await waitStatus(n, "app", { phase: "Aborted" }, WAIT);
    assert.equal(st.activeColor, "blue");
    assert.equal(st.activeImage, "app:v1");
    assert.equal(st.conditions?.find((c) => c.type === "Degraded")?.reason, "GateFailed");
    assert.equal((await serviceSelector(n, "app"))?.["bluegreen.io/color"], "blue");
    const r = await gateRecord(n, "smoke");
    assert.equal(r.phase, "Failed", r.message);
    assert.deepEqual(
      r.measurements.map((m) => [m.phase, m.message]),
      [["Error", "no answer within 1s"]],
    );
    console.log(`[gates-http] timeout: ${held(r)}`);
  });

  it("a flapping preview passes while its failures stay within failureLimit, and fails at one more", {
    timeout: 400_000,
  }, async () => {
    const n = ns.flap;
    // 15 s before the first measurement: the preview Service moves from the v2 pod to the v3 pod for the
    // second release, and until kube-proxy has programmed that (seconds on a loaded machine) the check's
    // requests still reach the v2 pod — whose 500-200-500-200 passes. Seen in a loaded run with 5 s.
    const gates = smoke({ initialDelaySeconds: 15, interval: "1s", count: 4, failureLimit: 2 });
    await release(n, "app:v1", gates);
    await waitStatus(n, "app", { phase: "Stable", activeColor: "blue" }, WAIT);

    // Two failures of four, the limit: the check passes and v2 is promoted.
    await release(n, "app:v2", gates, { "test.bluegreen.io/statuses": "500-200-500-200" });
    const v2 = await waitStatus(
      n,
      "app",
      { phase: "Stable", activeColor: "green", activeImage: "app:v2" },
      WAIT,
    );
    const passed = await gateRecord(n, "smoke");
    assert.equal(passed.revision, v2.activeRevision);
    assert.equal(passed.phase, "Successful", passed.message);
    assert.deepEqual(measured(passed), [
      ["Failed", "status 500"],
      ["Successful", "status 200"],
      ["Failed", "status 500"],
      ["Successful", "status 200"],
    ]);
    assert.match(passed.message ?? "", /2 successful, 2 failed \(limit 2\)/);

    // A third failure: the check fails at the fourth measurement and traffic stays on v2.
    await release(n, "app:v3", gates, { "test.bluegreen.io/statuses": "500-200-500-500" });
    const st = await waitStatus(n, "app", { phase: "Aborted" }, WAIT);
    assert.equal(st.activeColor, "green");
    assert.equal(st.activeImage, "app:v2");
    assert.equal(st.conditions?.find((c) => c.type === "Degraded")?.reason, "GateFailed");
    assert.equal((await serviceSelector(n, "app"))?.["bluegreen.io/color"], "green");
    const failed = await gateRecord(n, "smoke");
    assert.notEqual(failed.revision, v2.activeRevision);
    assert.equal(failed.phase, "Failed", failed.message);
    assert.deepEqual(measured(failed), [
      ["Failed", "status 500"],
      ["Successful", "status 200"],
      ["Failed", "status 500"],
      ["Failed", "status 500"],
    ]);
    console.log(`[gates-http] flapping: passed: ${held(passed)}; failed: ${held(failed)}`);
  });
});
