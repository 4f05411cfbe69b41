/**
 * Gates on the real control plane with the operator running: a prePromotion error-rate gate read from a
 * real Prometheus aborts a bad revision with traffic never moved and promotes a good one; a preRollout
 * migration Job (kwok completes or fails its pod) lets the rollout proceed, or aborts it before any new pod,
 * its failure recorded with "no log available" (kwok's pods have none).
 * Prometheus scrapes a local /metrics server that reports each BGD's error ratio (pods that answer with
 * their own metrics are the real-traffic setup's; the gate reads Prometheus either way).
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { type Prometheus, startPrometheus } from "../harness/prometheus.ts";
import { type LocalServer, serve } from "../unit/support/servers.ts";
import { applyBgd, getStatus, serviceSelector, waitStatus } from "./bgd.ts";
import { namespacesWithOperator } from "./fixture.ts";
import { gateRecord } from "./gates-lib.ts";
import { FAST_PODS, kubectl, kubectlJson } from "./lib.ts";

// This file's Prometheus and its /metrics server listen on the host's loopback, so its operator runs on
// the host too (inside the cluster's network namespace, 127.0.0.1 is the namespace's own loopback).
const { ns } = namespacesWithOperator("gates", ["bad", "good", "migrate", "failmig"] as const, {
  name: "gates",
  network: "host",
});

const ERROR_RATIO: Record<string, number> = { bad: 0.3, good: 0.01 };
let metrics: LocalServer | undefined;
let prom: Prometheus | undefined;
before(async () => {
  metrics = await serve((_req, res) => {
    res.writeHead(200, { "content-type": "text/plain; version=0.0.4" });
    res.end(
      Object.entries(ERROR_RATIO)
        .map(([bgd, r]) => `error_ratio{bgd="${bgd}"} ${r}\n`)
        .join(""),
    );
  });
  prom = await startPrometheus([`127.0.0.1:${metrics.port}`]);
  await prom.waitFor("error_ratio", 2);
});
after(async () => {
  await prom?.stop();
  await metrics?.close();
});

const auto = { promotion: { mode: "Auto" }, scaleDownDelaySeconds: 0 };
const errorGate = () => ({
  prePromotion: [
    {
      name: "error-rate",
      prometheus: {
        address: prom?.url ?? "",
        query: 'error_ratio{bgd="{{name}}"}',
        successCondition: "result < 0.05",
      },
    },
  ],
});
const migration = (fail: boolean) => ({
  preRollout: [
    {
      name: "migrate",
      timeoutSeconds: 60,
      job: {
        spec: {
          template: {
            metadata: {
              annotations: FAST_PODS,
              ...(fail ? { labels: { "test.bluegreen.io/fail": "true" } } : {}),
            },
            spec: { containers: [{ name: "migrate", image: "migrate:v2" }] },
          },
        },
      },
    },
  ],
});

async function stableOnBlue(n: string, name: string, gates: unknown) {
  await applyBgd(n, name, { image: `${name}:v1`, strategy: auto, extraSpec: { gates } });
  // Generous: on a busy machine the operator itself may take tens of seconds to start.
  await waitStatus(n, name, { phase: "Stable", activeColor: "blue" }, 180_000);
}

describe("gates", { concurrency: true }, () => {
  it("a prePromotion error-rate gate aborts a bad revision; traffic never leaves blue", async () => {
    const n = ns.bad;
    await stableOnBlue(n, "bad", errorGate());
    await applyBgd(n, "bad", { image: "bad:v2", strategy: auto, extraSpec: { gates: errorGate() } });
    const st = await waitStatus(n, "bad", { phase: "Aborted" }, 90_000);
    assert.equal(st.activeColor, "blue");
    assert.equal((await serviceSelector(n, "bad"))?.["bluegreen.io/color"], "blue");
    const degraded = st.conditions?.find((c) => c.type === "Degraded");
    assert.equal(degraded?.reason, "GateFailed", degraded?.message);
    const full = await kubectlJson<{
      status: { gates?: { name: string; phase: string; measurements: { value?: string }[] }[] };
    }>(["get", "bgd", "bad", "-n", n]);
    assert.equal(full.status.gates?.[0]?.phase, "Failed");
    assert.equal(full.status.gates?.[0]?.measurements[0]?.value, "0.3");
    assert.ok(!(st.history ?? []).some((h) => h.image === "bad:v2"));
  });

  it("the same gate promotes a good revision", async () => {
    const n = ns.good;
    await stableOnBlue(n, "good", errorGate());
    await applyBgd(n, "good", { image: "good:v2", strategy: auto, extraSpec: { gates: errorGate() } });
    await waitStatus(n, "good", { phase: "Stable", activeColor: "green" }, 90_000);
    const full = await kubectlJson<{ status: { gates?: { phase: string }[] } }>([
      "get",
      "bgd",
      "good",
      "-n",
      n,
    ]);
    assert.equal(full.status.gates?.[0]?.phase, "Successful");
  });

  it("a preRollout migration Job runs once, then the rollout proceeds", async () => {
    const n = ns.migrate;
    await stableOnBlue(n, "migrate", migration(false));
    await applyBgd(n, "migrate", {
      image: "migrate:v2",
      strategy: auto,
      extraSpec: { gates: migration(false) },
    });
    await waitStatus(n, "migrate", { phase: "Stable", activeColor: "green" }, 90_000);
    const jobs = await kubectlJson<{ items: unknown[] }>([
      "get",
      "jobs",
      "-n",
      n,
      "-l",
      "bluegreen.io/gate=migrate",
    ]);
    assert.equal(jobs.items.length, 1);
  });

  it("a failing migration Job aborts the rollout before any new pod starts", async () => {
    const n = ns.failmig;
    await stableOnBlue(n, "failmig", migration(true));
    await applyBgd(n, "failmig", {
      image: "failmig:v2",
      strategy: auto,
      extraSpec: { gates: migration(true) },
    });
    const st = await waitStatus(n, "failmig", { phase: "Aborted" }, 90_000);
    assert.equal(st.conditions?.find((c) => c.type === "Degraded")?.reason, "GateFailed");
    assert.equal(st.activeColor, "blue");
    const green = await kubectl([
      "get",
      "deploy",
      "failmig-green",
      "-n",
      n,
      "--ignore-not-found",
      "-o",
      "name",
    ]);
    assert.equal(green.trim(), "", "the green Deployment was never written");
    assert.equal((await getStatus(n, "failmig")).activeImage, "failmig:v1");
    // kwok runs no container, so its pods have no log: the verdict says so instead of failing to read one.
    const m = (await gateRecord(n, "migrate", "failmig")).measurements;
    assert.deepEqual(
      m.map((x) => [x.phase, x.value]),
      [["Failed", "BackoffLimitExceeded"]],
    );
    assert.match(m[0]?.message ?? "", /; no log available \(pod failmig-migrate-\w+-\w+: ./);
    assert.equal(m[0]?.logTail, undefined);
    console.log(`[gates] failed migration Job: ${m[0]?.message}`);
  });
});
