/**
 * A migration Job is never created twice for a revision, across an operator crash: the operator is killed
 * (SIGKILL) while the preRollout Job runs (kwok completes its pod only after a long delay), a new operator
 * finds the Job by its deterministic name in its cache, waits for it, and the rollout proceeds. The API
 * server's audit log, not our code, counts the creates.
 */
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { applyBgd, describeRequests, operatorRequests, waitStatus } from "./bgd.ts";
import { deleteNamespace, FAST_PODS, kubectlJson, newNamespace, waitUntil } from "./lib.ts";
import { type OperatorProcess, startOperator } from "./operator.ts";

const running: OperatorProcess[] = [];
let ns = "";
after(async () => {
  for (const o of running) await o.stop();
  if (ns !== "") await deleteNamespace(ns);
});

interface Job {
  metadata: { name: string };
  status?: { active?: number; conditions?: { type: string; status: string }[] };
}
const finished = (j: Job) =>
  (j.status?.conditions ?? []).some(
    (c) => c.status === "True" && (c.type === "Complete" || c.type === "Failed"),
  );

const strategy = { promotion: { mode: "Auto", delaySeconds: 0 }, scaleDownDelaySeconds: 0 };
const migration = {
  preRollout: [
    {
      name: "migrate",
      timeoutSeconds: 300,
      job: {
        spec: {
          template: {
            // The migration's pod runs 30 s before kwok completes it: time to crash and restart the operator mid-Job.
            metadata: {
              annotations: {
                ...FAST_PODS,
                // kwok uses a jitter-delay below the delay instead of it: the two bound the delay.
                "pod-complete.stage.kwok.x-k8s.io/delay": "30s",
                "pod-complete.stage.kwok.x-k8s.io/jitter-delay": "31s",
              },
            },
            spec: { containers: [{ name: "migrate", image: "db-migrate:v2" }] },
          },
        },
      },
    },
  ],
};

describe("a migration Job and an operator crash", () => {
  it("kill -9 while the Job runs: the new operator waits for the same Job, the rollout proceeds, one create in the audit log", {
    timeout: 400_000,
  }, async () => {
    ns = await newNamespace("gjob-crash");
    const first = await startOperator({ namespaces: [ns], name: "first" });
    running.push(first);
    await applyBgd(ns, "db", { image: "db:v1", replicas: 1, strategy });
    await waitStatus(ns, "db", { phase: "Stable", activeColor: "blue" }, 120_000);

    await applyBgd(ns, "db", { image: "db:v2", replicas: 1, strategy, extraSpec: { gates: migration } });
    const jobs = () =>
      kubectlJson<{ items: Job[] }>(["get", "jobs", "-n", ns, "-l", "bluegreen.io/gate=migrate"]);
    const job = await waitUntil("the migration Job to run its pod", 120_000, async () => {
      const j = (await jobs()).items[0];
      return j !== undefined && (j.status?.active ?? 0) > 0 ? j : undefined;
    });
    // SIGKILL first, the test's bookkeeping of the dead process (first.kill) after the restart.
    first.child.kill("SIGKILL");
    await waitUntil("the operator to die", 10_000, async () => first.child.signalCode !== null);
    const second = await startOperator({ namespaces: [ns], name: "second" });
    running.push(second);
    const atRestart = (await jobs()).items[0];
    assert.ok(
      atRestart !== undefined && !finished(atRestart),
      "the Job ran on through the crash and the next operator's start",
    );
    await first.kill();

    const done = await waitStatus(
      ns,
      "db",
      { phase: "Stable", activeColor: "green", activeImage: "db:v2" },
      180_000,
    );
    const all = (await jobs()).items;
    assert.deepEqual(
      all.map((j) => j.metadata.name),
      [job.metadata.name],
    );
    assert.ok(all[0] !== undefined && finished(all[0]));
    const pods = await kubectlJson<{ items: unknown[] }>([
      "get",
      "pods",
      "-n",
      ns,
      "-l",
      `job-name=${job.metadata.name}`,
    ]);
    assert.equal(pods.items.length, 1, "the migration ran once");
    assert.ok(job.metadata.name.endsWith(done.activeRevision ?? "?"), "the Job is the promoted revision's");

    // Both operators run as the same ServiceAccount: the audit log covers the crash and the restart.
    const creates = (await operatorRequests(second.user, ns, { writesOnly: true })).filter(
      (e) => e.objectRef?.resource === "jobs",
    );
    assert.deepEqual(describeRequests(creates), [`create jobs ${job.metadata.name} → 201`]);
  });
});
