/**
 * Traffic through a real Gateway data plane (Contour + Envoy in the cluster's network namespace,
 * test/harness/gateway.ts): Envoy honours an HTTPRoute's weights (the proof the canary steps build on),
 * and an Ingress-style route to the active Service follows the selector switch with no failed request —
 * a gateway or Ingress in front of the active Service needs nothing new from the operator.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { Gateway } from "../harness/gateway.ts";
import { httpRouteYaml, type RouteBackend } from "../harness/gateway-api.ts";
import { sentBetween } from "../harness/traffic.ts";
import { applyBgd } from "./bgd.ts";
import { namespacesWithOperator } from "./fixture.ts";
import { FAST_PODS, kubectl, waitUntil } from "./lib.ts";
import {
  assertNoFailures,
  assertNothingBeforeApproval,
  assertShares,
  fmtReport,
  gatewayIn,
  loadThroughGateway,
  type Watched,
  waitServedBy,
  waitWatched,
  watchNamespace,
} from "./traffic-lib.ts";

const { ns } = namespacesWithOperator("gw", ["ingress", "weights"] as const, {
  name: "gateway-ingress",
  watched: ["ingress"],
});
let gw: Gateway | undefined;
const watches: Watched[] = [];

function gateway(): Gateway {
  assert.ok(gw !== undefined, "the gateway starts in the before hook");
  return gw;
}

async function applyRoute(n: string, name: string, hostname: string, backends: RouteBackend[]) {
  const g = gateway();
  await kubectl(
    ["apply", "-f", "-"],
    httpRouteYaml({
      namespace: n,
      name,
      hostname,
      gateway: { namespace: g.namespace, name: g.name },
      backends,
    }),
  );
}

/** A plain Deployment and Service whose pods answer as revision `revision` (podsim reads the label). */
async function standIn(n: string, name: string, revision: string): Promise<void> {
  const labels = { app: name, "bluegreen.io/revision": revision };
  await kubectl(
    ["apply", "-n", n, "-f", "-"],
    [
      {
        apiVersion: "apps/v1",
        kind: "Deployment",
        metadata: { name },
        spec: {
          replicas: 2,
          selector: { matchLabels: { app: name } },
          template: {
            metadata: { labels, annotations: FAST_PODS },
            spec: {
              terminationGracePeriodSeconds: 1,
              containers: [{ name: "app", image: `${name}:v1`, ports: [{ containerPort: 8080 }] }],
            },
          },
        },
      },
      {
        apiVersion: "v1",
        kind: "Service",
        metadata: { name },
        spec: { selector: { app: name }, ports: [{ port: 80, targetPort: 8080 }] },
      },
    ]
      .map((o) => JSON.stringify(o))
      .join("\n"),
  );
  await kubectl(["rollout", "status", "-n", n, `deployment/${name}`, "--timeout=60s"]);
}

