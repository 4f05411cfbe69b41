/**
 * The operator killed (SIGKILL: no cleanup) at each phase of a rollout, under load, and started
 * again (SCENARIOS 27): traffic sees nothing — no failed request, no revision answering before its
 * approval — and every rollout completes. Each of KILLS consecutive releases is interrupted at
 * every phase in turn: Progressing, preview ready, AwaitingPromotion, Promoting, right after the
 * switch. The kill while the old color waits for its scale-down has releases of its own (in a
 * second namespace, at the same time): a kill right after the switch can lose the scale-down
 * deadline, and the restarted operator then gives the retired color the whole delay again from
 * then, so in one namespace the two kills would land on one wait. Pods take about a second to become ready so every phase lasts long enough to be caught.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { deleteNamespace, kubectl, newNamespace } from "./lib.ts";
import { type OperatorProcess, startOperator } from "./operator.ts";
import {
  assertNoFailures,
  assertNothingBeforeApproval,
  fmtReport,
  loadOn,
  waitFor,
  waitServedBy,
  watchNamespace,
} from "./traffic-lib.ts";

const KILLS = Number(process.env.BGO_KILLS_PER_PHASE ?? "4");
const RPS = 30;
const PHASES = [
  "Progressing",
  "preview ready",
  "AwaitingPromotion",
  "Promoting",
  "switched",
  "scale-down pending",
] as const;

type Phase = (typeof PHASES)[number];
const GROUPS: Record<string, readonly Phase[]> = {
  rollout: ["Progressing", "preview ready", "AwaitingPromotion", "Promoting", "switched"],
  scaledown: ["scale-down pending"],
};
const namespaces: Record<string, string> = {};
const operators: Record<string, OperatorProcess | undefined> = {};

before(async () => {
  for (const g of Object.keys(GROUPS)) namespaces[g] = await newNamespace(`kill9-${g}`);
});
after(async () => {
  await Promise.all(Object.values(operators).map((o) => o?.stop()));
  await Promise.all(Object.values(namespaces).map((n) => deleteNamespace(n)));
});

/** Pods that take ~1-1.5 s to become ready: each phase of a rollout lasts long enough to be caught. */
function manifest(image: string, scaleDownDelaySeconds: number): string {
  return JSON.stringify({
    apiVersion: "bluegreen.io/v1",
    kind: "BlueGreenDeployment",
    metadata: { name: "app" },
    spec: {
      replicas: 3,
      selector: { matchLabels: { app: "app" } },
      preview: { replicas: 1 },
      strategy: { scaleDownDelaySeconds },
      template: {
        metadata: {
          labels: { app: "app" },
          annotations: {
            "pod-create.stage.kwok.x-k8s.io/delay": "200ms",
            "pod-ready.stage.kwok.x-k8s.io/delay": "1000ms",
            "pod-ready.stage.kwok.x-k8s.io/jitter-delay": "500ms",
            "pod-delete.stage.kwok.x-k8s.io/delay": "100ms",
          },
        },
        spec: {
          terminationGracePeriodSeconds: 1,
          containers: [{ name: "app", image, ports: [{ containerPort: 8080 }] }],
        },
      },
    },
  });
}

describe("kill -9 of the operator under load", { concurrency: true }, () => {
  // A release with five restarts takes about a minute on a busy 2-core machine (the suite's default is 300 s).
  for (const [group, phases] of Object.entries(GROUPS))
    it(`killed at ${phases.join(", ")} in each of ${KILLS} releases: no failed request, every rollout completes`, {
      timeout: 120_000 + KILLS * 90_000,
    }, async () => {
      const n = namespaces[group] ?? "";
      // The scale-down group needs the old color still warm when the watch sees Stable and the
      // kill lands: 3 s can pass before that on a busy machine, so that group waits 10 s.
      const delay = group === "scaledown" ? 10 : 3;
      operators[group] = await startOperator({ namespaces: [n], name: `kill9-${group}` });
      const kills = new Map<string, number>(phases.map((p) => [p, 0]));
      // Kills only at this group's phases; the others pass undisturbed.
      const kill = async (phase: Phase) => {
        if (!phases.includes(phase)) return;
        await operators[group]?.kill();
        kills.set(phase, (kills.get(phase) ?? 0) + 1);
        operators[group] = await startOperator({ namespaces: [n], name: `kill9-${group}` });
      };
      const w = await watchNamespace(n);
      await kubectl(["apply", "-n", n, "-f", "-"], manifest("app:v1", delay));
      await waitFor(n, "v1 Stable", () => w.status().phase === "Stable" && w.status().activeColor === "blue");
      const rev1 = w.status().activeRevision ?? "";
      const traffic = await loadOn(n, "app", { rps: RPS, seconds: 900 });
      await waitServedBy(traffic, rev1, 20);
      const approvedAt = new Map<string, number>();
      for (let v = 2; v <= KILLS + 1; v++) {
        const live = w.status().activeColor ?? "blue";
        const idle = live === "blue" ? "green" : "blue";
        await kubectl(["apply", "-n", n, "-f", "-"], manifest(`app:v${v}`, delay));
        await waitFor(n, `v${v} Progressing`, () => w.status().phase === "Progressing");
        await kill("Progressing");
        await waitFor(n, `v${v} preview on the new color`, () => w.selector("app-preview") === idle);
        await kill("preview ready");
        await waitFor(n, `v${v} AwaitingPromotion`, () => w.status().phase === "AwaitingPromotion");
        const rev = w.status().previewRevision ?? "";
        await kill("AwaitingPromotion");
        approvedAt.set(rev, Date.now());
        await kubectl(["annotate", "--overwrite", "-n", n, "bgd", "app", `bluegreen.io/promote=${rev}`]);
        await waitFor(n, `v${v} Promoting`, () => w.status().phase === "Promoting");
        await kill("Promoting");
        await waitFor(n, `v${v} active Service on the new color`, () => w.selector("app") === idle);
        await kill("switched");
        await waitFor(
          n,
          `v${v} Stable`,
          () => w.status().phase === "Stable" && w.status().activeImage === `app:v${v}`,
        );
        // Stable, the old color still warm (its scale-down delay running): killed before it is scaled down.
        if ((w.replicas(`app-${live}`) ?? 0) > 0) await kill("scale-down pending");
        await waitFor(n, `v${v} old color scaled down`, () => w.replicas(`app-${live}`) === 0);
        await waitServedBy(traffic, rev, 20);
        await sleep(200);
      }
      w.stop();
      const records = traffic.records();
      const report = await traffic.stop();
      const summary = [...kills].map(([p, k]) => `${p} ×${k}`).join(", ");
      console.log(fmtReport(`kill -9 ${group} (${summary})`, report));
      assert.deepEqual(
        [...kills.values()],
        phases.map(() => KILLS),
        `the operator was killed at every phase of every release: ${summary}`,
      );
      assertNoFailures(report, records);
      assert.equal(
        report.revisions.length,
        KILLS + 1,
        `every release served traffic: ${report.revisions.join(" ")}`,
      );
      assertNothingBeforeApproval(records, approvedAt, rev1);
    });
});
