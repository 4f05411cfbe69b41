/** Gate metrics: checks that ended are counted once from status transitions; the runner's and sender's series exist. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Registry } from "prom-client";
import { checkEndings, GateMetrics } from "../../src/runtime/gate-metrics.ts";

const check = (name: string, phase: string, revision = "r2") => ({
  name,
  point: "prePromotion",
  revision,
  phase,
});

describe("gate metrics", () => {
  it("count a check when it ends, not when the same status is seen again", () => {
    const running = { gates: [check("smoke", "Successful"), check("errors", "Running")] };
    const failed = { gates: [check("smoke", "Successful"), check("errors", "Failed")] };
    assert.deepEqual(checkEndings({ gates: [check("smoke", "Running")] }, running), [
      { point: "prePromotion", check: "smoke", result: "Successful" },
    ]);
    assert.deepEqual(checkEndings(running, failed), [
      { point: "prePromotion", check: "errors", result: "Failed" },
    ]);
    assert.deepEqual(checkEndings(failed, failed), []);
    // A new revision's check of the same name is a new check.
    assert.deepEqual(checkEndings(failed, { gates: [check("errors", "Failed", "r3")] }), [
      { point: "prePromotion", check: "errors", result: "Failed" },
    ]);
    assert.deepEqual(checkEndings(undefined, { gates: "nonsense" }), []);
  });
  it("export the series a dashboard reads", async () => {
    const registry = new Registry();
    const m = new GateMetrics(registry, () => 2);
    m.observeStatus("shop", "web", undefined, { gates: [check("errors", "Failed")] });
    m.observeMeasurement("prometheus", "Failed", 0.02);
    m.observeDelivery("ops", "delivered");
    const text = await registry.metrics();
    assert.match(
      text,
      /bluegreen_gate_checks_total\{namespace="shop",name="web",point="prePromotion",check="errors",result="Failed"\} 1/,
    );
    assert.match(text, /bluegreen_gate_measurements_total\{kind="prometheus",phase="Failed"\} 1/);
    assert.match(text, /bluegreen_gate_measurement_duration_seconds_count\{kind="prometheus"\} 1/);
    assert.match(text, /bluegreen_gate_measurements_in_flight 2/);
    assert.match(text, /bluegreen_notifications_total\{receiver="ops",result="delivered"\} 1/);
  });
});
