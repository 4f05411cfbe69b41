/**
 * Releases judged by traffic (SCENARIOS 24-26): a steady load on the active Service's ClusterIP,
 * through kube-proxy's nftables rules to the pod IPs podsim answers as each pod, records every
 * request. Zero downtime is what those requests saw, not what the EndpointSlices said.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { applyBgd, type BgdOptions, failReadiness } from "./bgd.ts";
import { deleteNamespace, kubectl, newNamespace } from "./lib.ts";
import { type OperatorProcess, startOperator } from "./operator.ts";
import {
  assertNoFailures,
  assertNothingBeforeApproval,
  fmtReport,
  loadOn,
  type Watched,
  waitFor,
  waitServedBy,
  waitWatched,
  watchNamespace,
} from "./traffic-lib.ts";

const NAMES = ["series", "rollback", "abort", "neverready", "affinity", "switchback"] as const;
type Name = (typeof NAMES)[number];
const ns = {} as Record<Name, string>;
let operator: OperatorProcess | undefined;
const watches: Watched[] = [];
// A load per test, steady and bounded: enough requests to see any gap, little CPU.
const RPS = 30;

before(async () => {
  await Promise.all(
    NAMES.map(async (n) => {
      ns[n] = await newNamespace(`tr-${n}`);
    }),
  );
  operator = await startOperator({ namespaces: Object.values(ns), name: "traffic" });
});
after(async () => {
  for (const w of watches) w.stop();
  await operator?.stop();
  await Promise.all(Object.values(ns).map((n) => deleteNamespace(n)));
});

/** v1 Stable and answering every request of a fresh load. */
async function stableV1(n: string, o: Omit<BgdOptions, "image">, seconds: number) {
  const w = await watchNamespace(n);
  watches.push(w);
  await applyBgd(n, "app", { ...o, image: "app:v1" });
  const v1 = await waitWatched(n, w, { phase: "Stable", activeColor: "blue" });
  const rev1 = v1.activeRevision ?? "";
  const traffic = await loadOn(n, "app", { rps: RPS, seconds });
  await waitServedBy(traffic, rev1, 20);
  return { rev1, traffic, w };
}

async function approve(n: string, revision: string): Promise<number> {
  const at = Date.now();
  await kubectl(["annotate", "--overwrite", "-n", n, "bgd", "app", `bluegreen.io/promote=${revision}`]);
  return at;
}

