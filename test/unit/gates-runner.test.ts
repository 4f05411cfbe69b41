/**
 * The gate runner: measurements run off the reconcile path, once per id, within a concurrency bound, and a
 * check that hangs does not delay another BGD's (proved by which result arrives first, not by a timer).
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { Outcome } from "../../src/bluegreen/gates/measurement.ts";
import { measureHttp } from "../../src/controller/gates/http-check.ts";
import { GateRunner, measurementId } from "../../src/controller/gates/runner.ts";
import { currentResult } from "../../src/controller/observe.ts";
import { type LocalServer, serve } from "./support/servers.ts";

let hanging: LocalServer;
let healthy: LocalServer;
before(async () => {
  hanging = await serve(() => {});
  healthy = await serve((_req, res) => void res.writeHead(200).end("ok"));
});
after(async () => {
  await hanging.close();
  await healthy.close();
});

/** A runner whose wakes are awaitable per key. */
function runner(concurrency: number) {
  const woken: string[] = [];
  const waiters = new Map<string, () => void>();
  const r = new GateRunner({
    concurrency,
    now: Date.now,
    wake: (key) => {
      woken.push(key);
      waiters.get(key)?.();
    },
  });
  const wokenFor = (key: string) =>
    woken.includes(key) ? Promise.resolve() : new Promise<void>((resolve) => waiters.set(key, resolve));
  return { r, woken, wokenFor };
}

const http = (url: string, timeoutMs: number) => (signal: AbortSignal) =>
  measureHttp({ url, method: "GET", headers: {}, timeoutMs }, signal);

