/**
 * Releases through an HTTPRoute the operator weights, judged by the requests a real Envoy (Contour + Envoy in
 * the cluster's network namespace, test/harness/gateway.ts) served: the plain switch (route untouched, one
 * selector write), canary steps 10 % → 50 % → switch with each step's share of requests per revision within a
 * stated tolerance of its weight, a failing error-rate gate at 10 % that sends everything back in one route
 * write, a pause that freezes a step, and an operator killed mid-step that resumes the same step.
 */
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import type { Gateway } from "../harness/gateway.ts";
import { httpRouteYaml } from "../harness/gateway-api.ts";
import { type CarriedPort, carryPort } from "../harness/netns-ports.ts";
import { type Prometheus, startPrometheus } from "../harness/prometheus.ts";
import { sentBetween, type Traffic } from "../harness/traffic.ts";
import type { LocalServer } from "../unit/support/servers.ts";
import { applyBgd, type BgdOptions, describeRequests, operatorRequests } from "./bgd.ts";
import { namespacesWithOperator } from "./fixture.ts";
import { routeWeights } from "./gateway-api.ts";
import { env, kubectl, kubectlJson, waitUntil } from "./lib.ts";
import { startOperator } from "./operator.ts";
import { podDiscoveryServer, podScrapeConfig } from "./pod-discovery.ts";
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

const GROUPS = ["plain", "canary", "gate", "pause"] as const;
// The pause group has operators of its own (one is killed); the fixture's watches the others.
const { ns, operator } = namespacesWithOperator("gwc", GROUPS, {
  name: "gateway-canary",
  watched: ["plain", "canary", "gate"],
  // A BGD using a route holds a finalizer (the route's weights are handed back): deleted while the
  // operator still runs, or its namespace stays terminating.
  deleteBgdsFirst: true,
});
let gw: Gateway | undefined;
let sd: LocalServer | undefined;
let sdCarried: CarriedPort | undefined;
let prom: Prometheus | undefined;
const watches: Watched[] = [];
const loads: Traffic[] = [];

// Started by the first test that needs them (after the fixture's hook made the namespaces): the gateway
// watches the namespaces its routes are in, Prometheus discovers the gate group's pods.
let started: Promise<void> | undefined;
function startDataPlane(): Promise<void> {
  started ??= (async () => {
    gw = await gatewayIn(ns.plain, { routeNamespaces: GROUPS.map((g) => ns[g]) });
    const cluster = env("BGO_CLUSTER_DIR");
    sd = await podDiscoveryServer(() => [ns.gate]);
    sdCarried = await carryPort(cluster, sd.port, "host");
    prom = await startPrometheus(
      { scrapeConfigs: podScrapeConfig(`${sd.url}/sd`) },
      { cluster: { dir: cluster } },
    );
  })();
  return started;
}
const stopAll = async () => {
  for (const w of watches) w.stop();
  await Promise.all(loads.map((t) => t.stop()));
  await gw?.stop();
  await prom?.stop();
  await sdCarried?.stop();
  await sd?.close();
};

function gateway(): Gateway {
  assert.ok(gw !== undefined, "the gateway starts in the before hook");
  return gw;
}

/** The route beside the BGD `app`: every request to its active Service, none to its preview Service. */
async function route(n: string, host: string): Promise<void> {
  const g = gateway();
  await kubectl(
    ["apply", "-f", "-"],
    httpRouteYaml({
      namespace: n,
      name: "app",
      hostname: host,
      gateway: { namespace: g.namespace, name: g.name },
      backends: [
        { name: "app", weight: 100 },
        { name: "app-preview", weight: 0 },
      ],
    }),
  );
}

/** The users' steady load through Envoy (requests per second). */
const USERS_RPS = 20;
const ROUTE = { trafficRouting: { httpRoute: { name: "app" } } };
const STRATEGY = { scaleDownDelaySeconds: 30, progressDeadlineSeconds: 300, abortScaleDownDelaySeconds: 10 };

async function load(host: string, rps: number, seconds = 400): Promise<Traffic> {
  const t = await loadThroughGateway(gateway(), host, { rps, seconds });
  loads.push(t);
  return t;
}

/** app v1 Stable on blue behind the route, the users' load through Envoy answered by it. */
async function stableV1(n: string, host: string, extra: Partial<BgdOptions> = {}) {
  await startDataPlane();
  const w = await watchNamespace(n);
  watches.push(w);
  // The route first: the BGD is Degraded (HTTPRouteNotUsable) without it.
  await route(n, host);
  const opts: BgdOptions = { image: "app:v1", strategy: STRATEGY, extraSpec: ROUTE, ...extra };
  await applyBgd(n, "app", opts);
  const v1 = await waitWatched(n, w, { phase: "Stable", activeColor: "blue" });
  const users = await load(host, USERS_RPS);
  await waitServedBy(users, v1.activeRevision ?? "", 20);
  return { w, rev1: v1.activeRevision ?? "", users, opts };
}