describe("traffic", { concurrency: true }, () => {
  it("20 consecutive releases under load: no failed request, no revision answering before its approval", {
    timeout: 600_000,
  }, async () => {
    const n = ns.series;
    const manual = { scaleDownDelaySeconds: 3 };
    const auto = { scaleDownDelaySeconds: 3, promotion: { mode: "Auto", delaySeconds: 2 } };
    const { rev1, traffic, w } = await stableV1(n, { strategy: manual }, 600);
    const approvedAt = new Map<string, number>();
    const windows: number[] = [];
    for (let v = 2; v <= 21; v++) {
      const isAuto = v % 2 === 1;
      const strategy = isAuto ? auto : manual;
      const applied = Date.now();
      await applyBgd(n, "app", { image: `app:v${v}`, strategy });
      let rev: string;
      if (isAuto) {
        const s = await waitWatched(n, w, { phase: "Stable", activeImage: `app:v${v}` });
        rev = s.activeRevision ?? "";
        // The auto-promotion delay starts once the preview is ready, so never before apply + delay.
        approvedAt.set(rev, applied + 2000);
      } else {
        const waiting = await waitWatched(n, w, { phase: "AwaitingPromotion" });
        rev = waiting.previewRevision ?? "";
        approvedAt.set(rev, await approve(n, rev));
        await waitWatched(n, w, { phase: "Stable", activeImage: `app:v${v}` });
      }
      // After the switch the new revision answers every request (the bound is reported below).
      await waitServedBy(traffic, rev, 20);
    }
    const records = traffic.records();
    const report = await traffic.stop();
    console.log(fmtReport("20 releases", report));
    for (const s of report.switches) windows.push(s.mixedMs);
    console.log(
      `[traffic] 20 releases: both revisions answered for at most ${Math.max(...windows)} ms per switch`,
    );
    assertNoFailures(report, records);
    assert.equal(report.revisions.length, 21, `every release served traffic: ${report.revisions.join(" ")}`);
    assert.equal(report.revisions[0], rev1);
    assertNothingBeforeApproval(records, approvedAt, rev1);
  });

  it("an instant rollback to the warm color under load fails no request", async () => {
    const n = ns.rollback;
    const strategy = { scaleDownDelaySeconds: 300 };
    const { rev1, traffic, w } = await stableV1(n, { strategy }, 120);
    await applyBgd(n, "app", { image: "app:v2", strategy });
    const waiting = await waitWatched(n, w, { phase: "AwaitingPromotion" });
    const rev2 = waiting.previewRevision ?? "";
    const approved = await approve(n, rev2);
    await waitWatched(n, w, { phase: "Stable", activeColor: "green" });
    await waitServedBy(traffic, rev2, 20);
    // Rollback: the previous spec again; blue still runs it warm.
    await applyBgd(n, "app", { image: "app:v1", strategy });
    await waitWatched(n, w, { phase: "Stable", activeColor: "blue", activeImage: "app:v1" });
    await waitServedBy(traffic, rev1, 20);
    const records = traffic.records();
    const report = await traffic.stop();
    console.log(fmtReport("rollback", report));
    assertNoFailures(report, records);
    assert.deepEqual(
      report.switches.map((s) => [s.from, s.to]),
      [
        [rev1, rev2],
        [rev2, rev1],
      ],
    );
    assertNothingBeforeApproval(records, new Map([[rev2, approved]]), rev1);
  });

  it("an abort while awaiting promotion keeps every request on the live revision", async () => {
    const n = ns.abort;
    const strategy = { scaleDownDelaySeconds: 300, abortScaleDownDelaySeconds: 0 };
    const { rev1, traffic, w } = await stableV1(n, { strategy }, 120);
    await applyBgd(n, "app", { image: "app:v2", strategy });
    const waiting = await waitWatched(n, w, { phase: "AwaitingPromotion" });
    await kubectl([
      "annotate",
      "--overwrite",
      "-n",
      n,
      "bgd",
      "app",
      `bluegreen.io/abort=${waiting.previewRevision}`,
    ]);
    await waitWatched(n, w, { phase: "Aborted", activeColor: "blue" });
    await waitFor(n, "green scaled down", () => w.replicas("app-green") === 0);
    await waitServedBy(traffic, rev1, 40);
    const records = traffic.records();
    const report = await traffic.stop();
    console.log(fmtReport("abort", report));
    assertNoFailures(report, records);
    assert.deepEqual(report.revisions, [rev1], "only the live revision answered");
  });

  it("a release whose pods never become ready never takes a request", async () => {
    const n = ns.neverready;
    const strategy = {
      scaleDownDelaySeconds: 300,
      abortScaleDownDelaySeconds: 0,
      progressDeadlineSeconds: 5,
      promotion: { mode: "Auto", delaySeconds: 0 },
    };
    const { rev1, traffic, w } = await stableV1(n, { strategy }, 120);
    await applyBgd(n, "app", { image: "app:v2", strategy, neverReady: true });
    await waitWatched(n, w, { phase: "Aborted", activeColor: "blue" });
    await waitServedBy(traffic, rev1, 40);
    const records = traffic.records();
    const report = await traffic.stop();
    console.log(fmtReport("never ready", report));
    assertNoFailures(report, records);
    assert.deepEqual(report.revisions, [rev1], "only the live revision answered");
  });

  it("sessionAffinity ClientIP: a client stays on one pod of the live color, then lands on the new color", async () => {
    const n = ns.affinity;
    const strategy = { scaleDownDelaySeconds: 300 };
    const extraSpec = { service: { sessionAffinity: "ClientIP" } };
    const { rev1, traffic, w } = await stableV1(n, { strategy, extraSpec }, 120);
    await applyBgd(n, "app", { image: "app:v2", strategy, extraSpec });
    const waiting = await waitWatched(n, w, { phase: "AwaitingPromotion" });
    const rev2 = waiting.previewRevision ?? "";
    const approved = await approve(n, rev2);
    await waitWatched(n, w, { phase: "Stable", activeColor: "green" });
    await waitServedBy(traffic, rev2, 40);
    const records = traffic.records();
    const report = await traffic.stop();
    console.log(fmtReport("session affinity", report));
    assertNoFailures(report, records);
    assertNothingBeforeApproval(records, new Map([[rev2, approved]]), rev1);
    const podsOf = (rev: string) => new Set(records.filter((r) => r.revision === rev).map((r) => r.pod));
    // One client address (the namespace's only one): kube-proxy pins it to one pod per Service
    // backend set. Before the switch every v1 answer came from one pod, after it every v2 answer.
    assert.equal(podsOf(rev1).size, 1, `v1 answered from ${[...podsOf(rev1)].join(", ")}`);
    assert.equal(podsOf(rev2).size, 1, `v2 answered from ${[...podsOf(rev2)].join(", ")}`);
  });

  it("a post-switch failure of the new color sends traffic back to the warm color; the failed requests are counted", async () => {
    const n = ns.switchback;
    // A generous deadline while the preview comes up (on a busy machine 5 s can pass before it is
    // ready, and the rollout would be aborted before any switch); once v2 is live the deadline is
    // cut to 5 s (the strategy is not part of the revision), so it has passed when v2 breaks.
    const strategy = {
      progressDeadlineSeconds: 120,
      scaleDownDelaySeconds: 300,
      abortScaleDownDelaySeconds: 0,
    };
    const { rev1, traffic, w } = await stableV1(n, { strategy }, 120);
    await applyBgd(n, "app", { image: "app:v2", strategy });
    const waiting = await waitWatched(n, w, { phase: "AwaitingPromotion" });
    const rev2 = waiting.previewRevision ?? "";
    await approve(n, rev2);
    await waitWatched(n, w, { phase: "Stable", activeColor: "green" });
    await applyBgd(n, "app", { image: "app:v2", strategy: { ...strategy, progressDeadlineSeconds: 5 } });
    await waitServedBy(traffic, rev2, 20);
    // The new version breaks: every green pod answers 500 and fails its readiness probe (what a
    // kubelet would report), so requests fail until traffic is back on blue.
    const failedAt = Date.now();
    await kubectl([
      "annotate",
      "--overwrite",
      "-n",
      n,
      "pods",
      "-l",
      "bluegreen.io/color=green",
      "test.bluegreen.io/error-rate=1",
    ]);
    await failReadiness(n, "green");
    await waitWatched(n, w, { phase: "Aborted", activeColor: "blue" });
    await waitServedBy(traffic, rev1, 40);
    const records = traffic.records();
    const report = await traffic.stop();
    console.log(fmtReport("post-switch failure", report));
    const failed = records.filter((r) => r.outcome !== "ok");
    const back = records.find((r) => r.t > failedAt && r.outcome === "ok" && r.revision === rev1)?.t ?? 0;
    const firstFail = failed[0]?.t;
    console.log(
      `[traffic] post-switch failure: ${failed.length} failed requests ${JSON.stringify(report.failures)}` +
        (firstFail !== undefined
          ? `, from ${firstFail - failedAt} ms to ${(failed.at(-1)?.t ?? 0) - failedAt} ms after the pods went unready`
          : "") +
        `; v1 answering again ${back - failedAt} ms after`,
    );
    // The failures are contained: none seen before the pods failed, none sent once traffic was
    // back on v1.
    for (const f of failed) {
      assert.ok(f.t + f.ms >= failedAt, "no failure before the new color failed");
      assert.ok(f.t <= back, "no failure once traffic is back on the warm color");
    }
    assert.deepEqual(
      report.switches.map((s) => [s.from, s.to]),
      [
        [rev1, rev2],
        [rev2, rev1],
      ],
      "traffic went to v2 and back to v1",
    );
  });
});
