/**
 * The rollout on the real control plane: the article's examples, manual and automatic promotion,
 * abort, rollback, the progress deadline, scaling, deletion. One operator watches this file's
 * namespaces; each test has a namespace of its own and they run concurrently.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import {
  applyBgd,
  bgdManifest,
  deployment,
  getStatus,
  operatorRequests,
  promotedV2,
  serviceSelector,
  waitStatus,
  watchEndpoints,
} from "./bgd.ts";
import { namespacesWithOperator } from "./fixture.ts";
import { kubectl, kubectlJson, waitUntil } from "./lib.ts";

const NAMES = [
  "examples",
  "manual",
  "auto",
  "abort",
  "rollback",
  "backtoback",
  "deadline",
  "scale",
  "delete",
] as const;
const { ns, operator } = namespacesWithOperator("ro", NAMES, { name: "rollout" });

async function readyEndpointsOf(namespace: string, svc: string): Promise<Map<string, boolean>> {
  const slices = await kubectlJson<{
    items: { endpoints?: { conditions?: { ready?: boolean }; targetRef?: { name?: string } }[] }[];
  }>(["get", "endpointslices", "-n", namespace, "-l", `kubernetes.io/service-name=${svc}`]);
  const out = new Map<string, boolean>();
  for (const s of slices.items)
    for (const e of s.endpoints ?? []) out.set(e.targetRef?.name ?? "", e.conditions?.ready === true);
  return out;
}

describe("rollout", { concurrency: true }, () => {
  it("accepts both article examples unchanged but for the group and serves them from blue", async () => {
    const n = ns.examples;
    await kubectl([
      "apply",
      "-n",
      n,
      "-f",
      "examples/my-awesome-app.yaml",
      "-f",
      "examples/my-cool-app.yaml",
    ]);
    for (const name of ["my-awesome-app", "my-cool-app"]) {
      // The examples keep kwok's realistic pod delays (up to 6 s).
      const s = await waitStatus(n, name, { phase: "Stable" }, 90_000);
      assert.equal(s.activeColor, "blue");
      assert.equal(s.readyReplicas, 3);
      const sel = await serviceSelector(n, name);
      assert.equal(sel?.["bluegreen.io/color"], "blue");
      assert.equal(sel?.["bluegreen.io/name"], name);
      // The explicit selector of the full example is part of the Service selector.
      if (name === "my-awesome-app") assert.equal(sel?.app, name);
      const eps = await waitUntil("3 ready endpoints", 30_000, async () => {
        const m = await readyEndpointsOf(n, name);
        return [...m.values()].filter(Boolean).length === 3 ? m : undefined;
      });
      assert.equal(eps.size, 3);
      assert.equal(await deployment(n, `${name}-green`), undefined, "first deploy creates blue only");
    }
    const shorthand = await deployment(n, "my-cool-app-blue");
    assert.deepEqual(
      shorthand?.spec.template.spec.containers.map((c) => c.image),
      ["mycoolapp:v1"],
    );
  });

  it("v1 → v2 with manual promotion: preview first, nothing switches until approved, no blackout", async () => {
    const n = ns.manual;
    await applyBgd(n, "app", { image: "app:v1", strategy: { scaleDownDelaySeconds: 2 } });
    const v1 = await waitStatus(n, "app", { phase: "Stable", activeColor: "blue" });

    // Watch the active Service's endpoints for the rest of the test: it must never lack a ready
    // endpoint for any of the 3 replicas (Argo Rollouts #4750).
    const watch = await watchEndpoints(n, "app");
    await applyBgd(n, "app", { image: "app:v2", strategy: { scaleDownDelaySeconds: 2 } });
    const waiting = await waitStatus(n, "app", { phase: "AwaitingPromotion" });
    assert.equal(waiting.activeColor, "blue");
    assert.notEqual(waiting.previewRevision, v1.activeRevision);
    assert.equal((await serviceSelector(n, "app-preview"))?.["bluegreen.io/color"], "green");
    assert.equal((await serviceSelector(n, "app"))?.["bluegreen.io/color"], "blue");
    // Readiness first: every preview endpoint is ready once the preview points at green.
    const preview = await readyEndpointsOf(n, "app-preview");
    assert.equal([...preview.values()].filter(Boolean).length, 3);

    await sleep(2000);
    const still = await getStatus(n, "app");
    assert.equal(still.phase, "AwaitingPromotion", "nothing moves without an approval");
    assert.equal((await serviceSelector(n, "app"))?.["bluegreen.io/color"], "blue");

    await kubectl(["annotate", "-n", n, "bgd", "app", `bluegreen.io/promote=${waiting.previewRevision}`]);
    const done = await waitStatus(n, "app", { phase: "Stable", activeColor: "green" });
    assert.equal(done.activeRevision, waiting.previewRevision);
    assert.equal((await serviceSelector(n, "app"))?.["bluegreen.io/color"], "green");
    // The old color retires after scaleDownDelaySeconds (2 s).
    await waitUntil(
      "blue scaled to 0",
      30_000,
      async () => (await deployment(n, "app-blue"))?.spec.replicas === 0,
    );
    await waitUntil("green endpoints settled", 30_000, async () => {
      const m = await readyEndpointsOf(n, "app");
      return m.size === 3 && [...m.values()].every(Boolean);
    });
    await watch.stop();
    const states = watch.states();
    assert.ok(
      states.some((st) => st.length === 3 && st.every((p) => p.startsWith("app-green-"))),
      `the watch saw the switch to green (${JSON.stringify(states)})`,
    );
    assert.equal(
      watch.minReady(),
      3,
      `the active Service always had 3 ready endpoints: ${JSON.stringify(states)}`,
    );
  });

  it("auto-promotion waits for the delay, then switches", async () => {
    const n = ns.auto;
    const strategy = { promotion: { mode: "Auto", delaySeconds: 4 }, scaleDownDelaySeconds: 0 };
    await applyBgd(n, "app", { image: "app:v1", strategy });
    await waitStatus(n, "app", { phase: "Stable", activeColor: "blue" });
    const since = new Date();
    await applyBgd(n, "app", { image: "app:v2", strategy });
    const waiting = await waitStatus(n, "app", { phase: "AwaitingPromotion" });
    const done = await waitStatus(n, "app", { phase: "Stable", activeColor: "green" }, 30_000);
    assert.equal(done.activeRevision, waiting.previewRevision);
    // The delay, as the kube-apiserver saw it (polling the Service could miss it on a loaded machine):
    // the switch came at least delaySeconds after the preview Service was pointed at the ready color.
    const at = (name: string) =>
      operatorRequests(operator().user, n, { since, writesOnly: true }).then((events) =>
        events
          .filter(
            (e) => e.verb === "patch" && e.objectRef?.resource === "services" && e.objectRef.name === name,
          )
          .map((e) => Date.parse(e.requestReceivedTimestamp)),
      );
    const [previewAt] = await at("app-preview");
    const switches = await at("app");
    assert.equal(switches.length, 1, "one switch");
    assert.ok(previewAt !== undefined && switches[0] !== undefined);
    assert.ok(
      switches[0] - previewAt >= 4000,
      `switched ${switches[0] - previewAt} ms after the preview was ready, before the 4 s delay`,
    );
    // scaleDownDelaySeconds: 0 — the old color goes as soon as the new one is verified.
    await waitUntil(
      "blue scaled to 0",
      30_000,
      async () => (await deployment(n, "app-blue"))?.spec.replicas === 0,
    );
  });

  it("abort before the switch keeps traffic and scales the new color down", async () => {
    const n = ns.abort;
    const strategy = { abortScaleDownDelaySeconds: 0 };
    await applyBgd(n, "app", { image: "app:v1", strategy });
    await waitStatus(n, "app", { phase: "Stable", activeColor: "blue" });
    await applyBgd(n, "app", { image: "app:v2", strategy });
    const waiting = await waitStatus(n, "app", { phase: "AwaitingPromotion" });
    await kubectl(["annotate", "-n", n, "bgd", "app", `bluegreen.io/abort=${waiting.previewRevision}`]);
    const aborted = await waitStatus(n, "app", { phase: "Aborted" });
    assert.equal(aborted.activeColor, "blue");
    assert.equal(aborted.conditions?.find((c) => c.type === "Degraded")?.status, "True");
    assert.equal((await serviceSelector(n, "app"))?.["bluegreen.io/color"], "blue");
    await waitUntil(
      "green scaled to 0",
      30_000,
      async () => (await deployment(n, "app-green"))?.spec.replicas === 0,
    );
    assert.equal(
      (await serviceSelector(n, "app-preview"))?.["bluegreen.io/color"],
      "blue",
      "preview cleaned up",
    );
    // Retry: remove the abort and the same revision previews again.
    await kubectl(["annotate", "-n", n, "bgd", "app", "bluegreen.io/abort-"]);
    const again = await waitStatus(n, "app", { phase: "AwaitingPromotion" });
    assert.equal(again.previewRevision, waiting.previewRevision);
  });

  it("rolls back instantly to the warm previous color by re-applying it, without approval", async () => {
    const n = ns.rollback;
    const strategy = { scaleDownDelaySeconds: 300 };
    const { v1 } = await promotedV2(n, "app", strategy);
    assert.equal((await deployment(n, "app-blue"))?.spec.replicas, 3, "blue stays warm");

    await applyBgd(n, "app", { image: "app:v1", strategy });
    const back = await waitStatus(n, "app", { phase: "Stable", activeColor: "blue" }, 20_000);
    assert.equal(back.activeRevision, v1.activeRevision);
    assert.equal((await serviceSelector(n, "app"))?.["bluegreen.io/color"], "blue");
    const reasons = (
      await kubectl([
        "get",
        "events",
        "-n",
        n,
        "--field-selector",
        "involvedObject.kind=BlueGreenDeployment",
        "-o",
        "jsonpath={.items[*].reason}",
      ])
    ).split(" ");
    // Only v2 ever waited for an approval; the rollback to v1 did not.
    assert.equal(reasons.filter((r) => r === "AwaitingPromotion").length, 1);
  });

  it("a release onto the warm previous color does not wait for its old pods' graceful termination", async () => {
    const n = ns.backtoback;
    const strategy = { scaleDownDelaySeconds: 300 };
    // Pods that take 20 to 60 s to go once deleted, as real ones with a 60 s grace period may.
    const apply = (image: string) => {
      const doc = JSON.parse(bgdManifest("app", { image, strategy })) as {
        spec: {
          template: {
            metadata: { annotations: Record<string, string> };
            spec: { terminationGracePeriodSeconds: number };
          };
        };
      };
      doc.spec.template.spec.terminationGracePeriodSeconds = 60;
      doc.spec.template.metadata.annotations["pod-delete.stage.kwok.x-k8s.io/delay"] = "20s";
      return kubectl(["apply", "-n", n, "-f", "-"], JSON.stringify(doc));
    };
    await apply("app:v1");
    await waitStatus(n, "app", { phase: "Stable", activeColor: "blue" });
    await apply("app:v2");
    const v2 = await waitStatus(n, "app", { phase: "AwaitingPromotion" });
    await kubectl(["annotate", "-n", n, "bgd", "app", `bluegreen.io/promote=${v2.previewRevision}`]);
    await waitStatus(n, "app", { phase: "Stable", activeColor: "green" });
    assert.equal((await deployment(n, "app-blue"))?.spec.replicas, 3, "blue stays warm");

    // v3 goes to blue, whose three v1 pods are warm: its pods must exist while those still terminate.
    await apply("app:v3");
    type Pods = {
      items: { metadata: { deletionTimestamp?: string }; spec: { containers: { image: string }[] } }[];
    };
    await waitUntil("v3 pods beside terminating v1 pods", 60_000, async () => {
      const pods = await kubectlJson<Pods>(["get", "pods", "-n", n, "-l", "bluegreen.io/color=blue"]);
      const of = (image: string) => pods.items.filter((p) => p.spec.containers[0]?.image === image);
      const old = of("app:v1");
      const fresh = of("app:v3");
      const going = old.length > 0 && old.every((p) => p.metadata.deletionTimestamp !== undefined);
      return going && fresh.length > 0;
    });
    const v3 = await waitStatus(n, "app", { phase: "AwaitingPromotion", previewColor: "blue" });
    assert.notEqual(v3.previewRevision, v2.previewRevision);
  });

  it("a never-ready release hits the progress deadline: aborted, Degraded, traffic never moved", async () => {
    const n = ns.deadline;
    const strategy = { progressDeadlineSeconds: 5, abortScaleDownDelaySeconds: 0 };
    await applyBgd(n, "app", { image: "app:v1", strategy });
    const v1 = await waitStatus(n, "app", { phase: "Stable", activeColor: "blue" });
    await applyBgd(n, "app", { image: "app:bad", neverReady: true, strategy });
    await waitStatus(n, "app", { phase: "Progressing" });
    assert.equal(
      (await serviceSelector(n, "app-preview"))?.["bluegreen.io/color"],
      "blue",
      "preview not moved to unready pods",
    );
    const aborted = await waitStatus(n, "app", { phase: "Aborted" }, 30_000);
    assert.equal(aborted.activeColor, "blue");
    assert.equal(aborted.activeRevision, v1.activeRevision);
    const degraded = aborted.conditions?.find((c) => c.type === "Degraded");
    assert.equal(degraded?.status, "True");
    assert.match(degraded?.message ?? "", /aborted/);
    assert.equal((await serviceSelector(n, "app"))?.["bluegreen.io/color"], "blue");
    await waitUntil(
      "green scaled to 0",
      30_000,
      async () => (await deployment(n, "app-green"))?.spec.replicas === 0,
    );
    const bgd = await kubectlJson<{ metadata: { annotations?: Record<string, string> } }>([
      "get",
      "bgd",
      "app",
      "-n",
      n,
    ]);
    assert.ok(
      bgd.metadata.annotations?.["bluegreen.io/abort"] !== undefined,
      "the deadline recorded the abort on the BGD",
    );
  });

  it("kubectl scale changes replicas of the live color only, with no new rollout", async () => {
    const n = ns.scale;
    await applyBgd(n, "app", { image: "app:v1" });
    const v1 = await waitStatus(n, "app", { phase: "Stable", activeColor: "blue" });
    await kubectl(["scale", "-n", n, "bgd/app", "--replicas=5"]);
    const s = await waitStatus(n, "app", { phase: "Stable", readyReplicas: 5 });
    assert.equal(s.activeRevision, v1.activeRevision);
    assert.equal(s.activeColor, "blue");
    assert.equal((await deployment(n, "app-blue"))?.spec.replicas, 5);
    assert.equal(await deployment(n, "app-green"), undefined, "no rollout started");
    assert.match(s.selector ?? "", /bluegreen.io\/color=blue/);
    const scale = JSON.parse(
      await kubectl(["get", "--raw", `/apis/bluegreen.io/v1/namespaces/${n}/bluegreendeployments/app/scale`]),
    ) as { status: { replicas: number; selector: string } };
    assert.match(scale.status.selector, /bluegreen.io\/color=blue/);
    assert.equal(scale.status.replicas, 5);
  });

  it("deleting the BGD garbage-collects everything it owned", async () => {
    const n = ns.delete;
    await applyBgd(n, "app", { image: "app:v1" });
    await waitStatus(n, "app", { phase: "Stable" });
    await kubectl(["delete", "-n", n, "bgd", "app"]);
    await waitUntil("owned objects collected", 60_000, async () => {
      const left = await kubectlJson<{ items: unknown[] }>([
        "get",
        "deployments,services,pods",
        "-n",
        n,
        "-l",
        "bluegreen.io/name=app",
      ]);
      return left.items.length === 0;
    });
  });
});
