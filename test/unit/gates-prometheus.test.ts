/**
 * The prometheus check against a real Prometheus scraping a local /metrics server: conditions over scalars and
 * vectors (every series must pass), the emptyResult rule, query errors, a Prometheus that is down or hangs.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import {
  measurePrometheus,
  type PrometheusQuerySpec,
  seriesOf,
} from "../../src/controller/gates/prometheus-check.ts";
import { type Prometheus, startPrometheus } from "../harness/prometheus.ts";
import { closedPort, type LocalServer, serve } from "./support/servers.ts";

let app: LocalServer;
let hanging: LocalServer;
let prom: Prometheus;
let scrapes = 0;

before(async () => {
  // Two revisions' pods as one target: "good" answers 1 % errors, "bad" 30 %; the counters grow per scrape.
  app = await serve((req, res) => {
    if (req.url !== "/metrics") return void res.writeHead(404).end();
    scrapes += 1;
    const n = scrapes * 100;
    res.writeHead(200, { "content-type": "text/plain; version=0.0.4" });
    res.end(
      [
        "# TYPE requests_total counter",
        `requests_total{revision="good"} ${n}`,
        `requests_total{revision="bad"} ${n}`,
        "# TYPE errors_total counter",
        `errors_total{revision="good"} ${n * 0.01}`,
        `errors_total{revision="bad"} ${n * 0.3}`,
        "# TYPE error_ratio gauge",
        'error_ratio{revision="good"} 0.01',
        'error_ratio{revision="bad"} 0.3',
        "",
      ].join("\n"),
    );
  });
  hanging = await serve(() => {});
  prom = await startPrometheus([`127.0.0.1:${app.port}`]);
  // rate() needs two samples in its window.
  await prom.waitFor('rate(requests_total{revision="good"}[10s])', 1);
});
after(async () => {
  await prom?.stop();
  await app?.close();
  await hanging?.close();
});

const spec = (query: string, extra: Partial<PrometheusQuerySpec> = {}): PrometheusQuerySpec => ({
  address: prom.url,
  query,
  successCondition: "result < 0.05",
  emptyResult: "Failure",
  timeoutMs: 5000,
  ...extra,
});
const errorRate = (revision: string) =>
  `sum(rate(errors_total{revision="${revision}"}[10s])) / sum(rate(requests_total{revision="${revision}"}[10s]))`;

describe("a prometheus measurement", () => {
  it("passes a healthy revision's error rate and fails a bad one's", async () => {
    const good = await measurePrometheus(spec(errorRate("good")));
    assert.equal(good.phase, "Successful", JSON.stringify(good));
    assert.equal(good.value, "0.01");
    const bad = await measurePrometheus(spec(errorRate("bad")));
    assert.deepEqual(bad, { phase: "Failed", value: "0.3", message: "result < 0.05 does not hold" });
  });
  it("needs every series of a vector to pass, and names the ones that do not", async () => {
    const r = await measurePrometheus(spec("error_ratio"));
    assert.equal(r.phase, "Failed");
    assert.match(r.value ?? "", /revision="bad"/);
    assert.doesNotMatch(r.value ?? "", /revision="good"/);
    assert.equal(r.message, "result < 0.05 does not hold for 1 of 2 series");
    assert.equal(
      (await measurePrometheus(spec("error_ratio", { successCondition: "result < 0.5" }))).phase,
      "Successful",
    );
  });
  it("compares a scalar", async () => {
    assert.equal(
      (await measurePrometheus(spec("scalar(count(up))", { successCondition: "result == 1" }))).phase,
      "Successful",
    );
  });
  it("decides an empty result by emptyResult", async () => {
    const q = 'error_ratio{revision="nope"}';
    assert.deepEqual(await measurePrometheus(spec(q)), {
      phase: "Failed",
      value: "no series",
      message: "the query returned no series (emptyResult: Failure)",
    });
    assert.equal((await measurePrometheus(spec(q, { emptyResult: "Success" }))).phase, "Successful");
    assert.equal((await measurePrometheus(spec(q, { emptyResult: "Inconclusive" }))).phase, "Inconclusive");
  });
  it("fails NaN (no traffic: 0/0) rather than passing it", async () => {
    const r = await measurePrometheus(spec("scalar(vector(0)) / scalar(vector(0))"));
    assert.deepEqual(r, { phase: "Failed", value: "NaN", message: "result < 0.05 does not hold" });
  });
  it("is an error on a query Prometheus refuses, and on a range vector", async () => {
    const syntax = await measurePrometheus(spec("sum(rate(requests_total[1m])"));
    assert.equal(syntax.phase, "Error");
    assert.match(syntax.message ?? "", /^query error: .*parse error/);
    const range = await measurePrometheus(spec("requests_total[10s]"));
    assert.equal(range.phase, "Error");
    assert.match(range.message ?? "", /range vector/);
  });
  it("is an error when Prometheus is down or does not answer within timeoutSeconds", async () => {
    const down = await measurePrometheus(spec("up", { address: `http://127.0.0.1:${await closedPort()}` }));
    assert.equal(down.phase, "Error");
    assert.match(down.message ?? "", /ECONNREFUSED/);
    const hung = await measurePrometheus(spec("up", { address: hanging.url, timeoutMs: 300 }));
    assert.deepEqual(hung, { phase: "Error", message: "no answer within 0.3s" });
  });
});

describe("query responses are checked before use", () => {
  it("refuses malformed responses", () => {
    assert.equal(seriesOf("x").ok, false);
    assert.equal(
      seriesOf({ status: "success", data: { resultType: "vector", result: [{ value: [1, 2] }] } }).ok,
      false,
    );
    assert.deepEqual(seriesOf({ status: "success", data: { resultType: "scalar", result: [1, "+Inf"] } }), {
      ok: true,
      series: [{ name: "scalar", value: Number.POSITIVE_INFINITY }],
    });
  });
});
