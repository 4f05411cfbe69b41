/**
 * `make bench`: on a fresh local control plane, measures
 *  - promote → switch: from the kube-apiserver receiving the promote annotation request to it receiving the
 *    operator's write of the active Service selector, both read from the audit log (20 rollouts);
 *  - writes per no-op reconcile: API writes the operator makes when reconciles find nothing to do
 *    (after a restart, and after unrelated annotation changes), from the audit log.
 * Prints a table and writes bench/results/latest.json.
 */
import { execFileSync, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { bgdManifest } from "../test/e2e/bgd.ts";
import { binDir, startCluster, stopCluster } from "../test/harness/cluster.ts";

const repo = resolve(import.meta.dirname, "..");
const ROLLOUTS = Number(process.env.BENCH_ROLLOUTS ?? 20);
const NOOP_TOUCHES = Number(process.env.BENCH_NOOP_TOUCHES ?? 20);
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

  const latencies: number[] = [];
  for (let i = 1; i <= ROLLOUTS; i++) {
    k(["apply", "-f", "-"], bgdManifest("app", { image: `app:v${i}`, replicas: 3, strategy }));
    await waitFor(`v${i} awaiting promotion`, () => status().phase === "AwaitingPromotion");
    const rev = status().previewRevision ?? "";
    const target = status().activeColor === "blue" ? "green" : "blue";
    k(["annotate", "bgd", "app", `bluegreen.io/promote=${rev}`, "--overwrite"]);
    await waitFor(`v${i} stable`, () => {
      const s = status();
      return s.phase === "Stable" && s.activeColor === target;
    });
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
    console.log(`[bench] rollout ${i}: promote → switch ${ms.toFixed(1)} ms`);
  }

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
  console.log(
    `| API writes per no-op reconcile (${reconciles} reconciles) | ${result.noopReconcile.writesPerReconcile} | 1 |`,
  );
  console.log("\nwritten to bench/results/latest.json");
}

try {
  await main();
  await stopCluster(dir);
  rmSync(dir, { recursive: true, force: true });
} catch (err) {
  console.error(`bench failed: ${err instanceof Error ? err.message : String(err)} (logs in ${dir}/logs)`);
  await stopCluster(dir);
  process.exit(1);
}
