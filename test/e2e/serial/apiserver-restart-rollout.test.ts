/** kube-apiserver restarted mid-rollout: the operator's watches resume and the rollout completes. */
import assert from "node:assert/strict";
import { after, it } from "node:test";
import { restartApiserver } from "../../harness/cluster.ts";
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
 * How long the rest of the control plane may take to recover. After a restart, kube-controller-manager
 * and kube-scheduler (client-go) were seen to resume their pod watches only ~60 s later on a loaded
 * 2-core machine, so new pods are created and bound that late whatever the operator does; the
 * operator itself relists within seconds (see the informer restart test).
 */
const RECOVERY_MS = 150_000;

it("completes a rollout across a kube-apiserver restart", { timeout: 420_000 }, async (t) => {
  ns = await newNamespace("apirestart");
  operator = startOperator({ namespaces: [ns], name: "apirestart" });
  await applyBgd(ns, "app", { image: "app:v1" });
  await waitStatus(ns, "app", { phase: "Stable", activeColor: "blue" });
  await applyBgd(ns, "app", { image: "app:v2" });
  const restarted = Date.now();
  await restartApiserver(env("BGO_CLUSTER_DIR"));
  const waiting = await waitStatus(ns, "app", { phase: "AwaitingPromotion" }, RECOVERY_MS);
  t.diagnostic(`preview ready ${((Date.now() - restarted) / 1000).toFixed(1)} s after the restart began`);
  await kubectl(["annotate", "-n", ns, "bgd", "app", `bluegreen.io/promote=${waiting.previewRevision}`]);
  const done = await waitStatus(ns, "app", { phase: "Stable", activeColor: "green" }, RECOVERY_MS);
  assert.equal(done.activeRevision, waiting.previewRevision);
  assert.equal((await serviceSelector(ns, "app"))?.["bluegreen.io/color"], "green");
  assert.equal(operator.child.exitCode, null, "the operator kept running through the restart");
});
