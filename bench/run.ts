/**
 * `make bench`: on a fresh local control plane, measures
 *  - promote → switch: from the kube-apiserver receiving the promote annotation request to it receiving the
 *    operator's write of the active Service selector, both read from the audit log (20 rollouts);
 *  - the switch as traffic sees it: under a steady load on the active Service's ClusterIP (through
 *    kube-proxy to podsim's pods, inside the cluster's network namespace), the time from the promote
 *    annotation to the first request answered by the new revision and to the last one answered by
 *    the old revision (p50/p99), and the requests that failed;
 *  - writes per no-op reconcile: API writes the operator makes when reconciles find nothing to do
 *    (after a restart, and after unrelated annotation changes), from the audit log.
 * Prints a table and writes bench/results/latest.json.
 */
import { execFileSync, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, openSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { bgdManifest } from "../test/e2e/bgd.ts";
import { binDir, startCluster } from "../test/harness/cluster.ts";
import { startTraffic } from "../test/harness/traffic.ts";
import { runBench } from "./common.ts";

const repo = resolve(import.meta.dirname, "..");
const ROLLOUTS = Number(process.env.BENCH_ROLLOUTS ?? 20);
const NOOP_TOUCHES = Number(process.env.BENCH_NOOP_TOUCHES ?? 20);
const RPS = Number(process.env.BENCH_RPS ?? 200);
const NS = "bench";

interface AuditEvent {
  stage: string;
  verb: string;
  user: { username: string };
  objectRef?: { resource?: string; namespace?: string; name?: string; subresource?: string };
  requestReceivedTimestamp: string;
  stageTimestamp: string;
}

const dir = mkdtempSync(join(tmpdir(), "bgo-bench-"));
const kubectl = join(binDir(), "kubectl");
let kubeconfig = "";
const k = (args: string[], input?: string) =>
  execFileSync(kubectl, ["--kubeconfig", kubeconfig, "-n", NS, ...args], { encoding: "utf8", input });
const status = () =>
  JSON.parse(k(["get", "bgd", "app", "-o", "jsonpath={.status}"]) || "{}") as {
    phase?: string;
    activeColor?: string;
    activeRevision?: string;
    previewRevision?: string;
  };

async function waitFor(what: string, ok: () => boolean, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

function audit(auditLog: string): AuditEvent[] {
  return readFileSync(auditLog, "utf8")
    .split("\n")
    .filter((l) => l.includes(`"${NS}"`))
    .map((l) => JSON.parse(l) as AuditEvent)
    .filter((e) => e.stage === "ResponseComplete" && e.objectRef?.namespace === NS);
}
const micros = (t: string) =>
  Date.parse(t) * 1000 + Number((t.match(/\.(\d+)Z$/)?.[1] ?? "0").padEnd(6, "0").slice(3, 6));
const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? Number.NaN;
};

function startOperator(opKubeconfig: string, name: string) {
  const log = openSync(join(dir, "logs", `operator-${name}.log`), "a");
  return spawn(
    process.execPath,
    [
      join(repo, "src/runtime/main.ts"),
      "--kubeconfig",
      opKubeconfig,
      "--namespace",
      NS,
      "--health-probe-bind-address",
      "",
      "--metrics-bind-address",
      "",
    ],
    {
      stdio: ["ignore", log, log],
    },
  );
}

async function main(): Promise<void> {
  const paths = await startCluster(dir, { log: (l) => console.log(`[bench] ${l}`) });
  kubeconfig = paths.kubeconfig;
  execFileSync(kubectl, [
    "--kubeconfig",
    kubeconfig,
    "apply",
    "--server-side",
    "-f",
    join(repo, "deploy/crd/"),
  ]);
  execFileSync(kubectl, ["--kubeconfig", kubeconfig, "wait", "--for=condition=Established", "crd", "--all"]);
  execFileSync(kubectl, ["--kubeconfig", kubeconfig, "create", "namespace", NS]);
  await sleep(1000);
  let operator = startOperator(paths.operatorKubeconfig, "1");
  const strategy = { scaleDownDelaySeconds: 0 };
  k(["apply", "-f", "-"], bgdManifest("app", { image: "app:v0", replicas: 3, strategy }));
  await waitFor("first deploy", () => status().phase === "Stable");

  const ip = k(["get", "service", "app", "-o", "jsonpath={.spec.clusterIP}"]).trim();
  const traffic = startTraffic(paths.netnsExec, { url: `http://${ip}/`, rps: RPS, seconds: 1800 });
  let liveRev = status().activeRevision ?? "";
  const servedBy = (rev: string, n: number) => {
    const last = traffic.records().slice(-n);
    return last.length === n && last.every((r) => r.outcome === "ok" && r.revision === rev);
  };
  await waitFor("traffic answered by v0", () => servedBy(liveRev, 50));
  const firstNewMs: number[] = [];
  const lastOldMs: number[] = [];

  const latencies: number[] = [];
  for (let i = 1; i <= ROLLOUTS; i++) {
    k(["apply", "-f", "-"], bgdManifest("app", { image: `app:v${i}`, replicas: 3, strategy }));
    await waitFor(`v${i} awaiting promotion`, () => status().phase === "AwaitingPromotion");
    const rev = status().previewRevision ?? "";
    const target = status().activeColor === "blue" ? "green" : "blue";
    const promotedAt = Date.now();
    k(["annotate", "bgd", "app", `bluegreen.io/promote=${rev}`, "--overwrite"]);
    await waitFor(`v${i} stable`, () => {
      const s = status();
      return s.phase === "Stable" && s.activeColor === target;
    });
    await waitFor(`traffic answered by v${i}`, () => servedBy(rev, 50));
    const records = traffic.records().filter((r) => r.t >= promotedAt - 5000);
    const firstNew = records.find((r) => r.outcome === "ok" && r.revision === rev)?.t ?? Number.NaN;
    const lastOld =
      records.filter((r) => r.outcome === "ok" && r.revision === liveRev).at(-1)?.t ?? promotedAt;
    firstNewMs.push(firstNew - promotedAt);
    lastOldMs.push(lastOld - promotedAt);
    liveRev = rev;
    await sleep(1200); // audit batches flush every 200 ms
    const events = audit(paths.auditLog);
    const promote = events
      .filter(
        (e) =>
          e.verb === "patch" &&
          e.objectRef?.resource === "bluegreendeployments" &&
          e.user.username === "admin",
      )
      .at(-1);
    const sw = events
      .filter(
        (e) =>
          e.verb === "patch" &&
          e.objectRef?.resource === "services" &&
          e.objectRef.name === "app" &&
          e.user.username === "bluegreen-operator",
      )
      .at(-1);
    if (promote === undefined || sw === undefined)
      throw new Error("audit log lacks the promote or the switch");
    const ms = (micros(sw.requestReceivedTimestamp) - micros(promote.requestReceivedTimestamp)) / 1000;
    latencies.push(ms);
    console.log(
      `[bench] rollout ${i}: promote → switch ${ms.toFixed(1)} ms; traffic: first v${i} answer +${firstNewMs.at(-1)} ms, last v${i - 1} answer +${lastOldMs.at(-1)} ms`,
    );
  }
  const report = await traffic.stop();

  // No-op reconciles: restart the operator (it reconciles everything from fresh caches), then
  // change an annotation nothing depends on, N times; every one of those reconciles must write nothing.
  await waitFor("old color scaled down", () =>
    k(["get", "deployments", "-o", "jsonpath={.items[*].spec.replicas}"]).split(" ").includes("0"),
  );
  await sleep(2000);
  operator.kill("SIGTERM");
  await new Promise((r) => operator.once("exit", r));
  const since = new Date();
  operator = startOperator(paths.operatorKubeconfig, "2");
  await waitFor("caches synced", () =>
    readFileSync(join(dir, "logs", "operator-2.log"), "utf8").includes("Caches synced"),
  );
  for (let i = 0; i < NOOP_TOUCHES; i++) {
    k(["annotate", "bgd", "app", `bench.example.com/touch=${i}`, "--overwrite"]);
    await sleep(100);
  }
  await sleep(2000);
  const after = audit(paths.auditLog).filter(
    (e) => e.user.username === "bluegreen-operator" && new Date(e.requestReceivedTimestamp) >= since,
  );
  const writes = after.filter((e) => !["get", "list", "watch"].includes(e.verb));
  const reconciles = 1 + NOOP_TOUCHES;
  operator.kill("SIGTERM");

  const result = {
    date: new Date().toISOString(),
    machine: { cpus: (await import("node:os")).cpus().length, node: process.version },
    promoteToSwitchMs: {
      n: latencies.length,
      median: pct(latencies, 50),
      p90: pct(latencies, 90),
      worst: Math.max(...latencies),
      best: Math.min(...latencies),
      samples: latencies,
    },
    switchAsTrafficSeesIt: {
      rps: RPS,
      rollouts: firstNewMs.length,
      promoteToFirstNewMs: { p50: pct(firstNewMs, 50), p99: pct(firstNewMs, 99), samples: firstNewMs },
      promoteToLastOldMs: { p50: pct(lastOldMs, 50), p99: pct(lastOldMs, 99), samples: lastOldMs },
      requests: report.requests,
      failed: report.failed,
      failures: report.failures,
    },
    noopReconcile: {
      reconciles,
      writes: writes.length,
      writesPerReconcile: writes.length / reconciles,
      requestsSeen: after.length,
    },
    reference: {
      argoRolloutsPromoteToSwitchMedianMs: 97,
      argoRolloutsWorstMs: 120,
      argoRolloutsWritesPerNoopReconcile: 1,
    },
  };
  mkdirSync(join(repo, "bench/results"), { recursive: true });
  writeFileSync(join(repo, "bench/results/latest.json"), `${JSON.stringify(result, null, 2)}\n`);
  console.log("\n| measure | bluegreen-operator | Argo Rollouts v1.10.2 (reference) |");
  console.log("|---|---|---|");
  console.log(
    `| promote → active Service switch, median of ${latencies.length} | ${result.promoteToSwitchMs.median.toFixed(1)} ms | 97 ms |`,
  );
  console.log(
    `| promote → active Service switch, worst of ${latencies.length} | ${result.promoteToSwitchMs.worst.toFixed(1)} ms | 120 ms |`,
  );
  const sw = result.switchAsTrafficSeesIt;
  console.log(
    `| promote → first request answered by the new revision, p50 / p99 (${RPS} req/s) | ${sw.promoteToFirstNewMs.p50} / ${sw.promoteToFirstNewMs.p99} ms | — |`,
  );
  console.log(
    `| promote → last request answered by the old revision, p50 / p99 | ${sw.promoteToLastOldMs.p50} / ${sw.promoteToLastOldMs.p99} ms | — |`,
  );
  console.log(`| failed requests (of ${sw.requests}) during ${sw.rollouts} rollouts | ${sw.failed} | — |`);
  console.log(
    `| API writes per no-op reconcile (${reconciles} reconciles) | ${result.noopReconcile.writesPerReconcile} | 1 |`,
  );
  console.log("\nwritten to bench/results/latest.json");
}

await runBench(dir, main);
