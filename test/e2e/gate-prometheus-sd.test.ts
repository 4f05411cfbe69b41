/**
 * A real Prometheus finding a BGD's pods through the local API server (HTTP service discovery fed from the
 * API server with kubernetes_sd's labels, see pod-discovery.ts) and
 * labelling their series with the pods' namespace, BGD, color and revision — what a prometheus gate's query
 * selects on (`revision="{{previewRevision}}"`). kwok pods answer nothing, so their `up` is 0; with pods that
 * answer, the same configuration scrapes their /metrics.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { measurePrometheus } from "../../src/controller/gates/prometheus-check.ts";
import { type Prometheus, startPrometheus } from "../harness/prometheus.ts";
import type { LocalServer } from "../unit/support/servers.ts";
import { deleteNamespace, FAST_PODS, kubectl, newNamespace, waitUntil } from "./lib.ts";
import { podDiscoveryServer, podScrapeConfig } from "./pod-discovery.ts";

let ns = "";
let prom: Prometheus | undefined;
let sd: LocalServer | undefined;
before(async () => {
  ns = await newNamespace("gate-sd");
  const labels = {
    app: "web",
    "bluegreen.io/name": "web",
    "bluegreen.io/color": "green",
    "bluegreen.io/revision": "r2",
  };
  await kubectl(
    ["create", "-n", ns, "-f", "-"],
    JSON.stringify({
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "web-green" },
      spec: {
        replicas: 2,
        selector: { matchLabels: labels },
        template: {
          metadata: { labels, annotations: FAST_PODS },
          spec: { containers: [{ name: "web", image: "web:v2" }] },
        },
      },
    }),
  );
  sd = await podDiscoveryServer([ns]);
  prom = await startPrometheus({ scrapeConfigs: podScrapeConfig(`${sd.url}/sd`) });
});
after(async () => {
  await prom?.stop();
  await sd?.close();
  await deleteNamespace(ns);
});

describe("Prometheus with pod discovery", () => {
  it("finds the BGD's pods and labels their series with BGD, color and revision", async () => {
    const p = prom;
    assert.ok(p !== undefined);
    await p.waitFor(`up{namespace="${ns}",bgd="web",color="green",revision="r2"}`, 2, 90_000);
    const r = await waitUntil("a gate query over the discovered pods", 30_000, async () => {
      const o = await measurePrometheus({
        address: p.url,
        query: `count(up{namespace="${ns}",revision="r2"})`,
        successCondition: "result == 2",
        emptyResult: "Failure",
        timeoutMs: 5000,
      });
      return o.phase === "Successful" ? o : undefined;
    });
    assert.equal(r.value, "2");
  });
});
