/**
 * The http check against a real server on 127.0.0.1: status codes, JSON conditions, headers, timeouts,
 * refused connections, and a flapping endpoint decided by failureLimit through the measurement state machine.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { type CheckTiming, recordMeasurement, startCheck } from "../../src/bluegreen/gates/measurement.ts";
import { type HttpRequestSpec, MAX_BODY_BYTES, measureHttp } from "../../src/controller/gates/http-check.ts";
import { closedPort, type LocalServer, readBody, serve } from "./support/servers.ts";

let server: LocalServer;
let flaps = 0;
const clientPorts: number[] = [];
const json = (res: import("node:http").ServerResponse, status: number, body: unknown) => {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
};

before(async () => {
  server = await serve(async (req, res) => {
    switch (req.url) {
      case "/healthz":
        return json(res, 200, { status: "ok", checks: { db: { latencyMs: 12 } } });
      case "/degraded":
        return json(res, 200, { status: "degraded" });
      case "/error":
        return json(res, 503, { status: "down" });
      case "/html":
        res.writeHead(200, { "content-type": "text/html" });
        return res.end("<html>ok</html>");
      case "/login":
        res.writeHead(302, { location: "/healthz" });
        return res.end();
      case "/token":
        return json(res, req.headers["x-token"] === "s3cret" ? 200 : 401, {});
      case "/echo":
        return json(res, 200, { method: req.method, body: await readBody(req) });
      case "/big":
        res.writeHead(200, { "content-type": "application/json" });
        return res.end(`"${"x".repeat(MAX_BODY_BYTES + 10)}"`);
      case "/conn":
        clientPorts.push(req.socket.remotePort ?? 0);
        return json(res, 200, {});
      case "/flap":
        flaps += 1;
        return json(res, flaps % 2 === 0 ? 500 : 200, {});
      case "/hang":
        return; // never answers
      default:
        return json(res, 404, {});
    }
  });
});
after(() => server.close());

const spec = (path: string, extra: Partial<HttpRequestSpec> = {}): HttpRequestSpec => ({
  url: `${server.url}${path}`,
  method: "GET",
  headers: {},
  timeoutMs: 2000,
  ...extra,
});

describe("an http measurement", () => {
  it("passes on a 2xx by default", async () => {
    assert.deepEqual(await measureHttp(spec("/healthz")), { phase: "Successful", value: "status 200" });
  });
  it("fails on a status that is not expected", async () => {
    assert.deepEqual(await measureHttp(spec("/error")), {
      phase: "Failed",
      value: "status 503",
      message: "expected 2xx",
    });
    assert.equal((await measureHttp(spec("/error", { expectedStatus: [200, 503] }))).phase, "Successful");
  });
  it("does not follow a redirect", async () => {
    assert.equal((await measureHttp(spec("/login"))).phase, "Failed");
  });
  it("tests the value at jsonPath", async () => {
    const cond = { jsonPath: "$.status", successCondition: 'result == "ok"' };
    assert.deepEqual(await measureHttp(spec("/healthz", cond)), {
      phase: "Successful",
      value: '$.status = "ok"',
    });
    assert.deepEqual(await measureHttp(spec("/degraded", cond)), {
      phase: "Failed",
      value: '$.status = "degraded"',
      message: 'result == "ok" does not hold',
    });
    const latency = { jsonPath: "$.checks.db.latencyMs", successCondition: "result < 100" };
    assert.equal((await measureHttp(spec("/healthz", latency))).phase, "Successful");
  });
  it("fails when the body has no such value, is not a value, or is not JSON", async () => {
    const missing = await measureHttp(
      spec("/healthz", { jsonPath: "$.checks.cache", successCondition: "result == 1" }),
    );
    assert.deepEqual(missing, {
      phase: "Failed",
      value: "status 200",
      message: "the body has no $.checks.cache",
    });
    const object = await measureHttp(
      spec("/healthz", { jsonPath: "$.checks", successCondition: "result == 1" }),
    );
    assert.equal(object.message, "$.checks is an object, not a value to compare");
    const html = await measureHttp(spec("/html", { successCondition: "result == 1" }));
    assert.deepEqual(html, { phase: "Failed", value: "status 200", message: "the body is not JSON" });
    const big = await measureHttp(spec("/big", { successCondition: 'result != ""' }));
    assert.equal(big.message, `the body exceeds ${MAX_BODY_BYTES} bytes`);
  });
  it("sends the headers (from a Secret) and a POST body", async () => {
    assert.equal((await measureHttp(spec("/token"))).phase, "Failed");
    assert.equal(
      (await measureHttp(spec("/token", { headers: { "X-Token": "s3cret" } }))).phase,
      "Successful",
    );
    const echo = await measureHttp(
      spec("/echo", {
        method: "POST",
        body: "ping",
        jsonPath: "$.body",
        successCondition: 'result == "ping"',
      }),
    );
    assert.equal(echo.phase, "Successful");
  });
  it("is an error when there is no answer within timeoutSeconds", async () => {
    assert.deepEqual(await measureHttp(spec("/hang", { timeoutMs: 300 })), {
      phase: "Error",
      message: "no answer within 0.3s",
    });
  });
  it("is an error when the connection is refused", async () => {
    const port = await closedPort();
    const r = await measureHttp({ ...spec("/"), url: `http://127.0.0.1:${port}/` });
    assert.equal(r.phase, "Error");
    assert.match(r.message ?? "", /ECONNREFUSED/);
  });
  it("opens a new connection for every measurement (through a ClusterIP, each may reach another pod)", async () => {
    clientPorts.length = 0;
    for (let i = 0; i < 3; i++) assert.equal((await measureHttp(spec("/conn"))).phase, "Successful");
    assert.equal(clientPorts.length, 3);
    assert.equal(
      new Set(clientPorts).size,
      3,
      `client ports ${clientPorts.join(", ")}: a connection was reused`,
    );
  });
  it("stops when cancelled (the operator shutting down)", async () => {
    const cancel = new AbortController();
    const pending = measureHttp(spec("/hang", { timeoutMs: 60_000 }), cancel.signal);
    cancel.abort();
    assert.deepEqual(await pending, { phase: "Error", message: "cancelled" });
  });
});

describe("an http check over several measurements", () => {
  const run = async (t: CheckTiming, path: string) => {
    let r = startCheck(0);
    for (let index = 0; r.phase === "Running"; index++) {
      const o = await measureHttp(spec(path));
      r = recordMeasurement(t, r, { index, startedAt: r.startedAt, finishedAt: r.startedAt, ...o });
    }
    return r;
  };
  it("passes a flapping endpoint within failureLimit, and fails it beyond", async () => {
    flaps = 0;
    const tolerant = await run({ intervalMs: 0, count: 4, failureLimit: 2, initialDelayMs: 0 }, "/flap");
    assert.equal(tolerant.phase, "Successful");
    assert.equal(tolerant.failed, 2);
    flaps = 0;
    const strict = await run({ intervalMs: 0, count: 4, failureLimit: 1, initialDelayMs: 0 }, "/flap");
    assert.equal(strict.phase, "Failed");
    assert.equal(strict.failed, 2);
  });
});
