/**
 * Lifecycle edges a first week in a real cluster meets: deleting a BlueGreenDeployment in the middle of
 * a rollout (with an adopted Service), a progress deadline that reports without aborting and recovers
 * when the pods come, a long wait for an approval, a lost scale-down deadline, hand edits of the preview
 * Service, and owned objects deleted by hand.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import {
  applyBgd,
  bgdManifest,
  deployment,
  describeRequests,
  getStatus,
  operatorRequests,
  promotedV2,
  serviceSelector,
  waitStatus,
} from "./bgd.ts";
import { deleteNamespace, kubectl, kubectlJson, newNamespace, waitUntil } from "./lib.ts";
import { type OperatorProcess, startOperator } from "./operator.ts";

const NAMES = ["deletemid", "nodeadline", "longwait", "lostdeadline", "previewdrift", "recreate"] as const;
type Name = (typeof NAMES)[number];
const ns = {} as Record<Name, string>;
let operator: OperatorProcess | undefined;
/** The operator's user in the audit log. */
const user = () => operator?.user ?? assert.fail("the operator starts in the before hook");
/** `kubectl label node ...` undo commands, run after the tests. */
const nodeLabels: string[][] = [];

before(async () => {
  await Promise.all(
    NAMES.map(async (n) => {
      ns[n] = await newNamespace(`lc-${n}`);
    }),
  );
  operator = await startOperator({ namespaces: Object.values(ns), name: "lifecycle" });
});
after(async () => {
  for (const undo of nodeLabels) await kubectl(undo);
  // While the operator runs: a BGD holding the hand-back finalizer needs it to be deleted.
  await Promise.all(
    Object.values(ns).map((n) =>
      kubectl(["delete", "bgd", "--all", "-n", n, "--wait=true", "--timeout=60s"]),
    ),
  );
  await operator?.stop();
  await Promise.all(Object.values(ns).map((n) => deleteNamespace(n)));
});

const color = async (n: string, svc = "app") => (await serviceSelector(n, svc))?.["bluegreen.io/color"];
const promote = async (n: string, revision: string | undefined) =>
  await kubectl(["annotate", "-n", n, "bgd", "app", `bluegreen.io/promote=${revision ?? ""}`]);
const condition = async (n: string, type: string) =>
  (await getStatus(n, "app")).conditions?.find((c) => c.type === type);

interface Svc {
  metadata: { labels?: Record<string, string>; annotations?: Record<string, string>; finalizers?: string[] };
  spec: { selector?: Record<string, string>; ports: { port: number }[] };
}