describe("the gate runner", () => {
  it("tells the metrics each finished measurement's kind, outcome and duration", async () => {
    const measured: { kind: string; phase: string; seconds: number }[] = [];
    let wake: () => void = () => {};
    const woken = new Promise<void>((resolve) => {
      wake = resolve;
    });
    const r = new GateRunner({ concurrency: 1, now: Date.now, wake, onMeasured: (m) => measured.push(m) });
    r.request({
      id: measurementId("uid-m", "rev1", "smoke", 0),
      key: "shop/m",
      index: 0,
      kind: "http",
      measure: http(`${healthy.url}/`, 2000),
    });
    await woken;
    assert.equal(measured.length, 1);
    assert.equal(measured[0]?.kind, "http");
    assert.equal(measured[0]?.phase, "Successful");
    assert.ok((measured[0]?.seconds ?? -1) >= 0);
  });

  it("runs a measurement once however often it is asked while it runs, keeps its result and wakes the key", async () => {
    const { r, woken, wokenFor } = runner(4);
    let runs = 0;
    const id = measurementId("uid-a", "rev1", "smoke", 0);
    const measure = async (): Promise<Outcome> => {
      runs += 1;
      return { phase: "Successful", value: "status 200" };
    };
    r.request({ id, key: "shop/a", index: 0, measure });
    r.request({ id, key: "shop/a", index: 0, measure });
    await wokenFor("shop/a");
    assert.equal(runs, 1);
    assert.deepEqual(woken, ["shop/a"]);
    const m = r.result(id);
    assert.equal(m?.phase, "Successful");
    assert.equal(m?.index, 0);
    assert.ok(m !== undefined && Date.parse(m.finishedAt) >= Date.parse(m.startedAt));
    r.forget(id);
    assert.equal(r.result(id), undefined);
    r.close();
  });

  it("measures a done id again when asked (the planner refused its result as left from an earlier run)", async () => {
    const { r, woken } = runner(4);
    const id = measurementId("uid-b", "rev1", "smoke", 0);
    const answers: Outcome[] = [
      { phase: "Inconclusive", message: "empty result" },
      { phase: "Successful", value: "1" },
    ];
    let runs = 0;
    const measure = async (): Promise<Outcome> => answers[runs++] ?? { phase: "Error", message: "no more" };
    const wait = () => new Promise<void>((resolve) => setImmediate(resolve));
    r.request({ id, key: "shop/b", index: 0, measure });
    while (woken.length < 1) await wait();
    assert.equal(r.result(id)?.phase, "Inconclusive");
    r.request({ id, key: "shop/b", index: 0, measure });
    while (woken.length < 2) await wait();
    assert.equal(runs, 2);
    assert.equal(r.result(id)?.phase, "Successful");
    r.close();
  });
  it("lets another BGD's check finish while one hangs", async () => {
    const { r, wokenFor } = runner(2);
    const hung = measurementId("uid-a", "rev1", "errors", 0);
    const fine = measurementId("uid-b", "rev1", "smoke", 0);
    r.request({ id: hung, key: "shop/a", index: 0, measure: http(hanging.url, 60_000) });
    r.request({ id: fine, key: "shop/b", index: 0, measure: http(healthy.url, 60_000) });
    await wokenFor("shop/b");
    assert.equal(r.result(fine)?.phase, "Successful");
    assert.ok(r.pending(hung));
    assert.equal(r.result(hung), undefined);
    r.close();
  });
  it("keeps no more measurements in flight than its concurrency", async () => {
    const { r, wokenFor } = runner(1);
    let release: () => void = () => {};
    const first = new Promise<Outcome>((resolve) => {
      release = () => resolve({ phase: "Successful" });
    });
    r.request({ id: "a/0", key: "shop/a", index: 0, measure: () => first });
    r.request({ id: "b/0", key: "shop/b", index: 0, measure: async () => ({ phase: "Successful" }) });
    assert.equal(r.inFlight, 1);
    assert.ok(r.pending("b/0"));
    release();
    await wokenFor("shop/b");
    assert.equal(r.result("a/0")?.phase, "Successful");
    assert.equal(r.result("b/0")?.phase, "Successful");
    r.close();
  });
  it("turns a measurement that throws into an Error result", async () => {
    const { r, wokenFor } = runner(1);
    r.request({
      id: "c/0",
      key: "shop/c",
      index: 0,
      measure: async () => {
        throw new Error("boom");
      },
    });
    await wokenFor("shop/c");
    assert.deepEqual(
      { phase: r.result("c/0")?.phase, message: r.result("c/0")?.message },
      { phase: "Error", message: "internal error: boom" },
    );
    r.close();
  });
  it("cancels what runs when closed, and records nothing for it", async () => {
    const { r, woken } = runner(1);
    let settled: Outcome | undefined;
    r.request({
      id: "d/0",
      key: "shop/d",
      index: 0,
      measure: async (signal) => {
        settled = await http(hanging.url, 60_000)(signal);
        return settled;
      },
    });
    r.close();
    while (settled === undefined) await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(settled, { phase: "Error", message: "cancelled" });
    assert.equal(r.result("d/0"), undefined);
    assert.deepEqual(woken, []);
  });
});

describe("which held result counts (controller/observe.ts)", () => {
  const id = measurementId("uid-c", "rev1", "ready", 0);
  const held = {
    index: 0,
    phase: "Inconclusive" as const,
    startedAt: "2026-01-01T00:00:10.000Z",
    finishedAt: "2026-01-01T00:00:11.000Z",
  };
  const record = (startedAt: string, revision = "rev1") => [{ name: "ready", revision, startedAt }];
  it("one measured for the stored record of its check", () => {
    assert.equal(currentResult(id, held, record("2026-01-01T00:00:09.000Z")), held);
  });
  it("not one measured before the record started (the check was re-run)", () => {
    assert.equal(currentResult(id, held, record("2026-01-01T00:00:20.000Z")), undefined);
  });
  it("not one for a check with no record of that revision", () => {
    assert.equal(currentResult(id, held, []), undefined);
    assert.equal(currentResult(id, held, record("2026-01-01T00:00:09.000Z", "rev2")), undefined);
  });
});
