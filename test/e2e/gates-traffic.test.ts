/**
 * Gates judged by real traffic: podsim answers as every pod (a share of 500s from the pod annotation or
 * label `test.bluegreen.io/error-rate`) and serves each pod's own request counters on /metrics; a real
 * Prometheus, inside the cluster's network namespace where pod IPs answer, finds the pods through the API
 * server (pod-discovery.ts) and scrapes them; the operator, in the namespace too, asks it, and sends its
 * http checks to the preview Service's ClusterIP through kube-proxy. A steady load on the active Service
 * stands for the users; every request they sent is judged.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { type CarriedPort, carryPort } from "../harness/netns-ports.ts";
import { type Prometheus, startPrometheus } from "../harness/prometheus.ts";
import type { RequestRecord, Traffic } from "../harness/traffic.ts";
import type { LocalServer } from "../unit/support/servers.ts";
import { applyBgd, type BgdOptions } from "./bgd.ts";
import { namespacesWithOperator } from "./fixture.ts";
import { type GateRecord, gateRecord, held, measured } from "./gates-lib.ts";
import { env } from "./lib.ts";
import { podDiscoveryServer, podScrapeConfig } from "./pod-discovery.ts";
import {
  assertNoFailures,
  fmtReport,
  loadOn,
  type Watched,
  waitFor,
  waitServedBy,
  waitWatched,
  watchNamespace,
} from "./traffic-lib.ts";

const { ns } = namespacesWithOperator("gtr", ["errors", "http", "back"] as const, { name: "gates-traffic" });

// Users' load on the active Service, and a smaller one on the preview Service (what gives the preview's
// pods counters for the error-rate gate to read): steady, bounded, little CPU.
const USERS_RPS = 20;
const PREVIEW_RPS = 10;

let sd: LocalServer | undefined;
let prom: Prometheus | undefined;
let sdCarried: CarriedPort | undefined;
const watches: Watched[] = [];
const loads: Traffic[] = [];
/** A load that the file's teardown stops too (a failed test leaves it running otherwise). */
async function load(n: string, svc: string, rps: number): Promise<Traffic> {
  const t = await loadOn(n, svc, { rps, seconds: 300 });
  loads.push(t);
  return t;
}
before(async () => {
  const cluster = env("BGO_CLUSTER_DIR");
  sd = await podDiscoveryServer(() => Object.values(ns));
  // Prometheus runs in the namespace (pod IPs answer only there) and reads the discovery on the host.
  sdCarried = await carryPort(cluster, sd.port, "host");
  prom = await startPrometheus(
    { scrapeConfigs: podScrapeConfig(`${sd.url}/sd`) },
    { cluster: { dir: cluster } },
  );
});
after(async () => {
  for (const w of watches) w.stop();
  await Promise.all(loads.map((t) => t.stop()));
  await prom?.stop();
  await sdCarried?.stop();
  await sd?.close();
});

/** The share of 5xx answers of a revision's pods over the last 20 s, from their own counters. */
const errorRatio = (revision: string) => {
  const sel = `namespace="{{namespace}}",revision="{{${revision}}}"`;
  return `(sum(rate(podsim_http_requests_total{${sel},code=~"5.."}[20s])) or vector(0)) / sum(rate(podsim_http_requests_total{${sel}}[20s]))`;
};
// Four measurements 5 s apart, two failures tolerated: on a busy machine the first ones may come before
// Prometheus has two samples of the new pods (an empty result counts as a failure: no data proves
// nothing). A pass then rests on at least two measured ratios; the tests assert that a failure rests on
// at least one measured ratio above the limit, not on empty results alone.
const timing = { initialDelaySeconds: 10, interval: "5s", count: 4, failureLimit: 2 };
const errorRateGate = (revision: "previewRevision" | "activeRevision") => ({
  name: "error-rate",
  ...timing,
  prometheus: {
    address: prom?.url ?? "",
    query: errorRatio(revision),
    successCondition: "result < 0.05",
  },
});
const smokeGate = {
  name: "smoke",
  // Every answer counts: three in a row from the preview, none may fail.
  initialDelaySeconds: 2,
  interval: "2s",
  count: 3,
  failureLimit: 0,
  // The preview Service by its ClusterIP (no cluster DNS here), through kube-proxy to a preview pod; the
  // body says which color answered.
  http: {
    url: "http://{{previewServiceIP}}:{{servicePort}}/smoke",
    jsonPath: "$.color",
    successCondition: 'result == "green"',
  },
};
const strategy = {
  promotion: { mode: "Auto", delaySeconds: 0 },
  // Generous: the preview must become ready on a busy 2-core machine (a bound on a hang, not a timing).
  progressDeadlineSeconds: 300,
  // The old color stays warm long after the switch: a switch back needs it.
  scaleDownDelaySeconds: 300,
  abortScaleDownDelaySeconds: 0,
};
/**
 * For a revision that takes live traffic and is switched away from: its pods keep answering while
 * kube-proxy catches up with the switch back. With 0 they were scaled down 120 ms after it, and a
 * request kube-proxy still sent there was refused — what the user asked for with 0, not a failure of
 * the switch.
 */
