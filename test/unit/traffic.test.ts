import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { behaviourOf, parseDurationMs, simPod } from "../harness/podsim.ts";
import { type RequestRecord, summarize } from "../harness/traffic.ts";

const ok = (t: number, revision: string): RequestRecord => ({
  t,
  ms: 1,
  outcome: "ok",
  status: 200,
  revision,
});

describe("traffic summary", () => {
  it("counts requests per revision and failures by kind", () => {
    const r = summarize([
      ok(1000, "a"),
      ok(1100, "a"),
      { t: 1200, ms: 3, outcome: "refused", error: "ECONNREFUSED" },
      { t: 1300, ms: 3, outcome: "http-error", status: 500, revision: "a" },
      ok(2500, "b"),
    ]);
    assert.equal(r.requests, 5);
    assert.equal(r.failed, 2);
    assert.deepEqual(r.failures, { refused: 1, "http-error": 1 });
    assert.deepEqual(r.byRevision, { a: 2, b: 1 });
    assert.deepEqual(
      r.perSecond.map((s) => [s.second, s.byRevision, s.failed]),
      [
        [0, { a: 2 }, 2],
        [1, { b: 1 }, 0],
      ],
    );
  });

  it("measures a switch from the first request the new revision answered to the last the old one did", () => {
    const run = (rev: string, from: number, n: number) =>
      Array.from({ length: n }, (_, i) => ok(from + i * 10, rev));
    const r = summarize([
      ...run("a", 0, 10),
      ok(100, "b"),
      ok(110, "a"),
      ...run("b", 120, 10),
      ...run("c", 300, 10),
      // a rollback to b is a switch too
      ...run("b", 500, 10),
      ok(600, "c"), // a single straggler does not make a switch
      ...run("b", 610, 3),
    ]);
    assert.deepEqual(r.revisions, ["a", "b", "c"]);
    assert.deepEqual(
      r.switches.map((s) => [s.from, s.to, s.firstNew, s.mixedMs]),
      [
        ["a", "b", 100, 10],
        ["b", "c", 300, 0],
        ["c", "b", 500, 0],
      ],
    );
  });

  it("orders records by the time they were sent, not the time they completed", () => {
    const r = summarize([ok(200, "b"), ok(100, "a")]);
    assert.deepEqual(r.revisions, ["a", "b"]);
  });
});

describe("podsim", () => {
  it("reads behaviour from labels, annotations winning", () => {
    assert.deepEqual(behaviourOf({ "test.bluegreen.io/error-rate": "0.3" }, {}), {
      errorRate: 0.3,
      latencyMs: 0,
      refuse: false,
      statuses: [],
    });
    assert.deepEqual(
      behaviourOf(
        { "test.bluegreen.io/error-rate": "0.3" },
        {
          "test.bluegreen.io/error-rate": "1",
          "test.bluegreen.io/latency": "1.5s",
          "test.bluegreen.io/refuse": "true",
        },
      ),
      { errorRate: 1, latencyMs: 1500, refuse: true, statuses: [] },
    );
    assert.deepEqual(
      behaviourOf({ "test.bluegreen.io/statuses": "500-200-503" }, {}).statuses,
      [500, 200, 503],
    );
    assert.deepEqual(behaviourOf({}, { "test.bluegreen.io/statuses": "500,x,200,99" }).statuses, [500, 200]);
    assert.equal(behaviourOf({ "test.bluegreen.io/error-rate": "lots" }, {}).errorRate, 0);
  });

  it("parses durations in ms or s", () => {
    assert.equal(parseDurationMs("250ms"), 250);
    assert.equal(parseDurationMs("2s"), 2000);
    assert.equal(parseDurationMs("40"), 40);
    assert.equal(parseDurationMs("soon"), 0);
  });

  it("serves a pod at its IP on its TCP containerPorts, naming its revision and color", () => {
    const pod = simPod({
      metadata: {
        uid: "u1",
        name: "app-blue-x",
        namespace: "ns",
        labels: { "bluegreen.io/color": "blue", "bluegreen.io/revision": "abc" },
      },
      spec: {
        containers: [
          {
            image: "app:v1",
            ports: [{ containerPort: 8080 }, { containerPort: 53, protocol: "UDP" }, { containerPort: 8080 }],
          },
        ],
      },
      status: { podIP: "10.244.0.7" },
    });
    assert.deepEqual(pod, {
      uid: "u1",
      name: "app-blue-x",
      namespace: "ns",
      ip: "10.244.0.7",
      ports: [8080],
      color: "blue",
      revision: "abc",
      image: "app:v1",
      behaviour: { errorRate: 0, latencyMs: 0, refuse: false, statuses: [] },
    });
    assert.equal(simPod({ metadata: { name: "p" }, spec: {}, status: {} }), undefined, "no IP yet");
    assert.equal(
      simPod({ metadata: { name: "p" }, spec: { hostNetwork: true }, status: { podIP: "10.255.0.1" } }),
      undefined,
    );
  });
});