/**
 * 400 requests of fresh load (50/s for 8 s) through Envoy once it routes by the step's weights: each
 * revision's share within 5 standard deviations of its weight (test/e2e/traffic-lib.ts, assertShares).
 */
async function measureShares(host: string, rev1: string, rev2: string, preview: number, what: string) {
  const want = preview === 100 ? { app: 100 } : { app: 100 - preview, "app-preview": preview };
  await gateway()
    .waitWeights(host, want)
    .catch(async (err: unknown) => {
      throw new Error(
        `${String(err)}; Envoy routes ${host} by ${JSON.stringify(await gateway().routeWeights(host))}`,
      );
    });
  const t = await loadThroughGateway(gateway(), host, { rps: 50, seconds: 8 });
  // The whole bounded load: a stop right away would count the first few requests only.
  await t.done;
  const report = await t.stop();
  assert.ok(report.requests >= 300, `${what}: the load sent ${report.requests} of 400 requests`);
  console.log(fmtReport(what, report));
  assertNoFailures(report, t.records());
  const weights = preview === 100 ? { [rev2]: 100 } : { [rev1]: 100 - preview, [rev2]: preview };
  const shares = assertShares(t.records(), weights, what);
  return `${what}: ${rev2} ${(shares[rev2] ?? 0).toFixed(1)} % of ${report.ok} (weight ${preview} %)`;
}

const canaryOf = async (n: string) =>
  (
    await kubectlJson<{ status?: { rollout?: { canary?: { step: number; weight: number } } } }>([
      "get",
      "bgd",
      "app",
      "-n",
      n,
    ])
  ).status?.rollout?.canary;

