/** kube-apiserver restarted mid-rollout: the operator's watches resume and the rollout completes. */
import assert from "node:assert/strict";
import { after, it } from "node:test";
import { restartApiserver, restartControllerManager } from "../../harness/cluster.ts";
import { applyBgd, serviceSelector, waitStatus } from "../bgd.ts";
import { deleteNamespace, env, kubectl, newNamespace } from "../lib.ts";
import { type OperatorProcess, startOperator } from "../operator.ts";

let operator: OperatorProcess | undefined;
let ns = "";
after(async () => {
  await operator?.kill();
  if (ns !== "") await deleteNamespace(ns);
});

/**
 * A bound on a hang, not a timing. The restart comes while the rollout waits for its approval, with
 * every pod of both colors bound and ready: a pod whose binding fails while kube-apiserver is down stays
 * in kube-scheduler's unschedulable queue until its periodic flush (5 min by default), whatever the
 * operator does — a run that restarted mid-Progressing once waited more than 240 s for that.
 */
const RECOVERY_MS = 240_000;

it("completes a rollout across a kube-apiserver restart", { timeout: 540_000 }, async (t) => {
  ns = await newNamespace("apirestart");
  operator = await startOperator({ namespaces: [ns], name: "apirestart" });
  await applyBgd(ns, "app", { image: "app:v1" });
  await waitStatus(ns, "app", { phase: "Stable", activeColor: "blue" });
  await applyBgd(ns, "app", { image: "app:v2" });
  const waiting = await waitStatus(ns, "app", { phase: "AwaitingPromotion" }, RECOVERY_MS);
  // Mid-rollout: the operator's watches break and must resume to see the approval that follows.
  const restarted = Date.now();
  await restartApiserver(env("BGO_CLUSTER_DIR"));
  // kube-controller-manager is restarted too, as after an API server outage in a real control plane:
  // its informers can stall for minutes after the API server comes back (restartControllerManager),
  // and the switch's endpoints come from its EndpointSlice controller. The operator keeps running.
  await restartControllerManager(env("BGO_CLUSTER_DIR"));
  await kubectl(["annotate", "-n", ns, "bgd", "app", `bluegreen.io/promote=${waiting.previewRevision}`]);
  const done = await waitStatus(ns, "app", { phase: "Stable", activeColor: "green" }, RECOVERY_MS);
  t.diagnostic(`Stable on green ${((Date.now() - restarted) / 1000).toFixed(1)} s after the restart began`);
  assert.equal(done.activeRevision, waiting.previewRevision);
  assert.equal((await serviceSelector(ns, "app"))?.["bluegreen.io/color"], "green");
  assert.equal(operator.child.exitCode, null, "the operator kept running through the restart");
});
