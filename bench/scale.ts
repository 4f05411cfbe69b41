/**
 * `make bench SIZE=1000`: the operator at scale, on a fresh local control plane (kwok Nodes sized for
 * the load, pods ready with no delay). N BGDs of 1 replica each are created while no operator runs; then
 *  - a freshly started operator: time to caches synced, then to every BGD Stable;
 *  - its RSS and V8 heap (from its own metrics) once the fleet is Stable;
 *  - the writes still made after every phase reads Stable (status of a large fleet may be queued);
 *  - a restart once the operator has made no write for 15 s: API writes the new process makes (Events included, from the
 *    kube-apiserver audit log), the time to its last write, its RSS and heap once idle;
 *  - then a fleet-wide change: every BGD to a new image, promoted automatically (bench/fleet-change.ts):
 *    time to all Stable again, requests per rollout by verb, the work queue's depth and wait over time.
 * The load average is recorded with every run: the machine may be shared, and the figures are bounded
 * by kube-apiserver, kcm, the scheduler and kwok creating pods as much as by the operator.
 * Prints a table and writes bench/results/scale-<N>.json.
 *
 * BENCH_CHANGE=0 stops after the restart (no fleet-wide change): at 10,000 that change alone is most of
 * an hour on two cores. The fleet's phases are read every SIZE × 2 ms (at least 2 s), with progress
 * (Stable count, RSS) logged every minute: a list of 10,000 BGDs every 2 s would load the API server
 * the benchmark measures.
 * BGO_ENTRY=<path to main.ts or main.js> runs another build of the operator (e.g. a checkout of main).
 * BENCH_HEAP=1 adds the heap after a forced full GC and V8's heap spaces (through an inspector on
 * loopback); the difference between two sizes is what each BGD costs (the informer caches' share).
 */
