/**
 * /metrics of a real operator process: Prometheus' own linter accepts it, the controller-runtime
 * and rollout series are there from the start, and they move during rollouts — a switch, a
 * rollback and an abort, each counted once.
 */
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { applyBgd, waitStatus } from "./bgd.ts";
import { deleteNamespace, kubectl, newNamespace, waitUntil } from "./lib.ts";
import { type OperatorProcess, startOperator } from "./operator.ts";
import { AUTO, endpointOf, promtoolCheck, sample, waitForLog } from "./runtime-support.ts";

const running: OperatorProcess[] = [];
const namespaces: string[] = [];
after(async () => {
  await Promise.all(running.map((o) => o.stop()));
  await Promise.all(namespaces.map((n) => deleteNamespace(n)));
});

const CONTROLLER_RUNTIME = [
  "controller_runtime_reconcile_total",
  "controller_runtime_reconcile_errors_total",
  "controller_runtime_reconcile_time_seconds_bucket",
  "controller_runtime_max_concurrent_reconciles",
  "controller_runtime_active_workers",
  "workqueue_depth",
  "workqueue_adds_total",
  "workqueue_queue_duration_seconds_bucket",
  "workqueue_work_duration_seconds_bucket",
  "workqueue_retries_total",
  "workqueue_unfinished_work_seconds",
  "workqueue_longest_running_processor_seconds",
  "rest_client_requests_total",
  "leader_election_master_status",
  "process_resident_memory_bytes",
];

describe("metrics", () => {
  it("/metrics passes promtool, has the controller-runtime names, and moves with switches, rollbacks and aborts", async () => {
    const ns = await newNamespace("metrics");
    namespaces.push(ns);
    const op = await startOperator({
      namespaces: [ns],
      name: "metrics",
      network: "host", // the test scrapes the operator's metrics port
      args: ["--metrics-bind-address=127.0.0.1:0", "--leader-elect", "--leader-elect-namespace", ns],
    });
    running.push(op);
    const url = `${await endpointOf(op, "Serving metrics")}/metrics`;
    await waitForLog(op, "Started leading");
    const scrape = async () => {
      const res = await fetch(url);
      assert.equal(res.status, 200);
      assert.match(res.headers.get("content-type") ?? "", /^text\/plain/);
      return await res.text();
    };

    const idle = await scrape();
    await promtoolCheck(idle);
    for (const name of CONTROLLER_RUNTIME) assert.ok(sample(idle, name) !== undefined, `${name} is exported`);
    const c = { controller: "bluegreendeployment" };
    assert.equal(sample(idle, "controller_runtime_max_concurrent_reconciles", c), 4);
    assert.equal(
      sample(idle, "leader_election_master_status", { name: "bluegreen-operator.bluegreen.io" }),
      1,
    );

    const bgd = { namespace: ns, name: "app" };
    await applyBgd(ns, "app", { image: "app:v1", strategy: AUTO });
    await waitStatus(ns, "app", { phase: "Stable", activeColor: "blue" });
    await applyBgd(ns, "app", { image: "app:v2", strategy: AUTO });
    await waitStatus(ns, "app", { phase: "Stable", activeColor: "green" });
    // Counters are updated from the watch event of the status write: wait for it to arrive.
    const rolled = await waitUntil("the switch to be counted", 10_000, async () => {
      const t = await scrape();
      return sample(t, "bluegreen_switches_total", bgd) === 1 ? t : undefined;
    });
    await promtoolCheck(rolled);
    const moved = (name: string, labels: Record<string, string> = {}) => {
      const before = sample(idle, name, labels) ?? 0;
      const now = sample(rolled, name, labels) ?? 0;
      assert.ok(now > before, `${name}${JSON.stringify(labels)} moved (${before} → ${now})`);
    };
    moved("controller_runtime_reconcile_total", { ...c, result: "success" });
    moved("controller_runtime_reconcile_time_seconds_count", c);
    moved("workqueue_adds_total", { name: "bluegreendeployment" });
    moved("workqueue_queue_duration_seconds_count", { name: "bluegreendeployment" });
    moved("workqueue_work_duration_seconds_count", { name: "bluegreendeployment" });
    moved("rest_client_requests_total", { code: "200", method: "PATCH" }); // server-side apply
    moved("rest_client_requests_total", { code: "200", method: "PUT" }); // status
    moved("rest_client_requests_total", { code: "201", method: "POST" }); // events, the Lease
    // A reconcile may still be in flight at the scrape above (an Event, a status write); once the
    // rollout is over the gauge must come back to 0.
    await waitUntil("no active workers", 10_000, async () => {
      const t = await scrape();
      return sample(t, "controller_runtime_active_workers", c) === 0 ? t : undefined;
    });
    assert.equal(sample(rolled, "bluegreen_rollout_phase", { ...bgd, phase: "Stable" }), 1);
    assert.equal(sample(rolled, "bluegreen_active_color", { ...bgd, color: "green" }), 1);
    assert.equal(sample(rolled, "bluegreen_rollout_duration_seconds_count", bgd), 1);
    assert.equal(
      sample(rolled, "bluegreen_rollout_started_timestamp_seconds", bgd),
      undefined,
      "none in progress",
    );
    assert.equal(sample(rolled, "bluegreen_rollbacks_total", bgd), 0);

    // Back to v1: a switch to a revision that was active before is a rollback.
    await applyBgd(ns, "app", { image: "app:v1", strategy: AUTO });
    await waitStatus(ns, "app", { phase: "Stable", activeColor: "blue" });
    // A release that never becomes ready, with a short deadline: aborted.
    await applyBgd(ns, "app", {
      image: "app:v3",
      neverReady: true,
      strategy: { ...AUTO, progressDeadlineSeconds: 4, abortScaleDownDelaySeconds: 0 },
    });
    const started = await waitUntil("the rollout start while v3 progresses", 4_000, async () =>
      sample(await scrape(), "bluegreen_rollout_started_timestamp_seconds", bgd),
    );
    assert.ok(Math.abs(started - Date.now() / 1000) < 60, `started at ${started}`);
    await waitStatus(ns, "app", { phase: "Aborted" });
    const last = await waitUntil("the rollback and the abort to be counted", 10_000, async () => {
      const t = await scrape();
      return sample(t, "bluegreen_aborts_total", bgd) === 1 ? t : undefined;
    });
    await promtoolCheck(last);
    assert.equal(sample(last, "bluegreen_switches_total", bgd), 2);
    assert.equal(sample(last, "bluegreen_rollbacks_total", bgd), 1);
    assert.equal(
      sample(last, "bluegreen_rollout_duration_seconds_count", bgd),
      1,
      "a rollback is not a rollout",
    );
    assert.equal(sample(last, "bluegreen_rollout_phase", { ...bgd, phase: "Aborted" }), 1);
    assert.equal(sample(last, "bluegreen_active_color", { ...bgd, color: "blue" }), 1);

    // A deleted BGD's series go away.
    await kubectl(["delete", "bgd", "app", "-n", ns]);
    await waitUntil("the deleted BGD's series to disappear", 10_000, async () => {
      const t = await scrape();
      return sample(t, "bluegreen_switches_total", bgd) === undefined &&
        sample(t, "bluegreen_rollout_phase", bgd) === undefined
        ? t
        : undefined;
    });
  });
});
