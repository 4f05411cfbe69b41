/**
 * The blue-green behaviours of ../shared SCENARIOS that go beyond the basic rollout: revert and
 * supersede mid-rollout, update after abort, reduced preview size, scaling during a rollout, HPA,
 * drift, pause, and the exact writes of a rollout as the kube-apiserver's audit log records them.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import {
  applyBgd,
  deployment,
  describeRequests,
  failReadiness,
  getStatus,
  operatorRequests,
  promotedV2,
  serviceSelector,
  waitStatus,
} from "./bgd.ts";
import { namespacesWithOperator } from "./fixture.ts";
import { kubectl, kubectlJson, waitUntil } from "./lib.ts";

const NAMES = [
  "roles",
  "labels",
  "revert",
  "supersede",
  "afterabort",
  "preview",
  "scaling",
  "hpa",
  "drift",
  "depdrift",
  "switchback",
  "pause",
  "writes",
] as const;
const { ns, operator } = namespacesWithOperator("sc", NAMES, { name: "scenarios" });

const color = async (n: string, svc = "app") => (await serviceSelector(n, svc))?.["bluegreen.io/color"];
const blueImage = async (n: string) =>
  (await deployment(n, "app-blue"))?.spec.template.spec.containers[0]?.image;

describe("scenarios", { concurrency: true }, () => {
  it("role labels and annotations for active and preview pods swap on promotion", async () => {
    const n = ns.roles;
    const strategy = {
      activeMetadata: { labels: { role: "active" }, annotations: { "example.com/serving": "yes" } },
      previewMetadata: { labels: { role: "preview" } },
      scaleDownDelaySeconds: 300,
    };
    const roles = async () => {
      const pods = await kubectlJson<{
        items: { metadata: { labels: Record<string, string>; annotations?: Record<string, string> } }[];
      }>(["get", "pods", "-n", n, "-l", "bluegreen.io/name=app"]);
      const out: Record<string, string[]> = {};
      for (const p of pods.items) {
        const c = p.metadata.labels["bluegreen.io/color"] ?? "?";
        const r = `${p.metadata.labels.role ?? "-"}/${p.metadata.annotations?.["example.com/serving"] ?? "-"}`;
        out[c] = [...(out[c] ?? []), r].sort();
      }
      return JSON.stringify(out);
    };
    await applyBgd(n, "app", { image: "app:v1", strategy });
    await waitStatus(n, "app", { phase: "Stable", activeColor: "blue" });
    await applyBgd(n, "app", { image: "app:v2", strategy });
    const waiting = await waitStatus(n, "app", { phase: "AwaitingPromotion" });
    await waitUntil("active and preview roles on the pods", 30_000, async () => {
      const r = await roles();
      return r === JSON.stringify({ blue: Array(3).fill("active/yes"), green: Array(3).fill("preview/-") })
        ? r
        : undefined;
    });
    const blueBefore = await deployment(n, "app-blue");
    await kubectl(["annotate", "-n", n, "bgd", "app", `bluegreen.io/promote=${waiting.previewRevision}`]);
    await waitStatus(n, "app", { phase: "Stable", activeColor: "green" });
    await waitUntil("roles swapped", 30_000, async () => {
      const r = await roles();
      return r === JSON.stringify({ blue: Array(3).fill("-/-"), green: Array(3).fill("active/yes") })
        ? r
        : undefined;
    });
    const blueAfter = await deployment(n, "app-blue");
    assert.deepEqual(
      blueAfter?.spec.template,
      blueBefore?.spec.template,
      "pods relabelled, templates untouched",
    );
  });

  it("changing the template labels of a BGD without a selector rolls out like any change", async () => {
    const n = ns.labels;
    await applyBgd(n, "app", { image: "app:v1", noSelector: true });
    await waitStatus(n, "app", { phase: "Stable", activeColor: "blue" });
    await applyBgd(n, "app", { image: "app:v1", noSelector: true, labels: { tier: "web" } });
    const waiting = await waitStatus(n, "app", { phase: "AwaitingPromotion" });
    assert.equal(await color(n), "blue");
    assert.equal(await blueImage(n), "app:v1");
    const blue = await kubectlJson<{ spec: { template: { metadata: { labels: Record<string, string> } } } }>([
      "get",
      "deployment",
      "app-blue",
      "-n",
      n,
    ]);
    assert.equal(blue.spec.template.metadata.labels.tier, undefined, "the live template was not touched");
    await kubectl(["annotate", "-n", n, "bgd", "app", `bluegreen.io/promote=${waiting.previewRevision}`]);
    await waitStatus(n, "app", { phase: "Stable", activeColor: "green" });
    assert.deepEqual(await serviceSelector(n, "app"), {
      "bluegreen.io/name": "app",
      "bluegreen.io/color": "green",
    });
  });

  it("revert mid-rollout: re-applying v1 while v2 waits is Stable on v1 at once and cleans up the preview", async () => {
    const n = ns.revert;
    await applyBgd(n, "app", { image: "app:v1" });
    const v1 = await waitStatus(n, "app", { phase: "Stable", activeColor: "blue" });
    await applyBgd(n, "app", { image: "app:v2" });
    await waitStatus(n, "app", { phase: "AwaitingPromotion" });
    await applyBgd(n, "app", { image: "app:v1" });
    const s = await waitStatus(n, "app", { phase: "Stable", activeColor: "blue" });
    assert.equal(s.activeRevision, v1.activeRevision);
    assert.equal(await color(n, "app-preview"), "blue");
    await waitUntil(
      "green scaled down",
      30_000,
      async () => (await deployment(n, "app-green"))?.spec.replicas === 0,
    );
  });

  it("supersede: v3 replaces v2 on the idle color and an approval of v2 never promotes v3", async () => {
    const n = ns.supersede;
    await applyBgd(n, "app", { image: "app:v1" });
    await waitStatus(n, "app", { phase: "Stable", activeColor: "blue" });
    await applyBgd(n, "app", { image: "app:v2" });
    const v2 = await waitStatus(n, "app", { phase: "AwaitingPromotion" });
    await applyBgd(n, "app", { image: "app:v3" });
    await kubectl(["annotate", "-n", n, "bgd", "app", `bluegreen.io/promote=${v2.previewRevision}`]);
    const v3 = await waitUntil("v3 awaiting promotion", 60_000, async () => {
      const s = await getStatus(n, "app");
      return s.phase === "AwaitingPromotion" && s.previewRevision !== v2.previewRevision ? s : undefined;
    });
    await sleep(2000);
    const still = await getStatus(n, "app");
    assert.equal(still.phase, "AwaitingPromotion");
    assert.equal(still.activeColor, "blue");
    assert.equal(await color(n), "blue");
    assert.equal(await blueImage(n), "app:v1", "the live color was never touched");
    const promoted = still.conditions?.find((c) => c.type === "Promoted");
    assert.equal(promoted?.reason, "StaleApproval");
    assert.match(promoted?.message ?? "", new RegExp(`${v2.previewRevision}.*${v3.previewRevision}`));
    await kubectl([
      "annotate",
      "-n",
      n,
      "bgd",
      "app",
      `bluegreen.io/promote=${v3.previewRevision}`,
      "--overwrite",
    ]);
    await waitStatus(n, "app", {
      phase: "Stable",
      activeColor: "green",
      activeRevision: v3.previewRevision ?? "",
    });
  });

  it("update after abort: v3 after an aborted v2 previews normally and promoting it retires what is left", async () => {
    const n = ns.afterabort;
    const strategy = { scaleDownDelaySeconds: 0 };
    await applyBgd(n, "app", { image: "app:v1", strategy });
    await waitStatus(n, "app", { phase: "Stable", activeColor: "blue" });
    await applyBgd(n, "app", { image: "app:v2", strategy });
    const v2 = await waitStatus(n, "app", { phase: "AwaitingPromotion" });
    await kubectl(["annotate", "-n", n, "bgd", "app", `bluegreen.io/abort=${v2.previewRevision}`]);
    await waitStatus(n, "app", { phase: "Aborted" });
    await applyBgd(n, "app", { image: "app:v3", strategy });
    const v3 = await waitStatus(n, "app", { phase: "AwaitingPromotion" });
    assert.notEqual(v3.previewRevision, v2.previewRevision);
    await kubectl(["annotate", "-n", n, "bgd", "app", `bluegreen.io/promote=${v3.previewRevision}`]);
    const done = await waitStatus(n, "app", { phase: "Stable", activeColor: "green" });
    assert.equal(done.conditions?.find((c) => c.type === "Degraded")?.status, "False");
    await waitUntil(
      "blue scaled down",
      30_000,
      async () => (await deployment(n, "app-blue"))?.spec.replicas === 0,
    );
  });

  it("a reduced preview runs at its own size and is scaled to full size, ready, before the switch", async () => {
    const n = ns.preview;
    const preview = { replicas: 1 };
    await applyBgd(n, "app", { image: "app:v1", replicas: 4, preview });
    await waitStatus(n, "app", { phase: "Stable", activeColor: "blue" });
    await applyBgd(n, "app", { image: "app:v2", replicas: 4, preview });
    const waiting = await waitStatus(n, "app", { phase: "AwaitingPromotion" });
    assert.equal((await deployment(n, "app-green"))?.spec.replicas, 1);
    await kubectl(["annotate", "-n", n, "bgd", "app", `bluegreen.io/promote=${waiting.previewRevision}`]);
    const done = await waitStatus(n, "app", { phase: "Stable", activeColor: "green" });
    assert.equal(done.readyReplicas, 4);
    const green = await deployment(n, "app-green");
    assert.equal(green?.spec.replicas, 4);
    assert.equal(green?.status.readyReplicas, 4);
  });

  it("a replica change during a rollout scales the live color, keeps the preview size and starts nothing", async () => {
    const n = ns.scaling;
    const preview = { replicas: 1 };
    await applyBgd(n, "app", { image: "app:v1", replicas: 2, preview });
    await waitStatus(n, "app", { phase: "Stable", activeColor: "blue" });
    await applyBgd(n, "app", { image: "app:v2", replicas: 2, preview });
    const waiting = await waitStatus(n, "app", { phase: "AwaitingPromotion" });
    await kubectl(["scale", "-n", n, "bgd/app", "--replicas=4"]);
    await waitUntil(
      "blue at 4",
      30_000,
      async () => (await deployment(n, "app-blue"))?.status.readyReplicas === 4,
    );
    const s = await waitStatus(n, "app", { phase: "AwaitingPromotion", readyReplicas: 4 });
    assert.equal(s.previewRevision, waiting.previewRevision, "no new revision");
    assert.equal((await deployment(n, "app-green"))?.spec.replicas, 1, "the preview keeps its reduced size");
    assert.equal(await blueImage(n), "app:v1");
    await kubectl(["annotate", "-n", n, "bgd", "app", `bluegreen.io/promote=${waiting.previewRevision}`]);
    const done = await waitStatus(n, "app", { phase: "Stable", activeColor: "green" });
    assert.equal(done.readyReplicas, 4);
  });

  it("an HPA scales the BGD through the scale subresource; the status selector names the live color only", async () => {
    const n = ns.hpa;
    await applyBgd(n, "app", { image: "app:v1", replicas: 2 });
    await waitStatus(n, "app", { phase: "Stable", activeColor: "blue" });
    // Below minReplicas the HPA controller scales up without needing metrics.
    await kubectl(["autoscale", "-n", n, "bgd/app", "--min=5", "--max=8", "--cpu-percent=80"]);
    const s = await waitStatus(n, "app", { phase: "Stable", readyReplicas: 5 }, 90_000);
    assert.equal(s.selector, "app=app,bluegreen.io/name=app,bluegreen.io/color=blue");
    assert.equal((await deployment(n, "app-blue"))?.spec.replicas, 5);
    const hpa = await kubectlJson<{ status: { conditions?: { type: string; status: string }[] } }>([
      "get",
      "hpa",
      "app",
      "-n",
      n,
    ]);
    assert.equal(hpa.status.conditions?.find((c) => c.type === "AbleToScale")?.status, "True");
  });

  it("drift: a hand-edited active Service selector or port is put back", async () => {
    const n = ns.drift;
    await applyBgd(n, "app", { image: "app:v1" });
    await waitStatus(n, "app", { phase: "Stable", activeColor: "blue" });
    await kubectl([
      "patch",
      "-n",
      n,
      "service",
      "app",
      "--type",
      "merge",
      "-p",
      '{"spec":{"selector":{"bluegreen.io/color":"green"}}}',
    ]);
    await waitUntil("selector back on blue", 30_000, async () => (await color(n)) === "blue");
    await kubectl([
      "patch",
      "-n",
      n,
      "service",
      "app",
      "--type",
      "json",
      "-p",
      '[{"op":"replace","path":"/spec/ports/0/port","value":81}]',
    ]);
    await waitUntil("port back to 80", 30_000, async () => {
      const svc = await kubectlJson<{ spec: { ports: { port: number }[] } }>([
        "get",
        "service",
        "app",
        "-n",
        n,
      ]);
      return svc.spec.ports[0]?.port === 80;
    });
    await waitStatus(n, "app", { phase: "Stable", activeColor: "blue" });
  });

  it("drift: hand edits of the Deployments we own are reverted, and then left in peace", async () => {
    const n = ns.depdrift;
    await applyBgd(n, "app", { image: "app:v1" });
    await waitStatus(n, "app", { phase: "Stable", activeColor: "blue" });
    const spec = async (name: string) =>
      (
        await kubectlJson<{
          spec: { paused?: boolean; template: { spec: { containers: { name: string; image: string }[] } } };
        }>(["get", "deployment", name, "-n", n])
      ).spec;
    const asWritten = JSON.stringify(await spec("app-blue"));
    // The live color: a new image (what `kubectl set image` on our Deployment does), a sidecar, and a pause.
    await kubectl(["set", "image", "-n", n, "deployment/app-blue", "app=app:hacked"]);
    await kubectl([
      "patch",
      "-n",
      n,
      "deployment",
      "app-blue",
      "--type",
      "json",
      "-p",
      '[{"op":"add","path":"/spec/template/spec/containers/-","value":{"name":"sidecar","image":"sidecar:v1"}}]',
    ]);
    await kubectl(["rollout", "pause", "-n", n, "deployment/app-blue"]);
    await waitUntil("app-blue back to the spec we wrote", 30_000, async () => {
      return JSON.stringify(await spec("app-blue")) === asWritten;
    });
    const reverted = await kubectlJson<{ items: { reason: string; message: string }[] }>([
      "get",
      "events",
      "-n",
      n,
      "--field-selector",
      "reason=DriftReverted",
    ]);
    assert.ok(reverted.items.length > 0, "a DriftReverted event");
    assert.match(reverted.items[0]?.message ?? "", /app-blue was changed outside the operator/);
    await waitStatus(n, "app", { phase: "Stable", activeColor: "blue" });
    assert.equal(await color(n), "blue", "traffic never moved");
    // Settled: the repair does not repeat itself. (Status writes may go on for a while: the hand edit
    // made the Deployment controller replace the live pods, and their readiness comes and goes.)
    await sleep(2000);
    const since = new Date();
    await sleep(3000);
    const later = describeRequests(
      await operatorRequests(operator().user, n, { since, writesOnly: true }),
    ).filter((w) => w.includes(" deployments ") || w.includes(" services "));
    assert.deepEqual(later, [], "no Deployment or Service write once the Deployment is back");
  });

  it("a promoted color that does not stay ready after the switch hands traffic back to the warm color", async () => {
    const n = ns.switchback;
    const strategy = {
      progressDeadlineSeconds: 5,
      scaleDownDelaySeconds: 300,
      abortScaleDownDelaySeconds: 0,
    };
    // The rollout itself gets a generous deadline (on a busy machine 5 s can pass before the preview
    // is ready, and it would be aborted before any switch); once v2 is live the deadline is cut to
    // 5 s (the strategy is not part of the revision): the window after the switch it judges.
    const { v1 } = await promotedV2(n, "app", { ...strategy, progressDeadlineSeconds: 120 });
    await applyBgd(n, "app", { image: "app:v2", strategy });
    // Every green pod fails its readiness probe (what a kubelet would report): no ready endpoint left.
    assert.equal((await failReadiness(n, "green")).length, 3);
    const back = await waitStatus(n, "app", { phase: "Aborted", activeColor: "blue" }, 60_000);
    assert.equal(await color(n), "blue", "the active Service selects the warm color again");
    assert.equal(back.activeRevision, v1.activeRevision);
    const degraded = back.conditions?.find((c) => c.type === "Degraded");
    assert.equal(degraded?.reason, "SwitchedBack");
    assert.equal(await blueImage(n), "app:v1", "blue kept its template throughout");
    const events = await kubectlJson<{ items: { message: string }[] }>([
      "get",
      "events",
      "-n",
      n,
      "--field-selector",
      "reason=SwitchedBack",
    ]);
    assert.match(events.items[0]?.message ?? "", /did not become ready within 5s after the switch/);
    await waitUntil(
      "green scaled down after the abort",
      30_000,
      async () => (await deployment(n, "app-green"))?.spec.replicas === 0,
    );
  });

  it("a pause stops the auto-promotion timer; resuming promotes after the delay", async () => {
    const n = ns.pause;
    const strategy = { promotion: { mode: "Auto", delaySeconds: 3 } };
    await applyBgd(n, "app", { image: "app:v1", strategy });
    await waitStatus(n, "app", { phase: "Stable", activeColor: "blue" });
    await kubectl(["annotate", "-n", n, "bgd", "app", "bluegreen.io/paused=true"]);
    await applyBgd(n, "app", { image: "app:v2", strategy });
    await waitStatus(n, "app", { phase: "Paused" });
    await sleep(5000);
    const paused = await getStatus(n, "app");
    assert.equal(paused.phase, "Paused");
    assert.equal(await color(n), "blue", "nothing switched while paused");
    await kubectl(["annotate", "-n", n, "bgd", "app", "bluegreen.io/paused-"]);
    await waitStatus(n, "app", { phase: "Stable", activeColor: "green" }, 60_000);
  });

  it("the exact writes of a rollout, from the audit log", async () => {
    const n = ns.writes;
    const strategy = { scaleDownDelaySeconds: 0 };
    await applyBgd(n, "app", { image: "app:v1", strategy });
    await waitStatus(n, "app", { phase: "Stable", activeColor: "blue" });
    await sleep(1000);
    const since = new Date();
    await applyBgd(n, "app", { image: "app:v2", strategy });
    const waiting = await waitStatus(n, "app", { phase: "AwaitingPromotion" });
    await kubectl(["annotate", "-n", n, "bgd", "app", `bluegreen.io/promote=${waiting.previewRevision}`]);
    await waitStatus(n, "app", { phase: "Stable", activeColor: "green" });
    await waitUntil(
      "blue scaled down",
      30_000,
      async () => (await deployment(n, "app-blue"))?.spec.replicas === 0,
    );
    await sleep(1500);
    const writes = describeRequests(
      await operatorRequests(operator().user, n, { since, writesOnly: true }),
    ).filter(
      // Status writes and Events vary with how many intermediate states the watch delivers.
      (w) => !w.includes("bluegreendeployments/status") && !w.startsWith("create events"),
    );
    assert.deepEqual(writes, [
      "patch deployments app-green → 201", // the new template, to the idle color only
      "patch deployments app-green → 200", // the hash of its spec as stored, to tell later hand edits
      "patch services app-preview → 200", // preview retargeted once every pod is ready
      "patch services app → 200", // the switch: one write
      "patch deployments app-blue → 200", // the retiring color's scale-down deadline
      "patch deployments app-blue → 200", // scaled to 0 (scaleDownDelaySeconds: 0)
    ]);
  });
});