describe("lifecycle", { concurrency: true }, () => {
  it("deleting a BGD mid-rollout removes everything it made and hands the adopted Service back", async () => {
    const n = ns.deletemid;
    await kubectl(
      ["apply", "-n", n, "-f", "-"],
      "apiVersion: v1\nkind: Service\nmetadata: {name: shop}\nspec: {selector: {app: shop}, ports: [{port: 80, targetPort: 8080}]}\n",
    );
    const extraSpec = { service: { name: "shop" } };
    await applyBgd(n, "app", { image: "app:v1", extraSpec });
    await waitStatus(n, "app", { phase: "Stable", activeColor: "blue" });
    await applyBgd(n, "app", { image: "app:v2", extraSpec });
    await waitStatus(n, "app", { phase: "AwaitingPromotion", previewColor: "green" });
    const managed = "app.kubernetes.io/managed-by=bluegreen-operator";
    const before = await kubectlJson<{ items: unknown[] }>([
      "get",
      "deployments,services",
      "-n",
      n,
      "-l",
      managed,
    ]);
    assert.equal(before.items.length, 3, "two colors and the preview Service, mid-rollout");

    await kubectl(["delete", "-n", n, "bgd", "app", "--wait=true", "--timeout=60s"]);
    const svc = await kubectlJson<Svc>(["get", "service", "shop", "-n", n]);
    assert.deepEqual(svc.spec.selector, { app: "shop" }, "the original selector is back");
    assert.equal(svc.metadata.labels?.["bluegreen.io/name"], undefined);
    assert.equal(svc.metadata.annotations?.["bluegreen.io/original-selector"], undefined);
    assert.equal(svc.metadata.finalizers, undefined);
    // Owner references do the rest: Deployments, their ReplicaSets and pods, the preview Service.
    await waitUntil("nothing of the BGD left", 90_000, async () => {
      const left = await kubectlJson<{ items: { kind: string; metadata: { name: string } }[] }>([
        "get",
        "deployments,replicasets,pods,services,endpointslices",
        "-n",
        n,
        "-l",
        "bluegreen.io/name=app",
      ]);
      return left.items.length === 0 ? true : undefined;
    });
    const endpointSlices = await kubectlJson<{ items: { metadata: { labels: Record<string, string> } }[] }>([
      "get",
      "endpointslices",
      "-n",
      n,
    ]);
    assert.deepEqual(
      endpointSlices.items.map((s) => s.metadata.labels["kubernetes.io/service-name"]),
      ["shop"],
      "only the adopted Service's slices remain",
    );
  });

  it("a progress deadline without abort reports Degraded, keeps waiting, and recovers when the pods come", async () => {
    const n = ns.nodeadline;
    const strategy = { progressDeadlineSeconds: 4, abortOnProgressDeadline: false, scaleDownDelaySeconds: 0 };
    await applyBgd(n, "app", { image: "app:v1", strategy });
    await waitStatus(n, "app", { phase: "Stable", activeColor: "blue" });
    // v2's pods need a node label no node has yet: they stay Pending (unschedulable).
    const pool = `test.bluegreen.io/pool-${n}`;
    const v2 = JSON.parse(bgdManifest("app", { image: "app:v2", strategy })) as {
      spec: { template: { spec: Record<string, unknown> } };
    };
    v2.spec.template.spec.nodeSelector = { [pool]: "late" };
    await kubectl(["apply", "-n", n, "-f", "-"], JSON.stringify(v2));
    const degraded = await waitUntil("Degraded: ProgressDeadlineExceeded", 60_000, async () => {
      const c = await condition(n, "Degraded");
      return c?.status === "True" && c.reason === "ProgressDeadlineExceeded" ? c : undefined;
    });
    assert.doesNotMatch(degraded.message, /aborted/);
    await sleep(3000); // well past the deadline: still waiting, not aborted
    const waiting = await getStatus(n, "app");
    assert.equal(waiting.phase, "Progressing");
    assert.equal(waiting.activeColor, "blue");
    assert.equal(await color(n), "blue");
    const annotations = await kubectl([
      "get",
      "bgd",
      "app",
      "-n",
      n,
      "-o",
      "jsonpath={.metadata.annotations}",
    ]);
    assert.doesNotMatch(annotations, /bluegreen\.io\/abort/);

    const node = (await kubectl(["get", "nodes", "-o", "jsonpath={.items[0].metadata.name}"])).trim();
    await kubectl(["label", "node", node, `${pool}=late`]);
    nodeLabels.push(["label", "node", node, `${pool}-`]);
    const ready = await waitStatus(n, "app", { phase: "AwaitingPromotion", previewColor: "green" }, 90_000);
    assert.notEqual((await condition(n, "Degraded"))?.status, "True", "no longer Degraded");
    await promote(n, ready.previewRevision);
    const done = await waitStatus(n, "app", { phase: "Stable", activeColor: "green" });
    assert.equal(done.activeImage, "app:v2");
  });

  it("waiting for an approval long past the progress deadline is not a failure", async () => {
    const n = ns.longwait;
    // The preview gets a generous deadline to become ready (on a busy machine 3 s is not enough);
    // once it waits for approval the deadline is cut to 3 s, so it lies long in the past: the
    // strategy is not part of the revision, so this is the same rollout, still waiting.
    const strategy = { progressDeadlineSeconds: 120, scaleDownDelaySeconds: 0 };
    await applyBgd(n, "app", { image: "app:v1", strategy });
    await waitStatus(n, "app", { phase: "Stable", activeColor: "blue" });
    await applyBgd(n, "app", { image: "app:v2", strategy });
    const waiting = await waitStatus(n, "app", { phase: "AwaitingPromotion", previewColor: "green" });
    await applyBgd(n, "app", { image: "app:v2", strategy: { ...strategy, progressDeadlineSeconds: 3 } });
    await sleep(10_000); // more than three deadlines
    const later = await getStatus(n, "app");
    assert.equal(later.phase, "AwaitingPromotion");
    assert.equal(later.previewRevision, waiting.previewRevision);
    assert.notEqual((await condition(n, "Degraded"))?.status, "True");
    assert.equal(await color(n, "app-preview"), "green", "the preview still serves the new color");
    await promote(n, waiting.previewRevision);
    const done = await waitStatus(n, "app", { phase: "Stable", activeColor: "green" });
    assert.equal(done.activeImage, "app:v2");
  });

  it("a retired color whose scale-down deadline annotation is lost or unreadable gets the whole delay again", async () => {
    const n = ns.lostdeadline;
    await promotedV2(n, "app", { scaleDownDelaySeconds: 600 });
    const annotation = async () =>
      (
        await kubectl([
          "get",
          "deployment",
          "app-blue",
          "-n",
          n,
          "-o",
          "jsonpath={.metadata.annotations.bluegreen\\.io/scale-down-at}",
        ])
      ).trim();
    let previous = await waitUntil("the deadline on blue", 30_000, async () => {
      const a = await annotation();
      return a !== "" ? a : undefined;
    });
    assert.equal((await deployment(n, "app-blue"))?.spec.replicas, 3, "blue is kept warm for 600 s");
    for (const edit of ["bluegreen.io/scale-down-at-", "bluegreen.io/scale-down-at=not-a-time"]) {
      const editedAt = Date.now();
      await kubectl(["annotate", "--overwrite", "-n", n, "deployment/app-blue", edit]);
      const again = await waitUntil(`a new deadline on blue after ${edit}`, 30_000, async () => {
        const a = await annotation();
        return a !== "" && a !== "not-a-time" && a !== previous ? a : undefined;
      });
      previous = again;
      // The whole delay from when the operator saw the edit (the clocks are the same machine's; 5 s of slack
      // for the round trip of the edit itself).
      assert.ok(
        Date.parse(again) >= editedAt + 600_000 - 5_000,
        `the new deadline ${again} is the whole 600 s after the edit at ${new Date(editedAt).toISOString()}`,
      );
      assert.equal((await deployment(n, "app-blue"))?.spec.replicas, 3, `blue stays warm after ${edit}`);
    }
    assert.equal(await color(n), "green", "traffic stays on green");
    await waitStatus(n, "app", { phase: "Stable", activeColor: "green" });
  });

  it("drift: a hand-edited preview Service is put back, and the rollout goes on", async () => {
    const n = ns.previewdrift;
    await applyBgd(n, "app", { image: "app:v1" });
    await waitStatus(n, "app", { phase: "Stable", activeColor: "blue" });
    await applyBgd(n, "app", { image: "app:v2" });
    const waiting = await waitStatus(n, "app", { phase: "AwaitingPromotion", previewColor: "green" });
    assert.equal(await color(n, "app-preview"), "green");
    await kubectl([
      "patch",
      "-n",
      n,
      "service",
      "app-preview",
      "--type",
      "merge",
      "-p",
      '{"spec":{"selector":{"bluegreen.io/color":"blue"}}}',
    ]);
    await waitUntil("preview back on green", 30_000, async () => (await color(n, "app-preview")) === "green");
    await kubectl([
      "patch",
      "-n",
      n,
      "service",
      "app-preview",
      "--type",
      "json",
      "-p",
      '[{"op":"replace","path":"/spec/ports/0/port","value":81}]',
    ]);
    await waitUntil("preview port back to 80", 30_000, async () => {
      const svc = await kubectlJson<Svc>(["get", "service", "app-preview", "-n", n]);
      return svc.spec.ports[0]?.port === 80;
    });
    // Settled: no further Service write once it is back.
    await sleep(1000);
    const since = new Date();
    await sleep(3000);
    const later = describeRequests(await operatorRequests(user(), n, { since, writesOnly: true })).filter(
      (w) => w.includes(" services "),
    );
    assert.deepEqual(later, [], "no Service write once the preview Service is back");
    const still = await getStatus(n, "app");
    assert.equal(still.phase, "AwaitingPromotion");
    assert.equal(still.previewRevision, waiting.previewRevision);
    assert.equal(await color(n), "blue", "traffic never moved");
    await promote(n, waiting.previewRevision);
    await waitStatus(n, "app", { phase: "Stable", activeColor: "green" });
  });

  it("owned objects deleted by hand are recreated once each, and the operator keeps running", async () => {
    const n = ns.recreate;
    await applyBgd(n, "app", { image: "app:v1", replicas: 2 });
    await waitStatus(n, "app", { phase: "Stable", activeColor: "blue" });
    const since = new Date();
    await kubectl(["delete", "-n", n, "service/app", "service/app-preview", "deployment/app-blue"]);
    await waitUntil("the Services and the live Deployment back, ready", 60_000, async () => {
      const d = await deployment(n, "app-blue");
      return (
        (await color(n)) === "blue" &&
        (await color(n, "app-preview")) !== undefined &&
        d?.status.readyReplicas === 2
      );
    });
    await waitStatus(n, "app", { phase: "Stable", activeColor: "blue" });
    await sleep(3000); // let anything that would repeat, repeat
    // Each comes back with one write that created it (201: a POST, or a server-side apply PATCH).
    const recreated = describeRequests(await operatorRequests(user(), n, { since, writesOnly: true })).filter(
      (w) => w.endsWith("→ 201"),
    );
    const byObject = new Map<string, number>();
    for (const w of recreated) {
      const key = w.split(" ").slice(1, 3).join(" ");
      byObject.set(key, (byObject.get(key) ?? 0) + 1);
    }
    assert.deepEqual(Object.fromEntries(byObject), {
      "deployments app-blue": 1,
      "services app": 1,
      "services app-preview": 1,
    });
    assert.equal(operator?.child.exitCode, null, "the operator is still running");
    assert.equal(operator?.child.signalCode, null);
  });
});