const drainingStrategy = { ...strategy, abortScaleDownDelaySeconds: 10 };

/** What Prometheus holds for the namespace's pods (for a failure's message). */
async function scraped(n: string): Promise<string> {
  const q = `podsim_http_requests_total{namespace="${n}"}`;
  const res = await fetch(`${prom?.url}/api/v1/query?query=${encodeURIComponent(q)}`).catch((e: Error) => e);
  if (res instanceof Error) return res.message;
  const body = (await res.json()) as {
    data?: { result?: { metric: Record<string, string>; value: unknown }[] };
  };
  const series = body.data?.result?.map((r) => [r.metric.pod, r.metric.revision, r.metric.code, r.value]);
  const targets = await fetch(`${prom?.url}/api/v1/targets`).then((r) => r.text());
  return `${JSON.stringify(series)}; targets: ${targets.slice(0, 1500)}`;
}
const values = (r: GateRecord) => r.measurements.map((m) => Number(m.value)).filter(Number.isFinite);

/** app v1 Stable on blue with the gates in place, and the users' load answered by it. */
async function stableV1(n: string, gates: unknown, strat = strategy) {
  const w = await watchNamespace(n);
  watches.push(w);
  await applyBgd(n, "app", { image: "app:v1", strategy: strat, extraSpec: { gates } });
  const v1 = await waitWatched(n, w, { phase: "Stable", activeColor: "blue" });
  const rev1 = v1.activeRevision ?? "";
  const users = await load(n, "app", USERS_RPS);
  await waitServedBy(users, rev1, 20);
  return { w, rev1, users };
}
const release = (n: string, image: string, gates: unknown, errorRate?: string, strat = strategy) => {
  const o: BgdOptions = {
    image,
    strategy: strat,
    extraSpec: { gates },
    ...(errorRate !== undefined ? { labels: { "test.bluegreen.io/error-rate": errorRate } } : {}),
  };
  return applyBgd(n, "app", o);
};

const revisionsOf = (records: readonly RequestRecord[]) => new Set(records.map((r) => r.revision));

/**
 * The users' verdict on a gate that stopped one revision and promoted the next: no failed request,
 * none answered by the stopped revision, and one switch, from the first revision to the promoted one.
 */
async function usersSawOneSwitch(users: Traffic, label: string, stopped: string, from: string, to: string) {
  const records = users.records();
  const report = await users.stop();
  console.log(fmtReport(label, report));
  assertNoFailures(report, records);
  assert.ok(!revisionsOf(records).has(stopped), "no user request reached the stopped revision");
  assert.deepEqual(
    report.switches.map((s) => [s.from, s.to]),
    [[from, to]],
  );
}

