/**
 * The gate and notification metrics of a real operator process: an http prePromotion check that passes and one
 * that fails, each counted once by BGD, check and result; their measurements by kind and outcome, with a
 * duration; a notification delivered to a loopback receiver; the --gate-concurrency the operator was given; and
 * the whole /metrics still passing promtool.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { type LocalServer, serve } from "../unit/support/servers.ts";
import { applyBgd, waitStatus } from "./bgd.ts";
import { deleteNamespace, kubectl, newNamespace, waitUntil } from "./lib.ts";
import { type OperatorProcess, startOperator } from "./operator.ts";
import { AUTO, endpointOf, promtoolCheck, sample } from "./runtime-support.ts";

let ns = "";
let op: OperatorProcess | undefined;
let app: LocalServer | undefined;
let hooks: LocalServer | undefined;
before(async () => {
  ns = await newNamespace("gatemetrics");
  // The check's target and the receiver are on the host's loopback, so the operator runs there too.
  app = await serve((req, res) => {
    res.writeHead(req.url === "/ok" ? 200 : 503).end();
  });
  hooks = await serve((req, res) => {
    req.resume();
    req.on("end", () => res.writeHead(204).end());
  });
  op = await startOperator({
    namespaces: [ns],
    name: "gate-metrics",
    network: "host",
    args: ["--metrics-bind-address=127.0.0.1:0", "--gate-concurrency=3"],
  });
});
after(async () => {
  await op?.stop();
  await app?.close();
  await hooks?.close();
  await deleteNamespace(ns);
});

const smoke = (path: string) => ({
  gates: {
    prePromotion: [{ name: "smoke", failureLimit: 0, http: { url: `${app?.url ?? ""}${path}` } }],
  },
  notifications: { receivers: ["ops"], events: ["Completed"] },
});

describe("gate metrics", () => {
  it("count checks by result and measurements by kind, time them, and count deliveries", async () => {
    const url = `${await endpointOf(op as OperatorProcess, "Serving metrics")}/metrics`;
    const scrape = async () => (await fetch(url)).text();
    await kubectl(
      ["apply", "-n", ns, "-f", "-"],
      JSON.stringify({
        apiVersion: "v1",
        kind: "ConfigMap",
        metadata: { name: "bluegreen-notifications" },
        data: { receivers: JSON.stringify([{ name: "ops", url: `${hooks?.url ?? ""}/hook` }]) },
      }),
    );
    // v1 without gates (nothing to check before the first deployment), then v2 with the check.
    await Promise.all(
      ["good", "bad"].map((name) => applyBgd(ns, name, { image: `${name}:v1`, strategy: AUTO })),
    );
    await Promise.all(["good", "bad"].map((name) => waitStatus(ns, name, { phase: "Stable" })));
    await applyBgd(ns, "good", { image: "good:v2", strategy: AUTO, extraSpec: smoke("/ok") });
    await applyBgd(ns, "bad", { image: "bad:v2", strategy: AUTO, extraSpec: smoke("/fail") });
    await waitStatus(ns, "good", { phase: "Stable", activeColor: "green" }, 90_000);
    await waitStatus(ns, "bad", { phase: "Aborted" }, 90_000);

    const text = await waitUntil("a delivered notification in /metrics", 30_000, async () => {
      const t = await scrape();
      return (sample(t, "bluegreen_notifications_total", { receiver: "ops", result: "delivered" }) ?? 0) >= 1
        ? t
        : undefined;
    });
    await promtoolCheck(text);
    const check = (name: string, result: string) =>
      sample(text, "bluegreen_gate_checks_total", {
        namespace: ns,
        name,
        point: "prePromotion",
        check: "smoke",
        result,
      });
    assert.equal(check("good", "Successful"), 1);
    assert.equal(check("good", "Failed"), undefined);
    assert.equal(check("bad", "Failed"), 1);
    assert.equal(check("bad", "Successful"), undefined);
    // One measurement each: count 1 passes after one success, failureLimit 0 fails at the first failure.
    const measured = (phase: string) =>
      sample(text, "bluegreen_gate_measurements_total", { kind: "http", phase });
    assert.equal(measured("Successful"), 1);
    assert.equal(measured("Failed"), 1);
    assert.equal(sample(text, "bluegreen_gate_measurement_duration_seconds_count", { kind: "http" }), 2);
    assert.equal(sample(text, "bluegreen_gate_measurements_in_flight"), 0);
    assert.equal(sample(text, "bluegreen_gate_max_concurrent_measurements"), 3, "--gate-concurrency");
    assert.equal(
      sample(text, "bluegreen_notifications_total", { receiver: "ops", result: "failed" }),
      undefined,
    );
  });
});
