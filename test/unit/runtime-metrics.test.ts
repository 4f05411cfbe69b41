/**
 * Metrics without a cluster: rollout transitions read from statuses, the rollout series of a BGD,
 * the controller-runtime series fed by the queue hooks, and the request hooks of KubeClient — a
 * fenced write never reaches the server.
 */
import assert from "node:assert/strict";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { describe, it } from "node:test";
import { KubeConfig } from "@kubernetes/client-node";
import type { KubeObject } from "../../src/kube/informer.ts";
import { KubeClient } from "../../src/kube/kube.ts";
import { OperatorMetrics } from "../../src/runtime/metrics.ts";
import { RolloutMetrics, statusView, transition } from "../../src/runtime/rollout-metrics.ts";

const T0 = Date.parse("2026-01-01T00:00:00Z");
const at = (s: number) => new Date(T0 + s * 1000).toISOString();

function bgd(status: Record<string, unknown>, name = "app"): KubeObject {
  return { metadata: { name, namespace: "ns" }, status } as KubeObject;
}
const stable = (color: string, revision: string, history: string[] = [revision]) =>
  bgd({
    phase: "Stable",
    activeColor: color,
    activeRevision: revision,
    history: history.map((r, i) => ({ revision: r, promotedAt: at(-100 * (i + 1)) })),
  });

describe("rollout transitions", () => {
  it("a switch to a new revision is a switch and a rollout, timed from its start", () => {
    const old = statusView(
      bgd({
        phase: "AwaitingPromotion",
        activeColor: "blue",
        activeRevision: "r1",
        rollout: { revision: "r2", startedAt: at(0) },
        history: [{ revision: "r1", promotedAt: at(-100) }],
      }),
    );
    const now = statusView(
      bgd({
        phase: "Verifying",
        activeColor: "green",
        activeRevision: "r2",
        history: [
          { revision: "r2", promotedAt: at(42) },
          { revision: "r1", promotedAt: at(-100) },
        ],
      }),
    );
    assert.deepEqual(transition(old, now, T0 + 99_000), {
      switched: true,
      rolledBack: false,
      aborted: false,
      rolloutSeconds: 42,
    });
  });

  it("a switch back to a revision that was active before is a rollback, not a rollout", () => {
    const old = statusView(stable("green", "r2", ["r2", "r1"]));
    const now = statusView(stable("blue", "r1", ["r1", "r2"]));
    assert.deepEqual(transition(old, now, T0), {
      switched: true,
      rolledBack: true,
      aborted: false,
      rolloutSeconds: undefined,
    });
  });

  it("the first deployment is no switch; entering Aborted is an abort, staying there is not", () => {
    const none = statusView(bgd({ phase: "Initializing" }));
    assert.equal(transition(none, statusView(stable("blue", "r1")), T0).switched, false);
    const aborted = statusView(bgd({ phase: "Aborted", activeColor: "blue" }));
    assert.equal(transition(statusView(stable("blue", "r1")), aborted, T0).aborted, true);
    assert.equal(transition(aborted, aborted, T0).aborted, false);
  });

  it("reads malformed statuses as empty", () => {
    const v = statusView({ metadata: {}, status: { phase: 3, history: [null, { revision: 1 }] } } as never);
    assert.deepEqual(v, {
      phase: undefined,
      activeColor: undefined,
      activeRevision: undefined,
      rolloutStartedAt: undefined,
      canaryWeight: undefined,
      canaryStep: undefined,
      history: [],
    });
  });
});

describe("rollout metrics", () => {
  it("counts on the leader only, reports gauges from the cache, and forgets deleted BGDs", async () => {
    const m = new OperatorMetrics({ workers: 2 });
    const cache: KubeObject[] = [];
    let leading = false;
    const r = new RolloutMetrics({ registry: m.registry, list: () => cache, counting: () => leading });
    const v1 = stable("blue", "r1");
    const v2 = stable("green", "r2", ["r2", "r1"]);
    cache.push(v1);
    r.onChange(undefined, v1);
    r.onChange(v1, v2); // a standby sees it too, and does not count it
    leading = true;
    r.onChange(v2, stable("blue", "r1", ["r1", "r2"]));
    cache[0] = stable("blue", "r1", ["r1", "r2"]);
    const text = await m.registry.metrics();
    assert.match(text, /^bluegreen_switches_total\{namespace="ns",name="app"\} 1$/m);
    assert.match(text, /^bluegreen_rollbacks_total\{namespace="ns",name="app"\} 1$/m);
    assert.match(text, /^bluegreen_aborts_total\{namespace="ns",name="app"\} 0$/m);
    assert.match(text, /^bluegreen_rollout_phase\{namespace="ns",name="app",phase="Stable"\} 1$/m);
    assert.match(text, /^bluegreen_active_color\{namespace="ns",name="app",color="blue"\} 1$/m);

    cache.length = 0;
    r.onChange(v1, undefined);
    const after = await m.registry.metrics();
    assert.doesNotMatch(after, /name="app"/);
  });
});

