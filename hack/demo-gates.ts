/**
 * `make demo-gates`: the stage of `make demo` (demo-lib.ts) with a real Prometheus and a prePromotion
 * error-rate gate — the README's worked example, examples/gates/prometheus-error-rate.yaml, pointed at the
 * demo's Prometheus. Users' traffic goes to the active Service, a smaller load to the preview Service (what
 * gives the preview's pods counters for the gate to read). A good release (v2) passes the gate and is
 * promoted; a bad one (v3, its pods answering 30 % errors) is stopped by it: Aborted, the active Service never
 * leaves v2, and the users' load shows 0 failed requests and none answered by v3. Exits non-zero if any of
 * that does not hold; the cluster stays up (`make cluster-down`).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parse as parseYaml } from "yaml";
import {
  type Demo,
  kubectl,
  loadOn,
  printEnd,
  printTotals,
  repo,
  run,
  say,
  startDemo,
  step,
  stopDemo,
  watchUntil,
} from "./demo-lib.ts";

const NS = "demo-gates";
const NAME = "shop";
const EXAMPLE = "examples/gates/prometheus-error-rate.yaml";
const USERS_RPS = 40;
const PREVIEW_RPS = 20;

/** The example's prePromotion gate, asking the demo's Prometheus. */
function errorRateGate(prometheusUrl: string): unknown[] {
  const example = parseYaml(readFileSync(join(repo, EXAMPLE), "utf8")) as {
    spec: { gates: { prePromotion: { prometheus: { address: string } }[] } };
  };
  return example.spec.gates.prePromotion.map((c) => ({
    ...c,
    prometheus: { ...c.prometheus, address: prometheusUrl },
  }));
}

function bgd(prometheusUrl: string): string {
  return JSON.stringify({
    apiVersion: "bluegreen.io/v1",
    kind: "BlueGreenDeployment",
    metadata: { name: NAME },
    spec: {
      replicas: 3,
      selector: { matchLabels: { app: NAME } },
      template: {
        metadata: { labels: { app: NAME } },
        spec: { containers: [{ name: NAME, image: "shop/web:v1", ports: [{ containerPort: 8080 }] }] },
      },
      strategy: { promotion: { mode: "Auto", delaySeconds: 0 }, scaleDownDelaySeconds: 30 },
      gates: { prePromotion: errorRateGate(prometheusUrl) },
    },
  });
}

/** A new image (and pod labels): the idle color gets it, the gate judges it. */
function release(image: string, labels: Record<string, string> = {}): void {
  const pointer = (k: string) => k.replaceAll("~", "~0").replaceAll("/", "~1");
  kubectl([
    "patch",
    "bgd",
    NAME,
    "-n",
    NS,
    "--type",
    "json",
    "-p",
    JSON.stringify([
      { op: "replace", path: "/spec/template/spec/containers/0/image", value: image },
      ...Object.entries(labels).map(([k, v]) => ({
        op: "add",
        path: `/spec/template/metadata/labels/${pointer(k)}`,
        value: v,
      })),
    ]),
  ]);
}

async function main(): Promise<void> {
  const d: Demo = await startDemo(NS, NAME, true);
  try {
    const prom = await d.prometheus;
    if (prom === undefined) throw new Error("Prometheus did not start");
    step(`Prometheus (inside the cluster's network) scrapes every pod's request counters: ${prom.url}`);

    step(`Apply ${NAME} (v1) with the prePromotion error-rate gate of ${EXAMPLE}`);
    say(
      "gate: the preview's 5xx share over 30 s < 5 %, three measurements 10 s apart after 20 s, none may fail",
    );
    kubectl(["apply", "-n", NS, "-f", "-"], bgd(prom.url));
    const v1 = await watchUntil(d, "v1 Stable", (s) => s.phase === "Stable" && s.activeColor === "blue");
    d.revisionNames.set(v1.activeRevision ?? "", "v1");

    const users = await loadOn(d, NAME, USERS_RPS);
    const preview = await loadOn(d, `${NAME}-preview`, PREVIEW_RPS);
    step(
      `Traffic from inside the cluster's network: users ${USERS_RPS}/s to the active Service (http://${users.ip}/), ${PREVIEW_RPS}/s to the preview Service (http://${preview.ip}/)`,
    );
    d.traffic = users.traffic;

    step("A good release: v2 goes to green; the gate measures the preview's error rate, then promotes");
    release("shop/web:v2");
    const v2 = await watchUntil(
      d,
      "v2 promoted",
      (s) => s.phase === "Stable" && s.activeImage === "shop/web:v2",
      300_000,
    );
    d.revisionNames.set(v2.activeRevision ?? "", "v2");

    step("A bad release: v3's pods answer 30 % errors; the same gate stops it before any user sees it");
    release("shop/web:v3", { "test.bluegreen.io/error-rate": "0.3" });
    const aborted = await watchUntil(d, "v3 stopped", (s) => s.phase === "Aborted", 300_000);
    const rev3 = aborted.gates?.find((g) => g.name === "error-rate")?.revision ?? "";
    d.revisionNames.set(rev3, "v3");
    say("the users' load goes on for 5 s more, on v2");
    const more = Date.now() + 5000;
    await watchUntil(d, "5 s more", () => Date.now() >= more);

    const usersReport = await users.traffic.stop();
    d.traffic = undefined;
    const previewRecords = preview.traffic.records();
    await preview.traffic.stop();
    step("Users' traffic totals");
    printTotals(d, usersReport);
    const bad = previewRecords.filter((r) => r.revision === rev3);
    say(
      `the preview load meanwhile: ${bad.length} requests answered by v3, ${bad.filter((r) => r.status === 500).length} of them 500 (what the gate measured)`,
    );
    const problems = [
      ...(aborted.activeImage === "shop/web:v2"
        ? []
        : [`the active image is ${aborted.activeImage}, not v2`]),
      ...(usersReport.failed === 0 ? [] : [`${usersReport.failed} user requests failed`]),
      ...((usersReport.byRevision[rev3] ?? 0) === 0 ? [] : ["v3 answered user requests"]),
    ];
    if (problems.length > 0) throw new Error(problems.join("; "));
    say("v3 stopped by the gate; every user request answered, none by v3");
    await printEnd(d);
  } finally {
    await stopDemo(d);
  }
}

run(main, "demo-gates");