import { execFileSync, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, openSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { bgdManifest } from "../test/e2e/bgd.ts";
import { binDir, freePort, startCluster } from "../test/harness/cluster.ts";
import {
  applyMany,
  auditOf,
  countBy,
  cpuSeconds,
  heapAfterGc,
  isWriteBy,
  loadAverage,
  NO_DELAY,
  operatorEnv,
  rssMiB,
  runBench,
  verbAndResource,
  waitFor,
  waitQuiet,
} from "./common.ts";
import { fleetChange } from "./fleet-change.ts";

const repo = resolve(import.meta.dirname, "..");
const SIZE = Number(process.env.BENCH_SIZE ?? 100);
const ENTRY = process.env.BGO_ENTRY ?? join(repo, "src/runtime/main.ts");
const CHANGE = process.env.BENCH_CHANGE !== "0";
const POLL_MS = Math.max(2000, SIZE * 2);
const NS = "bench";
/** BENCH_HEAP=1: the operator runs with an inspector on loopback, to read its heap after a forced GC. */
const HEAP = process.env.BENCH_HEAP === "1";
/** The operator's identity in the audit log (the cluster's operator certificate). */
const USER = "bluegreen-operator";
const PODS_PER_NODE = 3000;
const dir = mkdtempSync(join(tmpdir(), "bgo-scale-"));
const kubectl = join(binDir(), "kubectl");
let kubeconfig = "";
const k = (args: string[], input?: string) =>
  execFileSync(kubectl, ["--kubeconfig", kubeconfig, ...args], {
    encoding: "utf8",
    input,
    maxBuffer: 256 << 20,
  });
const load = loadAverage;

/** Automatic promotion with no delay, so the fleet-wide change goes through without approvals. */
function manifest(i: number, image: string): string {
  const strategy = { promotion: { mode: "Auto" } };
  const doc = JSON.parse(bgdManifest(`app-${i}`, { image, replicas: 1, strategy })) as {
    spec: { template: { metadata: { annotations: Record<string, string> } } };
  };
  doc.spec.template.metadata.annotations = NO_DELAY;
  return JSON.stringify(doc);
}

interface Operator {
  readonly pid: number;
  readonly metricsPort: number;
  /** The inspector's port with BENCH_HEAP=1 (heap after a forced GC), else 0. */
  readonly inspectPort: number;
  readonly log: string;
  stop(): Promise<void>;
}

async function startOperator(opKubeconfig: string, name: string): Promise<Operator> {
  const logPath = join(dir, "logs", `operator-${name}.log`);
  const log = openSync(logPath, "a");
  const metricsPort = await freePort();
  const inspectPort = HEAP ? await freePort() : 0;
  const env = operatorEnv();
  if (HEAP) env.NODE_OPTIONS = `${env.NODE_OPTIONS ?? ""} --inspect=127.0.0.1:${inspectPort}`;
  const child = spawn(
    process.execPath,
    [
      ENTRY,
      "--kubeconfig",
      opKubeconfig,
      "--namespace",
      NS,
      "--health-probe-bind-address",
      "",
      "--metrics-bind-address",
      `127.0.0.1:${metricsPort}`,
    ],
    { stdio: ["ignore", log, log], env },
  );
  const exited = new Promise((r) => child.once("exit", r));
  return {
    pid: child.pid ?? 0,
    metricsPort,
    inspectPort,
    log: logPath,
    stop: async () => {
      child.kill("SIGTERM");
      await exited;
    },
  };
}

/**
 * VmRSS of the process and the V8 heap in use, as its metrics report it; with BENCH_HEAP=1 then the
 * heap after a forced full GC (read last: the collection changes the RSS).
 */
async function memory(op: Operator) {
  const status = readFileSync(`/proc/${op.pid}/status`, "utf8");
  const rssKiB = Number(status.match(/VmRSS:\s+(\d+)/)?.[1] ?? Number.NaN);
  const text = await (await fetch(`http://127.0.0.1:${op.metricsPort}/metrics`)).text();
  const metric = (name: string) => Number(text.match(new RegExp(`^${name} (\\S+)`, "m"))?.[1] ?? Number.NaN);
  const mib = (b: number) => Number((b / 2 ** 20).toFixed(1));
  return {
    rssMiB: mib(rssKiB * 1024),
    heapUsedMiB: mib(metric("nodejs_heap_size_used_bytes")),
    heapTotalMiB: mib(metric("nodejs_heap_size_total_bytes")),
    ...(HEAP ? { afterGc: await heapAfterGc(op.inspectPort) } : {}),
  };
}

function stableCount(): number {
  const phases = k(["get", "bgd", "-n", NS, "-o", "jsonpath={.items[*].status.phase}"]);
  return phases.split(" ").filter((p) => p === "Stable").length;
}

/** The N BGDs with this image (server-side, in parallel batches). */
async function applyFleet(image: string): Promise<void> {
  const items = Array.from({ length: SIZE }, (_, i) => JSON.parse(manifest(i, image)) as unknown);
  await applyMany(kubectl, kubeconfig, NS, items);
}

const logSays = (op: Operator, s: string) => readFileSync(op.log, "utf8").includes(s);

async function main(): Promise<void> {
  const loadAtStart = load();
  const nodes = Math.max(3, Math.ceil((SIZE * 2) / PODS_PER_NODE));
  const paths = await startCluster(dir, { nodes, log: (l) => console.log(`[bench] ${l}`) });
  kubeconfig = paths.kubeconfig;
  k(["apply", "--server-side", "-f", join(repo, "deploy/crd/")]);
  k(["wait", "--for=condition=Established", "crd", "--all"]);
  k(["create", "namespace", NS]);
  await applyFleet("app:v1");
  console.log(`[bench] ${SIZE} BGDs created; starting the operator (load ${load().join(" ")})`);

  const t0 = Date.now();
  let op = await startOperator(paths.operatorKubeconfig, "1");
  await waitFor("caches synced", () => logSays(op, "Caches synced"), 600_000, 200);
  const syncedS = (Date.now() - t0) / 1000;
  let loggedAt = Date.now();
  await waitFor(
    `${SIZE} BGDs Stable`,
    () => {
      const n = stableCount();
      if (n < SIZE && Date.now() - loggedAt >= 60_000) {
        loggedAt = Date.now();
        console.log(
          `[bench] ${n}/${SIZE} Stable after ${((loggedAt - t0) / 1000).toFixed(0)} s; RSS ${rssMiB(op.pid)} MiB`,
        );
      }
      return n === SIZE;
    },
    3_600_000,
    POLL_MS,
  );
  const convergedAt = Date.now();
  const convergedS = (convergedAt - t0) / 1000;
  const loadAtConverged = load();
  await sleep(5000);
  const memConverged = await memory(op);
  console.log(`[bench] all Stable after ${convergedS.toFixed(1)} s; ${JSON.stringify(memConverged)}`);

  // Before the restart: the first process's queued writes done (no write for 15 s).
  const settle = await waitQuiet(paths.auditLog, USER, convergedAt, 15_000, 600_000);
  console.log(
    `[bench] after all Stable: ${settle.writes} more writes, the last ${settle.lastWriteS.toFixed(1)} s later` +
      (settle.quiet ? "" : " (still writing after 600 s)"),
  );
  await op.stop();
  const since = Date.now();
  op = await startOperator(paths.operatorKubeconfig, "2");
  await waitFor("caches synced after restart", () => logSays(op, "Caches synced"), 600_000, 200);
  const restartSyncedS = (Date.now() - since) / 1000;
  // Every BGD is reconciled once from the fresh caches; wait for the queue to empty, then a margin.
  await sleep(Math.max(15_000, SIZE * 15));
  await sleep(1500); // the audit log is flushed in batches
  const writes = auditOf(paths.auditLog, USER).filter(
    (e) => isWriteBy(USER)(e) && Date.parse(e.requestReceivedTimestamp) >= since,
  );
  const lastWriteS =
    writes.length === 0
      ? 0
      : (Math.max(...writes.map((w) => Date.parse(w.requestReceivedTimestamp))) - since) / 1000;
  const memRestarted = await memory(op);
  const loadAtChange = load();
  console.log(`[bench] restart: ${writes.length} writes; ${JSON.stringify(memRestarted)}`);
  if (!CHANGE) {
    const cpuS = cpuSeconds(op.pid);
    await op.stop();
    report({ change: undefined, memChanged: undefined, cpuS, loadAtEnd: load() });
    return;
  }
  const change = await fleetChange({
    size: SIZE,
    apply: applyFleet,
    phases: () =>
      k([
        "get",
        "bgd",
        "-n",
        NS,
        "-o",
        'jsonpath={range .items[*]}{.status.phase} {.status.activeColor}{"\\n"}{end}',
      ])
        .split("\n")
        .filter((l) => l !== ""),
    metricsPort: op.metricsPort,
    auditLog: paths.auditLog,
    user: USER,
    log: (l) => console.log(`[bench] ${l}`),
  });
  const memChanged = await memory(op);
  const cpuS = cpuSeconds(op.pid);
  const loadAtEnd = load();
  await op.stop();
  report({ change, memChanged, cpuS, loadAtEnd });

  function report({
    change,
    memChanged,
    cpuS,
    loadAtEnd,
  }: {
    change: Awaited<ReturnType<typeof fleetChange>> | undefined;
    memChanged: Awaited<ReturnType<typeof memory>> | undefined;
    cpuS: number;
    loadAtEnd: number[];
  }) {
    const result = {
      date: new Date().toISOString(),
      size: SIZE,
      operator: ENTRY,
      machine: { cpus: cpus().length, node: process.version },
      controlPlane: { kwokNodes: nodes, podsPerNode: PODS_PER_NODE, podReadyDelay: "0s" },
      loadAverage: { start: loadAtStart, converged: loadAtConverged, change: loadAtChange, end: loadAtEnd },
      freshStart: {
        cachesSyncedS: syncedS,
        allStableS: convergedS,
        writesAfterAllStable: settle.writes,
        lastWriteAfterAllStableS: settle.lastWriteS,
        ...memConverged,
      },
      restart: {
        cachesSyncedS: restartSyncedS,
        writes: writes.length,
        writesBy: countBy(writes, verbAndResource),
        lastWriteS,
        ...memRestarted,
      },
      fleetChange:
        change === undefined
          ? { skipped: "BENCH_CHANGE=0", cpuSecondsOfSecondProcess: cpuS }
          : { ...change, ...memChanged, cpuSecondsOfSecondProcess: cpuS },
    };
    mkdirSync(join(repo, "bench/results"), { recursive: true });
    const out = join(repo, `bench/results/scale-${SIZE}.json`);
    writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`);
    console.log(`\n| figure (${SIZE} BGDs, 1 replica) | bluegreen-operator |`);
    console.log("|---|---|");
    console.log(`| fresh operator → caches synced | ${syncedS.toFixed(1)} s |`);
    console.log(`| fresh operator → all Stable | ${convergedS.toFixed(1)} s |`);
    console.log(
      `| writes after all Stable; the last | ${settle.writes}; ${settle.lastWriteS.toFixed(1)} s later |`,
    );
    console.log(
      `| RSS / heap used, fleet Stable | ${memConverged.rssMiB} MiB / ${memConverged.heapUsedMiB} MiB |`,
    );
    if (memConverged.afterGc !== undefined && memRestarted.afterGc !== undefined) {
      const g = (m: typeof memConverged.afterGc) =>
        `${m?.heapUsedMiB} MiB (old space ${m?.spacesMiB.old_space}, code ${m?.spacesMiB.code_space}); external ${m?.externalMiB} MiB`;
      console.log(`| heap after a forced GC, fleet Stable | ${g(memConverged.afterGc)} |`);
      console.log(`| heap after a forced GC, after restart | ${g(memRestarted.afterGc)} |`);
    }
    console.log(
      `| restart: writes (Events included); last write | ${writes.length}; ${lastWriteS.toFixed(1)} s |`,
    );
    console.log(`| restart: writes by verb and resource | ${JSON.stringify(result.restart.writesBy)} |`);
    console.log(
      `| RSS / heap used after restart | ${memRestarted.rssMiB} MiB / ${memRestarted.heapUsedMiB} MiB |`,
    );
    if (change !== undefined && memChanged !== undefined) {
      console.log(
        `| fleet-wide new image (auto promotion) → all Stable on ${change.to} | ${change.allStableS.toFixed(1)} s (the apply ${change.appliedS.toFixed(1)} s; after it ${change.afterApplyS.toFixed(1)} s) |`,
      );
      console.log(
        `| fleet-wide change: operator requests per rollout | ${change.requestsPerRollout} ${JSON.stringify(change.requestsPerRolloutBy)} |`,
      );
      console.log(
        `| fleet-wide change: work queue max depth; mean wait; reconciles | ${change.queue.maxDepth}; ${change.queue.meanWaitMs} ms; ${change.queue.reconciles} |`,
      );
      console.log(
        `| RSS / heap used after the change; CPU s of that process | ${memChanged.rssMiB} MiB / ${memChanged.heapUsedMiB} MiB; ${cpuS.toFixed(1)} |`,
      );
    } else
      console.log(
        `| fleet-wide change | not run (BENCH_CHANGE=0); CPU s of the restarted process ${cpuS.toFixed(1)} |`,
      );
    console.log(
      `| load average (start / converged / change / end) | ${loadAtStart[0]} / ${loadAtConverged[0]} / ${loadAtChange[0]} / ${loadAtEnd[0]} |`,
    );
    console.log(`\nwritten to ${out}`);
  }
}

await runBench(dir, main);
