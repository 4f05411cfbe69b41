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

it("completes a rollout across a kube-apiserver restart", async () => {
  ns = await newNamespace("apirestart");
  operator = startOperator({ namespaces: [ns], name: "apirestart" });
  await applyBgd(ns, "app", { image: "app:v1" });
  await waitStatus(ns, "app", { phase: "Stable", activeColor: "blue" });
  await applyBgd(ns, "app", { image: "app:v2" });
  await restartApiserver(env("BGO_CLUSTER_DIR"));
  const waiting = await waitStatus(ns, "app", { phase: "AwaitingPromotion" }, 90_000);
  await kubectl(["annotate", "-n", ns, "bgd", "app", `bluegreen.io/promote=${waiting.previewRevision}`]);
  const done = await waitStatus(ns, "app", { phase: "Stable", activeColor: "green" }, 90_000);
  assert.equal(done.activeRevision, waiting.previewRevision);
  assert.equal((await serviceSelector(ns, "app"))?.["bluegreen.io/color"], "green");
  assert.equal(operator.child.exitCode, null, "the operator kept running through the restart");
});