describe("gates under real traffic", { concurrency: true }, () => {
  it("a prePromotion error-rate gate over the pods' own counters aborts a preview answering 30 % errors and promotes a healthy one; users see no failure", {
    timeout: 600_000,
  }, async () => {
    const n = ns.errors;
    const gates = { prePromotion: [errorRateGate("previewRevision")] };
    const { w, rev1, users } = await stableV1(n, gates);
    const preview = await load(n, "app-preview", PREVIEW_RPS);

    await release(n, "app:v2", gates, "0.3");
    const aborted = await waitWatched(n, w, { phase: "Aborted", activeColor: "blue" });
    const bad = await gateRecord(n, "error-rate");
    const rev2 = bad.revision;
    assert.equal(bad.phase, "Failed", bad.message);
    assert.ok(
      values(bad).some((v) => v > 0.05),
      `a measured error ratio above the limit: ${JSON.stringify(bad.measurements)}; scraped: ${await scraped(n)}`,
    );
    assert.equal(aborted.conditions?.find((c) => c.type === "Degraded")?.reason, "GateFailed");
    assert.equal(w.selector("app"), "blue");
    // The preview's pods did answer 500s through kube-proxy (what the gate measured).
    const previewSaw = preview.records().filter((r) => r.revision === rev2);
    assert.ok(
      previewSaw.some((r) => r.status === 500),
      "the bad preview answered 500s",
    );
    console.log(
      `[gates-traffic] bad preview: ${previewSaw.length} preview requests, ${previewSaw.filter((r) => r.status === 500).length} answered 500; ${held(bad)}; measured ${values(bad).join(", ")}`,
    );

    await release(n, "app:v3", gates);
    const promoted = await waitWatched(n, w, {
      phase: "Stable",
      activeColor: "green",
      activeImage: "app:v3",
    });
    const rev3 = promoted.activeRevision ?? "";
    const good = await gateRecord(n, "error-rate");
    assert.equal(good.revision, rev3);
    assert.equal(good.phase, "Successful", good.message);
    assert.ok(
      values(good).every((v) => v < 0.05),
      JSON.stringify(good.measurements),
    );
    console.log(`[gates-traffic] good preview: ${held(good)}; measured ${values(good).join(", ")}`);
    await waitServedBy(users, rev3, 20);

    await preview.stop();
    await usersSawOneSwitch(users, "error-rate gate (users)", rev2, rev1, rev3);
  });

  it("an http check through kube-proxy to the preview Service's ClusterIP aborts a preview answering 500 and passes a healthy one; users see no failure", {
    timeout: 600_000,
  }, async () => {
    const n = ns.http;
    const gates = { prePromotion: [smokeGate] };
    const { w, rev1, users } = await stableV1(n, gates);

    await release(n, "app:v2", gates, "1");
    await waitWatched(n, w, { phase: "Aborted", activeColor: "blue" });
    const bad = await gateRecord(n, "smoke");
    const rev2 = bad.revision;
    assert.equal(bad.phase, "Failed", bad.message);
    assert.deepEqual(measured(bad), [["Failed", "status 500"]]);
    assert.equal(w.selector("app"), "blue");

    await release(n, "app:v3", gates);
    const promoted = await waitWatched(n, w, {
      phase: "Stable",
      activeColor: "green",
      activeImage: "app:v3",
    });
    const rev3 = promoted.activeRevision ?? "";
    const good = await gateRecord(n, "smoke");
    assert.equal(good.revision, rev3);
    assert.equal(good.phase, "Successful", good.message);
    assert.deepEqual(measured(good), [
      ["Successful", '$.color = "green"'],
      ["Successful", '$.color = "green"'],
      ["Successful", '$.color = "green"'],
    ]);
    console.log(`[gates-traffic] healthy preview: ${held(good)}; bad preview: ${held(bad)}`);
    await waitServedBy(users, rev3, 20);

    await usersSawOneSwitch(users, "http gate (users)", rev2, rev1, rev3);
  });

  it("a postPromotion error-rate gate on live traffic switches back to the warm old color; the failed requests are confined to the new color's time live", {
    timeout: 600_000,
  }, async () => {
    const n = ns.back;
    const gates = { postPromotion: [errorRateGate("activeRevision")] };
    const { w, rev1, users } = await stableV1(n, gates, drainingStrategy);

    // A release that answers 30 % errors once it takes live traffic (no preview load, no prePromotion gate).
    await release(n, "app:v2", gates, "0.3", drainingStrategy);
    await waitFor(n, "the switch to green", () => w.selector("app") === "green");
    await waitWatched(n, w, { phase: "Aborted", activeColor: "blue" });
    await waitFor(n, "the switch back to blue", () => w.selector("app") === "blue");
    const gate = await gateRecord(n, "error-rate");
    const rev2 = gate.revision;
    assert.equal(gate.phase, "Failed", gate.message);
    assert.ok(
      values(gate).some((v) => v > 0.05),
      `${JSON.stringify(gate.measurements)}; scraped: ${await scraped(n)}`,
    );
    console.log(`[gates-traffic] live check: ${held(gate)}; measured ${values(gate).join(", ")}`);
    await waitServedBy(users, rev1, 40);

    const records = users.records();
    const report = await users.stop();
    console.log(fmtReport("postPromotion switch-back (users)", report));
    const byRev2 = records.filter((r) => r.revision === rev2);
    const failed = records.filter((r) => r.outcome !== "ok");
    const live = { from: Math.min(...byRev2.map((r) => r.t)), to: Math.max(...byRev2.map((r) => r.t)) };
    const firstFail = Math.min(...failed.map((r) => r.t));
    const lastFail = Math.max(...failed.map((r) => r.t));
    console.log(
      `[gates-traffic] switch-back: ${failed.length} failed of ${report.requests} requests ` +
        `(${byRev2.length} answered by the bad revision over ${live.to - live.from} ms); ` +
        `failures from ${firstFail - live.from} ms to ${lastFail - live.from} ms after its first answer, ` +
        `a window of ${lastFail - firstFail} ms`,
    );
    assert.deepEqual(
      report.switches.map((s) => [s.from, s.to]),
      [
        [rev1, rev2],
        [rev2, rev1],
      ],
      "traffic went to the new revision and back",
    );
    assert.ok(failed.length > 0, "the bad revision failed requests while live (what the gate measured)");
    // Contained: every failure is a 500 from the bad revision while it was live; nothing failed before the
    // switch (v1 served) or once traffic was back on the warm color (refused or reset connections would
    // show a switch that dropped requests).
    for (const f of failed) {
      assert.equal(f.outcome, "http-error", `${f.outcome} ${f.error ?? ""}`);
      assert.equal(f.status, 500);
      assert.equal(f.revision, rev2);
      assert.ok(f.t >= live.from && f.t <= live.to);
    }
    const before = records.filter((r) => r.t < live.from);
    const afterBack = records.filter((r) => r.t > live.to);
    assert.ok(before.length > 0 && before.every((r) => r.outcome === "ok" && r.revision === rev1));
    assert.ok(afterBack.length >= 40 && afterBack.every((r) => r.outcome === "ok" && r.revision === rev1));
  });
});
