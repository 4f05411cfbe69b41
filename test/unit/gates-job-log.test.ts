/**
 * A failed Job's log tail: what status keeps of a log (its end, cut at a line, at most MAX_LOG_TAIL
 * characters), which pod's log is read, and what is recorded when there is no log to read (kwok's pods have
 * none): the verdict with a plain "no log available" and the reason, never an error.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { MAX_LOG_TAIL } from "../../src/api/gate-status.ts";
import { jobOutcome, lastFailedPod, logTailOf } from "../../src/bluegreen/gates/job.ts";
import { readJobLogTail } from "../../src/controller/gates/job-log.ts";
import { ApiError } from "../../src/kube/api-errors.ts";
import type { ListPage } from "../../src/kube/kube.ts";

const failedJob = {
  status: {
    conditions: [
      {
        type: "Failed",
        status: "True",
        reason: "BackoffLimitExceeded",
        message: "Job has reached the specified backoff limit",
      },
    ],
  },
};
const pod = (name: string, phase: string, created: string) => ({
  metadata: { name, creationTimestamp: created },
  status: { phase },
});
const page = (items: unknown[]): ListPage => ({ items, resourceVersion: "1", continue: undefined });

describe("a log as status keeps it", () => {
  it("is kept whole when it fits", () => {
    assert.equal(logTailOf("migrating\nERROR: boom\n"), "migrating\nERROR: boom\n");
  });
  it("keeps the end, starting at a whole line", () => {
    const lines = Array.from(
      { length: 100 },
      (_, i) => `line ${String(i).padStart(3, "0")} ${"-".repeat(20)}`,
    );
    const kept = logTailOf(`${lines.join("\n")}\n`);
    assert.ok(kept.length <= MAX_LOG_TAIL);
    assert.ok(kept.endsWith(`${lines[99]}\n`));
    assert.match(kept, /^line \d{3} -{20}\n/, "no half line at the start");
    // Every line that could fit whole is there.
    const first = Number(kept.slice(5, 8));
    assert.ok(`${lines.slice(first - 1).join("\n")}\n`.length > MAX_LOG_TAIL);
  });
  it("keeps a line cut only when a single line is longer than the bound", () => {
    const kept = logTailOf(`${"y".repeat(3000)}\n`);
    assert.equal(kept.length, MAX_LOG_TAIL);
  });
  it("drops colour codes and carriage returns", () => {
    assert.equal(logTailOf("\x1b[31mERROR\x1b[0m: boom\r\n"), "ERROR: boom\n");
  });
});

describe("the pod whose log is read", () => {
  it("is the Job's last failed pod", () => {
    assert.equal(
      lastFailedPod([
        pod("m-1", "Failed", "2026-01-01T00:00:01Z"),
        pod("m-3", "Running", "2026-01-01T00:00:09Z"),
        pod("m-2", "Failed", "2026-01-01T00:00:05Z"),
      ]),
      "m-2",
    );
    assert.equal(lastFailedPod([pod("m-1", "Succeeded", "2026-01-01T00:00:01Z"), "junk"]), undefined);
  });
});

describe("a failed Job's measurement", () => {
  it("carries the log tail when the log endpoint answered", () => {
    const o = jobOutcome(failedJob, { tail: "applying 0042\nERROR: relation exists\n" });
    assert.deepEqual(o, {
      phase: "Failed",
      value: "BackoffLimitExceeded",
      message: "Job has reached the specified backoff limit",
      logTail: "applying 0042\nERROR: relation exists\n",
    });
  });
  it("says plainly that there is no log, and why, when there is none to read", () => {
    const o = jobOutcome(failedJob, { unavailable: "pod m-2: the node serves no logs" });
    assert.deepEqual(o, {
      phase: "Failed",
      value: "BackoffLimitExceeded",
      message:
        "Job has reached the specified backoff limit; no log available (pod m-2: the node serves no logs)",
    });
    assert.equal(
      jobOutcome(failedJob, { tail: "" })?.message,
      "Job has reached the specified backoff limit; the pod's log is empty",
    );
  });
});

describe("reading a failed Job's log through the API", () => {
  const pods = page([
    pod("m-1", "Failed", "2026-01-01T00:00:01Z"),
    pod("m-2", "Failed", "2026-01-01T00:00:05Z"),
  ]);
  it("reads the last failed pod's log, bounded in lines, bytes and time", async () => {
    const asked: unknown[] = [];
    const log = await readJobLogTail(
      {
        list: async (path, query) => {
          asked.push([path, query]);
          return pods;
        },
        getText: async (path, opts) => {
          asked.push([path, opts]);
          return "ERROR: boom\n";
        },
      },
      "shop",
      "web-migrate-abc",
    );
    assert.deepEqual(log, { tail: "ERROR: boom\n" });
    assert.deepEqual(asked, [
      ["/api/v1/namespaces/shop/pods", { labelSelector: "job-name=web-migrate-abc" }],
      [
        "/api/v1/namespaces/shop/pods/m-2/log",
        { query: { tailLines: 40, limitBytes: 4 * MAX_LOG_TAIL }, timeoutMs: 5000 },
      ],
    ]);
  });
  it("answers why there is no log instead of failing", async () => {
    const refused = new ApiError("GET", "/log", 500, {
      message: 'Get "https://10.0.0.2:10250/containerLogs/shop/m-2/migrate": connection refused',
    });
    const unreadable = await readJobLogTail(
      { list: async () => pods, getText: () => Promise.reject(refused) },
      "shop",
      "j",
    );
    assert.deepEqual(unreadable, {
      unavailable: 'pod m-2: Get "https://10.0.0.2:10250/containerLogs/shop/m-2/migrate": connection refused',
    });
    const gone = await readJobLogTail({ list: async () => page([]), getText: async () => "" }, "shop", "j");
    assert.deepEqual(gone, { unavailable: "no failed pod of the Job is left" });
    const noList = await readJobLogTail(
      { list: () => Promise.reject(new ApiError("GET", "/pods", 403, {})), getText: async () => "" },
      "shop",
      "j",
    );
    assert.deepEqual(noList, { unavailable: "the Job's pods could not be listed: 403 Forbidden" });
  });
});
