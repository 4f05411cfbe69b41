/**
 * The gate step of a plan: from status records, runner results, cached Jobs and the time, what to write and
 * which one piece of work to ask for. Pure, so a restart (same status, no runner results) resumes where it was.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { GateCheckStatus } from "../../src/api/gate-status.ts";
import type { GateContext } from "../../src/api/gate-template.ts";
import type { GateCheck } from "../../src/api/gates.ts";
import type { Measurement } from "../../src/bluegreen/gates/measurement.ts";
import { type GateInputs, planGates } from "../../src/bluegreen/gates/plan-gates.ts";

const T0 = Date.parse("2026-01-01T00:00:00Z");
const S = 1000;
const iso = (ms: number) => new Date(ms).toISOString();
const context: GateContext = {
  name: "web",
  namespace: "shop",
  activeColor: "blue",
  previewColor: "green",
  activeRevision: "r1",
  previewRevision: "r2",
  activeService: "web",
  previewService: "web-preview",
  activeServiceIP: "10.96.0.10",
  previewServiceIP: "10.96.0.11",
  servicePort: 80,
};
const defaults = { interval: "10s", count: 1, failureLimit: 0, initialDelaySeconds: 0 };
const smoke: GateCheck = {
  ...defaults,
  name: "smoke",
  http: { url: "http://{{previewServiceIP}}/healthz", method: "GET" },
};
const errors: GateCheck = {
  ...defaults,
  name: "errors",
  count: 3,
  initialDelaySeconds: 20,
  prometheus: {
    address: "http://127.0.0.1:9090",
    query: 'err{revision="{{previewRevision}}"}',
    successCondition: "result < 0.05",
    emptyResult: "Failure",
  },
};
const migrate = {
  ...defaults,
  name: "migrate",
  job: { spec: { template: { spec: { containers: [{ name: "m", image: "m:v2" }] } } } },
} as GateCheck;

const inputs = (over: Partial<GateInputs> = {}): GateInputs => ({
  point: "prePromotion",
  checks: [smoke, errors],
  revision: "r2",
  owner: { name: "web", namespace: "shop", uid: "u1" },
  context,
  records: [],
  results: () => undefined,
  jobs: new Map(),
  nowMs: T0,
  ...over,
});
const result = (index: number, phase: Measurement["phase"], atMs: number, value?: string): Measurement => ({
  index,
  phase,
  startedAt: iso(atMs),
  finishedAt: iso(atMs + S),
  ...(value !== undefined ? { value } : {}),
});

describe("the gate step", () => {
  it("starts the first check and asks for its first measurement, URL rendered", () => {
    const step = planGates(inputs());
    assert.deepEqual(step.progress, { kind: "measure", check: "smoke", index: 0 });
    assert.deepEqual(step.measure, {
      id: "u1/r2/smoke/0",
      check: "smoke",
      index: 0,
      work: {
        kind: "http",
        request: {
          url: "http://10.96.0.11/healthz",
          method: "GET",
          body: undefined,
          expectedStatus: undefined,
          jsonPath: undefined,
          successCondition: undefined,
          timeoutMs: 10_000,
        },
      },
    });
    assert.deepEqual(
      step.records.map((r) => [r.name, r.point, r.kind, r.revision, r.phase]),
      [["smoke", "prePromotion", "http", "r2", "Running"]],
    );
  });
  it("folds a finished measurement, then starts the next check and waits for its initial delay", () => {
    const first = planGates(inputs());
    const step = planGates(
      inputs({
        records: first.records,
        results: (id) => (id === "u1/r2/smoke/0" ? result(0, "Successful", T0, "status 200") : undefined),
        nowMs: T0 + 2 * S,
      }),
    );
    assert.deepEqual(step.recorded, ["u1/r2/smoke/0"]);
    assert.deepEqual(step.progress, { kind: "wait", check: "errors", untilMs: T0 + 22 * S });
    assert.equal(step.requeueAtMs, T0 + 22 * S);
    assert.deepEqual(
      step.records.map((r) => [r.name, r.phase, r.successful]),
      [
        ["smoke", "Successful", 1],
        ["errors", "Running", 0],
      ],
    );
  });
  it("resumes from status alone after a restart: the next measurement is the one status has not got", () => {
    let records: GateCheckStatus[] = planGates(inputs({ checks: [errors] })).records;
    for (const [i, at] of [
      [0, 20],
      [1, 31],
    ] as const) {
      records = planGates(
        inputs({
          checks: [errors],
          records,
          results: (id) =>
            id === `u1/r2/errors/${i}` ? result(i, "Successful", T0 + at * S, "0.01") : undefined,
          nowMs: T0 + (at + 1) * S,
        }),
      ).records;
    }
    // A new process: no runner results, the same status.
    const step = planGates(inputs({ checks: [errors], records, nowMs: T0 + 60 * S }));
    assert.equal(step.measure?.id, "u1/r2/errors/2");
    assert.equal(
      step.measure?.work.kind === "prometheus" && step.measure.work.query.query,
      'err{revision="r2"}',
    );
  });
  it("fails the point at a failed check and asks for nothing more", () => {
    const step = planGates(
      inputs({
        checks: [smoke],
        records: planGates(inputs({ checks: [smoke] })).records,
        results: () => result(0, "Failed", T0, "status 503"),
        nowMs: T0 + S,
      }),
    );
    assert.equal(step.progress.kind, "failed");
    assert.equal(step.measure, undefined);
    assert.match(step.records[0]?.message ?? "", /last Failed \(status 503\)/);
  });
  it("records an Error when the URL cannot be rendered yet, instead of sending a half-rendered request", () => {
    const step = planGates(inputs({ checks: [smoke], context: { ...context, previewServiceIP: undefined } }));
    assert.equal(step.progress.kind, "failed");
    assert.equal(step.records[0]?.measurements[0]?.message, "previewServiceIP not known yet");
  });
  it("keeps the other points' records of this revision and drops other revisions'", () => {
    const old = { ...planGates(inputs({ checks: [smoke] })).records[0], revision: "r1" } as GateCheckStatus;
    const pre = {
      ...planGates(inputs({ checks: [migrate], point: "preRollout" })).records[0],
    } as GateCheckStatus;
    const step = planGates(inputs({ checks: [smoke], records: [old, pre] }));
    assert.deepEqual(
      step.records.map((r) => [r.name, r.point, r.revision]),
      [
        ["migrate", "preRollout", "r2"],
        ["smoke", "prePromotion", "r2"],
      ],
    );
  });
});

describe("a job check in the gate step", () => {
  const pre = (over: Partial<GateInputs> = {}) => inputs({ point: "preRollout", checks: [migrate], ...over });
  it("creates the Job when the cache has none", () => {
    const step = planGates(pre());
    assert.equal((step.createJob?.metadata as { name?: string } | undefined)?.name, "web-migrate-r2");
    assert.equal(step.records[0]?.job, "web-migrate-r2");
  });
  it("waits for a running Job without asking for work or a requeue (its informer wakes the key)", () => {
    const step = planGates(pre({ jobs: new Map([["web-migrate-r2", { status: { active: 1 } }]]) }));
    assert.deepEqual([step.createJob, step.measure, step.requeueAtMs], [undefined, undefined, undefined]);
    assert.equal(step.progress.kind, "measure");
  });
  it("asks the runner to read a finished Job's outcome (and its log), then fails the point", () => {
    const failed = {
      status: { conditions: [{ type: "Failed", status: "True", reason: "BackoffLimitExceeded" }] },
    };
    const jobs = new Map([["web-migrate-r2", failed]]);
    const step = planGates(pre({ jobs }));
    assert.deepEqual(step.measure?.work, { kind: "job", jobName: "web-migrate-r2", job: failed });
    const after = planGates(
      pre({ jobs, records: step.records, results: () => result(0, "Failed", T0, "BackoffLimitExceeded") }),
    );
    assert.equal(after.progress.kind, "failed");
  });
});
