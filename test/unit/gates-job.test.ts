/** The Job a job check runs: its deterministic name, what it is rendered with, and how its outcome is read. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { JobCheck } from "../../src/api/gates.ts";
import { type JobContext, jobName, jobOutcome, renderJob } from "../../src/bluegreen/gates/job.ts";
import { recordMeasurement, startCheck } from "../../src/bluegreen/gates/measurement.ts";

// The schema keeps JobSpec fields it does not name (x-kubernetes-preserve-unknown-fields); the type names few.
const jobCheck = (spec: Record<string, unknown>) => ({ spec }) as unknown as JobCheck;
const check: JobCheck = jobCheck({
  template: {
    spec: {
      containers: [
        { name: "migrate", image: "migrate:v2", env: [{ name: "BLUEGREEN_GATE", value: "mine" }] },
      ],
    },
  },
});
const ctx: JobContext = {
  owner: { name: "web", namespace: "shop", uid: "u-1" },
  check: "migrate",
  point: "preRollout",
  revision: "9a1b2c3d4e",
  failureLimit: 2,
  timeoutSeconds: 300,
};
type Obj = Record<string, unknown>;
const at = (o: unknown, ...path: (string | number)[]): unknown =>
  path.reduce<unknown>((x, k) => (x as Record<string | number, unknown> | undefined)?.[k], o);

describe("the Job of a job check", () => {
  it("is named per BGD, check and revision, the same every time", () => {
    assert.equal(jobName("web", "migrate", "9a1b2c3d4e"), "web-migrate-9a1b2c3d4e");
    const long = jobName("a".repeat(55), "b".repeat(40), "9a1b2c3d4e");
    assert.equal(long.length, 63);
    assert.equal(long, jobName("a".repeat(55), "b".repeat(40), "9a1b2c3d4e"));
    assert.notEqual(long, jobName("a".repeat(55), "b".repeat(40), "0000000000"));
    assert.match(long, /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
  });
  it("is owned by the BGD and labelled with the check and revision; its pods are no color's", () => {
    const job = renderJob(check, ctx);
    assert.equal(at(job, "metadata", "name"), "web-migrate-9a1b2c3d4e");
    assert.deepEqual(at(job, "metadata", "ownerReferences", 0), {
      apiVersion: "bluegreen.io/v1",
      kind: "BlueGreenDeployment",
      name: "web",
      uid: "u-1",
      controller: true,
      blockOwnerDeletion: true,
    });
    assert.deepEqual(at(job, "metadata", "labels"), {
      "app.kubernetes.io/managed-by": "bluegreen-operator",
      "bluegreen.io/name": "web",
      "bluegreen.io/gate": "migrate",
      "bluegreen.io/revision": "9a1b2c3d4e",
    });
    assert.deepEqual(at(job, "spec", "template", "metadata", "labels"), { "bluegreen.io/gate": "migrate" });
  });
  it("gets the check's failureLimit, timeout and restartPolicy unless the JobSpec says otherwise", () => {
    const job = renderJob(check, ctx);
    assert.equal(at(job, "spec", "backoffLimit"), 2);
    assert.equal(at(job, "spec", "activeDeadlineSeconds"), 300);
    assert.equal(at(job, "spec", "template", "spec", "restartPolicy"), "Never");
    const own = renderJob(
      jobCheck({
        ...check.spec,
        backoffLimit: 0,
        template: { spec: { ...check.spec.template.spec, restartPolicy: "OnFailure" } },
      }),
      ctx,
    );
    assert.equal(at(own, "spec", "backoffLimit"), 0);
    assert.equal(at(own, "spec", "template", "spec", "restartPolicy"), "OnFailure");
  });
  it("tells its containers which rollout it serves, the user's own variables first", () => {
    const env = at(renderJob(check, ctx), "spec", "template", "spec", "containers", 0, "env") as Obj[];
    assert.deepEqual(
      env.map((e) => `${e.name}=${e.value}`),
      [
        "BLUEGREEN_NAME=web",
        "BLUEGREEN_NAMESPACE=shop",
        "BLUEGREEN_REVISION=9a1b2c3d4e",
        "BLUEGREEN_POINT=preRollout",
        "BLUEGREEN_GATE=mine",
      ],
    );
  });
  it("does not change what it was given (rendering is pure)", () => {
    const before = structuredClone(check);
    renderJob(check, ctx);
    assert.deepEqual(check, before);
  });
});

describe("a Job's outcome", () => {
  const job = (...conditions: Obj[]) => ({ status: { conditions } });
  it("is undefined while it runs, and while its failure is still only a target", () => {
    assert.equal(jobOutcome(job()), undefined);
    assert.equal(
      jobOutcome(job({ type: "FailureTarget", status: "True", reason: "BackoffLimitExceeded" })),
      undefined,
    );
    assert.equal(jobOutcome(undefined), undefined);
  });
  it("is Successful when complete", () => {
    assert.deepEqual(
      jobOutcome(job({ type: "SuccessCriteriaMet", status: "True" }, { type: "Complete", status: "True" })),
      {
        phase: "Successful",
        value: "Complete",
      },
    );
  });
  it("is Failed with the Job's reason, message and the pod's log tail, kept bounded in the record", () => {
    const o = jobOutcome(
      job({
        type: "Failed",
        status: "True",
        reason: "BackoffLimitExceeded",
        message: "Job has reached the specified backoff limit",
      }),
      { tail: `${"x".repeat(5000)}\nERROR: relation "orders" already exists\n` },
    );
    assert.equal(o?.phase, "Failed");
    assert.equal(o?.value, "BackoffLimitExceeded");
    const r = recordMeasurement(
      { intervalMs: 0, count: 1, failureLimit: 0, initialDelayMs: 0 },
      startCheck(0),
      {
        index: 0,
        startedAt: "1970-01-01T00:00:00.000Z",
        finishedAt: "1970-01-01T00:00:01.000Z",
        ...(o ?? { phase: "Error" }),
      },
    );
    assert.equal(r.phase, "Failed");
    // The 5000-character line does not fit: what is kept starts at the next line.
    assert.equal(r.measurements[0]?.logTail, 'ERROR: relation "orders" already exists\n');
  });
});