// One test at a time: one Envoy (one worker thread) carries every test's load, on a shared 2-core machine.
describe("releases through an HTTPRoute, served by Envoy", () => {
  // Inside the describe: a file-level hook may run beside the tests of a concurrent describe.
  after(stopAll);

  it("no steps: the route is never written, the new revision answers every request after the one selector write, none before", {
    timeout: 600_000,
  }, async () => {
    const n = ns.plain;
    const host = "plain.canary.test";
    const { w, rev1, users, opts } = await stableV1(n, host);
    const since = new Date();
    await applyBgd(n, "app", { ...opts, image: "app:v2" });
    const waiting = await waitWatched(n, w, { phase: "AwaitingPromotion" });
    const rev2 = waiting.previewRevision ?? "";
    await waitServedBy(users, rev1, 20);
    const approvedAt = Date.now();
    await kubectl(["annotate", "-n", n, "bgd", "app", `bluegreen.io/promote=${rev2}`]);
    await waitWatched(n, w, { phase: "Stable", activeColor: "green" });
    await waitServedBy(users, rev2, 20);
    const settled = Date.now();
    await new Promise((r) => setTimeout(r, 3000));
    const records = users.records().slice();
    const report = await users.stop();
    console.log(fmtReport("no steps", report));
    assertNoFailures(report, records);
    assertNothingBeforeApproval(records, new Map([[rev2, approvedAt]]), rev1);
    const after = sentBetween(records, settled).filter((r) => r.outcome === "ok");
    assert.ok(after.length > 0);
    assert.deepEqual([...new Set(after.map((r) => r.revision))], [rev2]);
    const writes = await operatorRequests(operator().user, n, { since, writesOnly: true });
    assert.deepEqual(
      describeRequests(writes.filter((e) => e.objectRef?.resource === "httproutes")),
      [],
      "the route is not written",
    );
    assert.deepEqual(await routeWeights(n, "app"), { app: 100, "app-preview": 0 });
  });

  it("canary 10 % → 50 % → switch under load: each step's share per revision within 5σ of its weight, 0 failed", {
    timeout: 600_000,
  }, async () => {
    const n = ns.canary;
    const host = "steps.canary.test";
    const steps = [{ setWeight: 10 }, { pause: {} }, { setWeight: 50 }, { pause: {} }];
    const strategy = { ...STRATEGY, canary: { steps } };
    const { w, rev1, users, opts } = await stableV1(n, host, { strategy });
    await applyBgd(n, "app", { ...opts, strategy, image: "app:v2" });
    const at10 = await waitWatched(n, w, { phase: "AwaitingPromotion" });
    const rev2 = at10.previewRevision ?? "";
    const m10 = await measureShares(host, rev1, rev2, 10, "canary at 10 %");
    await kubectl(["annotate", "--overwrite", "-n", n, "bgd", "app", `bluegreen.io/promote-step=${rev2}:1`]);
    await waitUntil("canary at 50 %", 60_000, async () => (await canaryOf(n))?.step === 3);
    const m50 = await measureShares(host, rev1, rev2, 50, "canary at 50 %");
    await kubectl(["annotate", "--overwrite", "-n", n, "bgd", "app", `bluegreen.io/promote-step=${rev2}:3`]);
    await waitWatched(n, w, { phase: "AwaitingPromotion" });
    await kubectl(["annotate", "--overwrite", "-n", n, "bgd", "app", `bluegreen.io/promote=${rev2}`]);
    await waitWatched(n, w, { phase: "Stable", activeColor: "green" });
    await waitServedBy(users, rev2, 20);
    await waitUntil("the route back at active 100", 60_000, async () => {
      const r = await routeWeights(n, "app");
      return r.app === 100 && r["app-preview"] === 0;
    });
    const m100 = await measureShares(host, rev1, rev2, 100, "after the switch");
    const records = users.records().slice();
    const report = await users.stop();
    console.log(fmtReport("canary users", report));
    assertNoFailures(report, records);
    console.log(`[canary] measured shares: ${[m10, m50, m100].join("; ")}`);
  });

  it("a failing error-rate gate at 10 %: all traffic back in one route write; failed requests bounded by the step's share and window", {
    timeout: 600_000,
  }, async () => {
    const n = ns.gate;
    const host = "gate.canary.test";
    const strategy = { ...STRATEGY, canary: { steps: [{ setWeight: 10 }, { pause: {} }] } };
    await startDataPlane();
    const gates = {
      prePromotion: [
        {
          name: "error-rate",
          initialDelaySeconds: 10,
          interval: "5s",
          count: 4,
          failureLimit: 1,
          prometheus: {
            address: prom?.url ?? "",
            // The new revision's pods' own counters: what the 10 % the route sends them made of it.
            query: `(sum(rate(podsim_http_requests_total{namespace="{{namespace}}",revision="{{previewRevision}}",code=~"5.."}[20s])) or vector(0)) / sum(rate(podsim_http_requests_total{namespace="{{namespace}}",revision="{{previewRevision}}"}[20s]))`,
            successCondition: "result < 0.05",
          },
        },
      ],
    };
    const { w, rev1, users, opts } = await stableV1(n, host, { strategy, extraSpec: { ...ROUTE, gates } });
    const since = new Date();
    await applyBgd(n, "app", { ...opts, image: "app:v2", labels: { "test.bluegreen.io/error-rate": "0.3" } });
    const aborted = await waitWatched(n, w, { phase: "Aborted", activeColor: "blue" });
    assert.match(aborted.message ?? "", /prePromotion gate error-rate failed/);
    const routeWrites = (await operatorRequests(operator().user, n, { since, writesOnly: true })).filter(
      (e) => e.objectRef?.resource === "httproutes",
    );
    // 10 %, then back: two route writes.
    assert.deepEqual(describeRequests(routeWrites), [
      "patch httproutes app → 200",
      "patch httproutes app → 200",
    ]);
    assert.deepEqual(await routeWeights(n, "app"), { app: 100, "app-preview": 0 });
    const [up, down] = routeWrites.map((e) => Date.parse(e.requestReceivedTimestamp));
    await waitServedBy(users, rev1, 50);
    // Load on until well past the route write back (Envoy applies it within a second or two).
    await waitUntil("8 s after the route went back", 30_000, async () => Date.now() > (down ?? 0) + 8000);
    const records = users.records().slice();
    const report = await users.stop();
    console.log(fmtReport("gate at 10 %", report));
    const failed = records.filter((r) => r.outcome !== "ok");
    const rev2 = (
      await kubectlJson<{ status: { gates?: { revision: string }[] } }>(["get", "bgd", "app", "-n", n])
    ).status.gates?.[0]?.revision;
    // Every failure is a 500 of the new revision's pods: none of the live revision, no refused connection.
    assert.ok(failed.length > 0, "the new revision's errors were seen (the gate measured them)");
    assert.ok(
      failed.every((r) => r.outcome === "http-error" && r.revision === rev2),
      JSON.stringify(failed.slice(0, 5)),
    );
    // The bound: the step's share (10 %) of the requests sent while the route sent it, at the pods' error rate
    // (30 %), plus 5σ and the time Envoy takes to apply each of the two writes (2 s each, generously).
    const window = ((down ?? 0) - (up ?? 0)) / 1000 + 4;
    const sent = USERS_RPS * window * 0.1;
    const bound = sent * 0.3 + 5 * Math.sqrt(sent * 0.3 * 0.7) + 5;
    console.log(
      `[canary] gate abort at 10 %: ${failed.length} failed of ${report.requests} requests; route at 10 % for ${(((down ?? 0) - (up ?? 0)) / 1000).toFixed(1)} s; bound ${bound.toFixed(0)}`,
    );
    assert.ok(
      failed.length <= bound,
      `${failed.length} failed requests, more than the bound ${bound.toFixed(0)}`,
    );
    const late = sentBetween(records, (down ?? 0) + 4000);
    const wrong = late.filter((r) => r.outcome !== "ok" || r.revision !== rev1);
    assert.ok(late.length > 0, "requests were sent after the route went back");
    assert.deepEqual(
      wrong.slice(0, 5),
      [],
      `${wrong.length} of ${late.length} requests after the route went back`,
    );
  });

  it("spec.paused freezes a step and its weight (even against its approval); a killed operator resumes the same step; no failed request", {
    timeout: 600_000,
  }, async () => {
    const n = ns.pause;
    const host = "pause.canary.test";
    let op = await startOperator({ namespaces: [n], name: "gateway-canary-kill" });
    try {
      const steps = [{ setWeight: 10 }, { pause: {} }, { setWeight: 50 }, { pause: {} }];
      const strategy = { ...STRATEGY, canary: { steps } };
      const { w, rev1, users, opts } = await stableV1(n, host, { strategy });
      await applyBgd(n, "app", { ...opts, strategy, image: "app:v2" });
      await waitUntil("the canary at its first pause", 120_000, async () => (await canaryOf(n))?.step === 1);
      const rev2 = (
        await kubectlJson<{ status: { previewRevision?: string } }>(["get", "bgd", "app", "-n", n])
      ).status.previewRevision;
      await kubectl(["patch", "bgd", "app", "-n", n, "--type=merge", "-p", '{"spec":{"paused":true}}']);
      await waitWatched(n, w, { phase: "Paused" });
      // Paused, the step's approval moves nothing: the step and the weight stay.
      await kubectl([
        "annotate",
        "--overwrite",
        "-n",
        n,
        "bgd",
        "app",
        `bluegreen.io/promote-step=${rev2}:1`,
      ]);
      await new Promise((r) => setTimeout(r, 10_000));
      assert.deepEqual(await canaryOf(n), { step: 1, weight: 10 });
      assert.deepEqual(await routeWeights(n, "app"), { app: 90, "app-preview": 10 });
      await kubectl(["patch", "bgd", "app", "-n", n, "--type=merge", "-p", '{"spec":{"paused":false}}']);
      await waitUntil("50 % after the resume", 60_000, async () => (await canaryOf(n))?.step === 3);
      assert.deepEqual(await routeWeights(n, "app"), { app: 50, "app-preview": 50 });

      // kill -9 while holding at 50 %, and a new process: the same step, the same weight, nothing undone.
      const killedAt = new Date();
      await op.kill();
      op = await startOperator({ namespaces: [n], name: "gateway-canary-kill" });
      await new Promise((r) => setTimeout(r, 5000));
      const resumed = await canaryOf(n);
      assert.deepEqual([resumed?.step, resumed?.weight], [3, 50]);
      assert.deepEqual(await routeWeights(n, "app"), { app: 50, "app-preview": 50 });
      const afterKill = (await operatorRequests(op.user, n, { since: killedAt, writesOnly: true })).filter(
        (e) => e.objectRef?.resource === "httproutes",
      );
      assert.deepEqual(describeRequests(afterKill), [], "the restarted operator wrote no weight");
      await kubectl([
        "annotate",
        "--overwrite",
        "-n",
        n,
        "bgd",
        "app",
        `bluegreen.io/promote-step=${rev2}:3`,
      ]);
      await waitWatched(n, w, { phase: "AwaitingPromotion" });
      await kubectl(["annotate", "--overwrite", "-n", n, "bgd", "app", `bluegreen.io/promote=${rev2}`]);
      await waitWatched(n, w, { phase: "Stable", activeColor: "green" });
      await waitServedBy(users, rev2 ?? "", 20);
      const records = users.records().slice();
      const report = await users.stop();
      console.log(fmtReport("pause and kill -9", report));
      assertNoFailures(report, records);
      assert.ok(records.some((r) => r.revision === rev1));
    } finally {
      // Its BGD holds a finalizer that this operator removes (see deleteBgdsFirst above).
      await kubectl(["delete", "bgd", "--all", "-n", n, "--wait=true", "--timeout=60s"]).finally(() =>
        op.stop(),
      );
    }
  });
});