describe("traffic through a Gateway (Contour + Envoy)", { concurrency: true }, () => {
  // In the suite, not the file: the file's hooks (namespacesWithOperator) have made the namespaces by then.
  before(async () => {
    gw = await gatewayIn(ns.ingress, { routeNamespaces: [ns.weights] });
  });
  after(async () => {
    for (const w of watches) w.stop();
    await gw?.stop();
  });

  it("Envoy sends each backendRef its weight's share of the requests (80/20, 50/50, 0/100)", async () => {
    const n = ns.weights;
    const host = "weights.gateway.test";
    await Promise.all([standIn(n, "rev-a", "a"), standIn(n, "rev-b", "b")]);
    const measured: string[] = [];
    for (const [a, b] of [
      [80, 20],
      [50, 50],
      [0, 100],
    ] as const) {
      await applyRoute(n, "split", host, [
        { name: "rev-a", weight: a },
        { name: "rev-b", weight: b },
      ]);
      await gateway().waitWeights(host, { "rev-a": a, "rev-b": b });
      // Both Services' endpoints reach Envoy through EDS, not with the route: wait until every
      // backend with a weight has answered once, so the counted window sees the whole pool.
      const want = [a > 0 ? "a" : "", b > 0 ? "b" : ""].filter((r) => r !== "");
      const warm = await loadThroughGateway(gateway(), host, { rps: 50, seconds: 30 });
      await waitUntil(`revisions ${want.join(", ")} answering through Envoy`, 30_000, async () =>
        want.every((r) => warm.records().some((x) => x.revision === r)),
      );
      await warm.stop();
      // 400 requests: the 5σ tolerance is ±10 points at 80/20 and ±12.5 at 50/50; 0 at 0/100.
      const t = await loadThroughGateway(gateway(), host, { rps: 100, seconds: 4 });
      await t.done;
      const report = await t.stop();
      // The shares are a proof only over enough requests (the load sends every one it falls behind on).
      assert.ok(report.requests >= 300, `the load sent ${report.requests} of 400 requests`);
      console.log(fmtReport(`weights ${a}/${b}`, report));
      assertNoFailures(report, t.records());
      assertShares(t.records(), { a, b }, `weights ${a}/${b}`);
      measured.push(`${a}/${b} → ${report.byRevision.a ?? 0}/${report.byRevision.b ?? 0} of ${report.ok}`);
    }
    console.log(`[gateway] measured shares: ${measured.join("; ")}`);
  });

  it("an Ingress-style route to the active Service follows the selector switch with 0 failed requests", async () => {
    const n = ns.ingress;
    const host = "app.gateway.test";
    const strategy = { scaleDownDelaySeconds: 5 };
    const w = await watchNamespace(n);
    watches.push(w);
    await applyBgd(n, "app", { image: "app:v1", strategy });
    const v1 = await waitWatched(n, w, { phase: "Stable", activeColor: "blue" });
    const rev1 = v1.activeRevision ?? "";
    // The route names the BGD's active Service and nothing else: the operator knows nothing of it.
    await applyRoute(n, "app", host, [{ name: "app" }]);
    const traffic = await loadThroughGateway(gateway(), host, { rps: 30, seconds: 120 });
    await waitServedBy(traffic, rev1, 20);

    await applyBgd(n, "app", { image: "app:v2", strategy });
    const waiting = await waitWatched(n, w, { phase: "AwaitingPromotion" });
    const rev2 = waiting.previewRevision ?? "";
    // The preview is up and ready: still every request through the gateway is the live revision's.
    await waitServedBy(traffic, rev1, 20);
    const approvedAt = Date.now();
    await kubectl(["annotate", "--overwrite", "-n", n, "bgd", "app", `bluegreen.io/promote=${rev2}`]);
    await waitWatched(n, w, { phase: "Stable", activeColor: "green" });
    await waitServedBy(traffic, rev2, 20);
    // After the switch reached Envoy, the new revision answers every request (3 s more of load).
    const settled = Date.now();
    await new Promise((r) => setTimeout(r, 3000));
    const records = traffic.records().slice();
    const report = await traffic.stop();
    console.log(fmtReport("ingress-style route", report));
    assertNoFailures(report, records);
    assert.deepEqual(
      report.switches.map((s) => [s.from, s.to]),
      [[rev1, rev2]],
      "one move, from the live revision to the approved one",
    );
    const after = sentBetween(records, settled).filter((r) => r.outcome === "ok");
    assert.ok(after.length > 0, "requests were sent after the switch");
    assert.deepEqual([...new Set(after.map((r) => r.revision))], [rev2]);
    assertNothingBeforeApproval(records, new Map([[rev2, approvedAt]]), rev1);
    const firstNew = report.switches[0]?.firstNew ?? approvedAt;
    console.log(
      `[gateway] approval → first answer of ${rev2} through Envoy ${firstNew - approvedAt} ms; ` +
        `both revisions answered for ${report.switches[0]?.mixedMs} ms`,
    );
  });
});
