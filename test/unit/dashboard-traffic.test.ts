/**
 * The dashboard's traffic chart source: the queries, the reading of Prometheus' answers, and a real
 * Prometheus (the Debian binary) scraping a counter as an application exposes it — plus the two ways it
 * fails that the page must name: nothing listening, and an answer that never comes.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { trafficOptions } from "../../src/cli/commands/dashboard.ts";
import { CliError } from "../../src/cli/session.ts";
import { revisionsToChart } from "../../src/ui/server.ts";
import {
  fetchTraffic,
  matrixOf,
  rangeOf,
  TRAFFIC_DEFAULTS,
  TrafficFeed,
  trafficQueries,
} from "../../src/ui/traffic.ts";
import type { Detail, TrafficView } from "../../src/ui/view.ts";
import { type Prometheus, startPrometheus } from "../harness/prometheus.ts";
import { closedPort, type LocalServer, serve } from "./support/servers.ts";

const opts = (prometheus: string) => ({ ...TRAFFIC_DEFAULTS, prometheus, timeoutMs: 1500 });

describe("traffic queries", () => {
  it("select the namespace and the BGD's revisions, summed per revision, 5xx apart", () => {
    const q = trafficQueries("http_requests_total", "shop", ["a1b2", "c3d4"]);
    assert.equal(
      q.requests,
      'sum by (revision) (irate(http_requests_total{namespace="shop",revision=~"a1b2|c3d4"}[1m]))',
    );
    assert.equal(
      q.errors,
      'sum by (revision) (irate(http_requests_total{namespace="shop",revision=~"a1b2|c3d4",code=~"5.."}[1m])) or sum by (revision) (irate(http_requests_total{namespace="shop",revision=~"a1b2|c3d4"}[1m])) * 0',
    );
  });

  it("refuse a metric or a value that would change the query's meaning", () => {
    assert.throws(() => trafficQueries('x{a="b"}', "shop", ["a1"]), /invalid metric name/);
    assert.throws(() => trafficQueries("x", 'shop"}', ["a1"]), /nothing to select/);
    assert.equal(trafficQueries("x", "shop", ["a1", '.*"}']).requests.includes(".*"), false);
  });

  it("ask for instants aligned to the step", () => {
    assert.deepEqual(rangeOf(1_000_001_234, 600_000, 2000), { from: 999_400_000, to: 1_000_000_000 });
  });
});

describe("reading a range query's answer", () => {
  it("gives one series per revision with points in ms, dropping NaN", () => {
    const m = matrixOf({
      status: "success",
      data: {
        resultType: "matrix",
        result: [
          {
            metric: { revision: "b" },
            values: [
              [1000.5, "2"],
              [1002.5, "NaN"],
            ],
          },
          { metric: { revision: "a" }, values: [[1000.5, "0.25"]] },
        ],
      },
    });
    assert.deepEqual(m, {
      ok: true,
      series: [
        { revision: "a", points: [[1_000_500, 0.25]] },
        { revision: "b", points: [[1_000_500, 2]] },
      ],
    });
  });

  it("names what is wrong with an answer it cannot use", () => {
    assert.deepEqual(matrixOf({ status: "error", error: "parse error" }), {
      ok: false,
      message: "query error: parse error",
    });
    assert.equal(matrixOf({ status: "success", data: { resultType: "vector", result: [] } }).ok, false);
    assert.equal(matrixOf("nope").ok, false);
  });
});

describe("the --prometheus flag", () => {
  it("is off without an address, and refuses what is not an http(s) URL or a metric name", () => {
    const base = { port: "0", address: "127.0.0.1", readOnly: false };
    assert.equal(trafficOptions(base), undefined);
    assert.equal(
      trafficOptions({ ...base, prometheus: "http://127.0.0.1:9090" })?.metric,
      "http_requests_total",
    );
    assert.throws(() => trafficOptions({ ...base, prometheus: "127.0.0.1:9090" }), CliError);
    assert.throws(() => trafficOptions({ ...base, prometheus: "ftp://x" }), CliError);
    assert.throws(
      () => trafficOptions({ ...base, prometheus: "http://p", prometheusMetric: "a b" }),
      /invalid --prometheus-metric/,
    );
  });
});

describe("which revisions the chart asks about", () => {
  it("both colors' and the history's, once each", () => {
    const d = {
      colors: [
        { color: "blue", revision: "r2" },
        { color: "green", revision: undefined },
      ],
      history: [{ revision: "r2" }, { revision: "r1" }],
    } as unknown as Detail;
    assert.deepEqual(revisionsToChart(d), ["r2", "r1"]);
    assert.equal(revisionsToChart(null), undefined);
  });
});

describe("a real Prometheus", () => {
  let app: LocalServer | undefined;
  let prom: Prometheus | undefined;
  let n = 0;
  before(async () => {
    // Two revisions of one namespace (one failing a third of its requests), and another namespace.
    app = await serve((_req, res) => {
      n += 10;
      res
        .writeHead(200, { "content-type": "text/plain" })
        .end(
          [
            `http_requests_total{namespace="shop",revision="r1",code="200"} ${n}`,
            `http_requests_total{namespace="shop",revision="r2",code="200"} ${2 * n}`,
            `http_requests_total{namespace="shop",revision="r2",code="500"} ${n}`,
            `http_requests_total{namespace="other",revision="r1",code="200"} ${5 * n}`,
            "",
          ].join("\n"),
        );
    });
    prom = await startPrometheus({
      scrapeConfigs: [
        "  - job_name: app",
        "    honor_labels: true",
        "    static_configs:",
        `      - targets: ["127.0.0.1:${app.port}"]`,
      ].join("\n"),
    });
    await prom.waitFor('rate(http_requests_total{namespace="shop"}[1m])', 3);
  });
  after(async () => {
    await prom?.stop();
    await app?.close();
  });

  it("gives requests/s and errors/s per revision of the BGD's namespace", async () => {
    assert.ok(prom);
    const p = prom;
    // The range ends at the last whole step: a Prometheus just started may have nothing there yet.
    let t = await fetchTraffic(opts(p.url), "shop", ["r1", "r2"], Date.now());
    for (let i = 0; i < 60 && (t.state !== "ok" || t.requests.length < 2); i++) {
      await new Promise((r) => setTimeout(r, 500));
      t = await fetchTraffic(opts(p.url), "shop", ["r1", "r2"], Date.now());
    }
    assert.equal(t.state, "ok", JSON.stringify(t));
    if (t.state !== "ok") return;
    assert.deepEqual(
      t.requests.map((s) => s.revision),
      ["r1", "r2"],
    );
    assert.deepEqual(
      t.errors.map((s) => s.revision),
      ["r1", "r2"],
    );
    const last = (ss: typeof t.requests, rev: string) =>
      ss.find((s) => s.revision === rev)?.points.at(-1)?.[1];
    // Every scrape adds 10 (r1), 30 (r2, a third of them 500s): whatever the scrape interval, r2's rate is
    // three times r1's, and its errors a third of its requests; r1 never failed (the `or … * 0` line).
    const r1 = last(t.requests, "r1") ?? Number.NaN;
    assert.ok(r1 > 0);
    assert.ok(Math.abs((last(t.requests, "r2") ?? 0) / r1 - 3) < 1e-9);
    assert.ok(Math.abs((last(t.errors, "r2") ?? 0) / r1 - 1) < 1e-9);
    assert.equal(last(t.errors, "r1"), 0);
  });

  it("answers a selection it cannot make with a reason, not an exception", async () => {
    assert.ok(prom);
    const t = await fetchTraffic(opts(prom.url), "Not A Namespace", ["r1"], Date.now());
    assert.deepEqual(t, { state: "unavailable", source: prom.url, reason: "nothing to select" });
  });

  it("says there is nothing to look for before the BGD has a revision", async () => {
    assert.ok(prom);
    const t = await fetchTraffic(opts(prom.url), "shop", [], Date.now());
    assert.deepEqual(t, { state: "unavailable", source: prom.url, reason: "no revision to look for yet" });
  });
});

describe("an unavailable Prometheus", () => {
  it("nothing listening: connection refused, named", async () => {
    const url = `http://127.0.0.1:${await closedPort()}`;
    const t = await fetchTraffic(opts(url), "shop", ["r1"], Date.now());
    assert.deepEqual(t, {
      state: "unavailable",
      source: url,
      reason: `cannot connect to Prometheus at ${url} (connection refused)`,
    });
  });

  it("an answer that never comes: given up after the timeout, said so", async () => {
    const silent = await serve(() => {});
    try {
      const t = await fetchTraffic(opts(silent.url), "shop", ["r1"], Date.now());
      assert.deepEqual(t, {
        state: "unavailable",
        source: silent.url,
        reason: `Prometheus at ${silent.url} did not answer within 1.5 s`,
      });
    } finally {
      await silent.close();
    }
  });

  it("an answer that is not Prometheus': its status and why", async () => {
    const proxy = await serve((_req, res) => res.writeHead(502).end("bad gateway"));
    try {
      const t = await fetchTraffic(opts(proxy.url), "shop", ["r1"], Date.now());
      assert.equal(t.state, "unavailable");
      assert.match(t.state === "unavailable" ? t.reason : "", /answered 502 without JSON: bad gateway/);
    } finally {
      await proxy.close();
    }
  });
});

describe("the feed", () => {
  it("is loading until the first answer, then tells its listener, and stops asking once released", async () => {
    let asked = 0;
    const server = await serve((_req, res) => {
      asked++;
      res
        .writeHead(200, { "content-type": "application/json" })
        .end(JSON.stringify({ status: "success", data: { resultType: "matrix", result: [] } }));
    });
    try {
      let changed!: () => void;
      const first = new Promise<void>((r) => {
        changed = r;
      });
      const feed = new TrafficFeed(
        { ...opts(server.url), refreshMs: 60_000 },
        () => ["r1"],
        () => changed(),
      );
      const before: TrafficView = feed.view("shop/web");
      assert.equal(before.state, "loading");
      feed.acquire("shop/web");
      await first;
      const v = feed.view("shop/web");
      assert.equal(v.state, "ok");
      assert.equal(asked, 2, "one query for requests, one for errors");
      feed.release("shop/web");
      assert.equal(feed.view("shop/web").state, "loading");
      feed.stop();
    } finally {
      await server.close();
    }
  });
});
