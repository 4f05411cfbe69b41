/**
 * `kubectl bluegreen retry` re-runs an Inconclusive gate check: a prePromotion Prometheus check whose query
 * finds nothing (emptyResult: Inconclusive) holds the rollout with traffic on blue; once the metric exists, a
 * retry through real kubectl removes the check's record and the operator measures again, passes, and promotes.
 */
import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { type Prometheus, startPrometheus } from "../harness/prometheus.ts";
import { type LocalServer, serve } from "../unit/support/servers.ts";
import { applyBgd, serviceSelector, waitStatus } from "./bgd.ts";
import { namespacesWithOperator } from "./fixture.ts";
import { kubectlJson, waitUntil } from "./lib.ts";
import { plugin, pluginBin } from "./plugin-bin.ts";

// Prometheus and its target listen on the host's loopback, so the operator runs on the host too.
const { ns } = namespacesWithOperator("retry", ["held"] as const, { name: "gate-retry", network: "host" });

let exported = false;
let metrics: LocalServer | undefined;
let prom: Prometheus | undefined;
const bin = pluginBin();
before(async () => {
  metrics = await serve((_req, res) => {
    res.writeHead(200, { "content-type": "text/plain; version=0.0.4" });
    res.end(`target_alive 1\n${exported ? 'ready_ratio{bgd="web"} 0.9\n' : ""}`);
  });
  prom = await startPrometheus([`127.0.0.1:${metrics.port}`]);
  await prom.waitFor("target_alive", 1);
});
after(async () => {
  await prom?.stop();
  await metrics?.close();
  rmSync(bin, { recursive: true, force: true });
});

type Gates = { status: { gates?: { name: string; phase: string; measurements?: unknown[] }[] } };

describe("retry of an Inconclusive gate", () => {
  it("holds the rollout on blue until retried, then measures again and promotes", async () => {
    const n = ns.held;
    const auto = { promotion: { mode: "Auto" }, scaleDownDelaySeconds: 0 };
    await applyBgd(n, "web", { image: "web:v1", strategy: auto });
    await waitStatus(n, "web", { phase: "Stable", activeColor: "blue" });
    const gates = {
      prePromotion: [
        {
          name: "ready",
          prometheus: {
            address: prom?.url ?? "",
            query: 'ready_ratio{bgd="{{name}}"}',
            successCondition: "result > 0.5",
            emptyResult: "Inconclusive",
          },
        },
      ],
    };
    await applyBgd(n, "web", { image: "web:v2", strategy: auto, extraSpec: { gates } });
    const phase = async () =>
      (await kubectlJson<Gates>(["get", "bgd", "web", "-n", n])).status.gates?.find((g) => g.name === "ready")
        ?.phase;
    await waitUntil("the check Inconclusive", 90_000, async () => (await phase()) === "Inconclusive");
    assert.equal((await serviceSelector(n, "web"))?.["bluegreen.io/color"], "blue", "traffic stays on blue");

    exported = true;
    await prom?.waitFor('ready_ratio{bgd="web"}', 1);
    // Still held: nothing re-runs an Inconclusive check by itself.
    assert.equal(await phase(), "Inconclusive");
    const r = await plugin(bin, ["retry", "web", "-n", n]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stdout,
      /retried: gate ready of revision [0-9a-f]{10} runs again from the first measurement/,
    );

    await waitStatus(n, "web", { phase: "Stable", activeColor: "green" }, 90_000);
    const after = await kubectlJson<Gates>(["get", "bgd", "web", "-n", n]);
    const ready = after.status.gates?.find((g) => g.name === "ready");
    assert.equal(ready?.phase, "Successful");
    assert.equal(ready?.measurements?.length, 1, "measured once more, from the first measurement");
    const again = await plugin(bin, ["retry", "web", "-n", n]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /nothing to retry/);
  });
});