describe("operator metrics", () => {
  it("feeds workqueue_* and controller_runtime_* from the queue and reconcile hooks", async () => {
    const m = new OperatorMetrics({ workers: 3 });
    const q = m.queueHooks();
    q.onAdd?.("ns/a");
    q.onDepthChange?.(1);
    q.onQueueLatency?.(0.002);
    q.onDepthChange?.(0);
    let text = await m.registry.metrics();
    assert.match(text, /^controller_runtime_active_workers\{controller="bluegreendeployment"\} 1$/m);
    q.onWorkDuration?.(0.01);
    q.onRetry?.("ns/a");
    m.reconcileDone(0.01, "error");
    m.reconcileError();
    m.watchQueue({ unfinishedWork: () => ({ totalSeconds: 5, longestSeconds: 3 }) });
    text = await m.registry.metrics();
    const c = 'controller="bluegreendeployment"';
    const q2 = `name="bluegreendeployment",${c}`;
    for (const line of [
      `controller_runtime_active_workers{${c}} 0`,
      `controller_runtime_max_concurrent_reconciles{${c}} 3`,
      `controller_runtime_reconcile_total{${c},result="error"} 1`,
      `controller_runtime_reconcile_total{${c},result="success"} 0`,
      `controller_runtime_reconcile_errors_total{${c}} 1`,
      `controller_runtime_reconcile_time_seconds_count{${c}} 1`,
      `workqueue_adds_total{${q2}} 1`,
      `workqueue_retries_total{${q2}} 1`,
      `workqueue_depth{${q2}} 0`,
      `workqueue_queue_duration_seconds_count{${q2}} 1`,
      `workqueue_unfinished_work_seconds{${q2}} 5`,
      `workqueue_longest_running_processor_seconds{${q2}} 3`,
    ]) {
      assert.ok(text.split("\n").includes(line), line);
    }
    assert.doesNotMatch(text, /^nodejs_active_handles_total /m, "no gauge named *_total");
  });

  it("counts requests by code and method, and a write refused by the fence never reaches the server", async () => {
    const seen: string[] = [];
    const server = createServer((req, res) => {
      seen.push(`${req.method} ${req.url?.split("?")[0]}`);
      res.writeHead(req.method === "GET" ? 200 : 201, { "content-type": "application/json" }).end("{}");
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const kc = new KubeConfig();
      kc.loadFromOptions({
        clusters: [{ name: "c", server: url, skipTLSVerify: true }],
        users: [{ name: "u" }],
        contexts: [{ name: "x", cluster: "c", user: "u" }],
        currentContext: "x",
      });
      const m = new OperatorMetrics({ workers: 1 });
      let leader = true;
      const client = new KubeClient(kc, {
        hooks: {
          ...m.requestHooks(url),
          beforeSend(method) {
            if (method !== "GET" && !leader) throw new Error("not the leader");
          },
        },
      });
      await client.get("/api/v1/namespaces/ns/pods/a");
      await client.create("/api/v1/namespaces/ns/events", {});
      leader = false;
      await assert.rejects(client.create("/api/v1/namespaces/ns/events", {}), /not the leader/);
      await client.get("/api/v1/namespaces/ns/pods/a");
      assert.deepEqual(seen, [
        "GET /api/v1/namespaces/ns/pods/a",
        "POST /api/v1/namespaces/ns/events",
        "GET /api/v1/namespaces/ns/pods/a",
      ]);
      const text = await m.registry.metrics();
      const host = new URL(url).host;
      assert.match(
        text,
        new RegExp(`^rest_client_requests_total\\{code="200",method="GET",host="${host}"\\} 2$`, "m"),
      );
      assert.match(
        text,
        new RegExp(`^rest_client_requests_total\\{code="201",method="POST",host="${host}"\\} 1$`, "m"),
      );
    } finally {
      server.close();
    }
  });
});
