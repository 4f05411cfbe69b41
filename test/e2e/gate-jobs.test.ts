/**
 * The Job of a job check on the real control plane (kube-controller-manager's Job controller, kwok
 * completing or failing its pods): the rendered Job is accepted as is, its outcome is read only once the Job
 * has really finished, a second create of the same revision's Job is refused (AlreadyExists: the operator
 * takes it as success and never runs the migration twice), and deleting the BGD garbage-collects it.
 * kwok pods have no logs, so the log tail is covered by the unit tests only.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { JobCheck } from "../../src/api/gates.ts";
import { jobName, jobOutcome, renderJob } from "../../src/bluegreen/gates/job.ts";
import {
  deleteNamespace,
  FAST_PODS,
  KubectlError,
  kubectl,
  kubectlJson,
  newNamespace,
  waitUntil,
} from "./lib.ts";

let ns = "";
let uid = "";
before(async () => {
  ns = await newNamespace("gate-jobs");
  await kubectl(
    ["create", "-n", ns, "-f", "-"],
    JSON.stringify({
      apiVersion: "bluegreen.io/v1",
      kind: "BlueGreenDeployment",
      metadata: { name: "orders" },
      spec: { replicas: 1, image: "shop/orders:v7" },
    }),
  );
  uid = (await kubectlJson<{ metadata: { uid: string } }>(["get", "bgd", "orders", "-n", ns])).metadata.uid;
});
after(async () => {
  await deleteNamespace(ns);
});

const check = (labels: Record<string, string> = {}) =>
  ({
    spec: {
      template: {
        metadata: { labels, annotations: FAST_PODS },
        spec: { containers: [{ name: "migrate", image: "shop/orders-migrate:v7", args: ["up"] }] },
      },
    },
  }) as unknown as JobCheck;

const render = (name: string, revision: string, labels: Record<string, string> = {}) =>
  renderJob(check(labels), {
    owner: { name: "orders", namespace: ns, uid },
    check: name,
    point: "preRollout",
    revision,
    failureLimit: 1,
    timeoutSeconds: 120,
  });

const outcomeOf = async (name: string) => jobOutcome(await kubectlJson(["get", "job", name, "-n", ns]));

describe("the Job of a job check", { concurrency: true }, () => {
  it("completes: Successful, and a second create of the same revision's Job is refused", async () => {
    const job = render("migrate", "aaaaaaaaaa");
    await kubectl(["create", "-n", ns, "-f", "-"], JSON.stringify(job));
    const name = jobName("orders", "migrate", "aaaaaaaaaa");
    const outcome = await waitUntil("the migration Job to finish", 60_000, () => outcomeOf(name));
    assert.deepEqual(outcome, { phase: "Successful", value: "Complete" });
    await assert.rejects(
      kubectl(["create", "-n", ns, "-f", "-"], JSON.stringify(job)),
      (e: unknown) => e instanceof KubectlError && /AlreadyExists/.test(e.stderr),
    );
    const pods = await kubectlJson<{ items: unknown[] }>(["get", "pods", "-n", ns, "-l", `job-name=${name}`]);
    assert.equal(pods.items.length, 1);
  });

  it("fails after failureLimit retries: Failed with the Job's reason, never before the Job says so", async () => {
    await kubectl(
      ["create", "-n", ns, "-f", "-"],
      JSON.stringify(render("bad-migrate", "bbbbbbbbbb", { "test.bluegreen.io/fail": "true" })),
    );
    const name = jobName("orders", "bad-migrate", "bbbbbbbbbb");
    const seen: string[] = [];
    const outcome = await waitUntil("the failing Job to fail", 90_000, async () => {
      const job = await kubectlJson<{ status?: { conditions?: { type: string; status: string }[] } }>([
        "get",
        "job",
        name,
        "-n",
        ns,
      ]);
      for (const c of job.status?.conditions ?? [])
        if (c.status === "True" && !seen.includes(c.type)) seen.push(c.type);
      return jobOutcome(job);
    });
    assert.equal(outcome.phase, "Failed");
    assert.equal(outcome.value, "BackoffLimitExceeded");
    assert.ok(seen.includes("Failed"), seen.join(","));
    // backoffLimit = failureLimit = 1: two pods ran.
    const pods = await kubectlJson<{ items: unknown[] }>(["get", "pods", "-n", ns, "-l", `job-name=${name}`]);
    assert.equal(pods.items.length, 2);
  });
});

describe("a BGD's Jobs", () => {
  it("are garbage-collected with the BGD that owns them", async () => {
    await kubectl(["create", "-n", ns, "-f", "-"], JSON.stringify(render("cleanup", "cccccccccc")));
    await kubectl(["delete", "bgd", "orders", "-n", ns, "--wait=false"]);
    await waitUntil("the BGD's Jobs to be deleted", 60_000, async () => {
      const jobs = await kubectlJson<{ items: unknown[] }>([
        "get",
        "jobs",
        "-n",
        ns,
        "-l",
        "bluegreen.io/name=orders",
      ]);
      return jobs.items.length === 0;
    });
  });
});
