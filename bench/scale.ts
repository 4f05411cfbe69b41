/**
 * `make bench SIZE=1000`: the operator at scale, on a fresh local control plane (kwok Nodes sized for
 * the load, pods ready with no delay). N BGDs of 1 replica each are created while no operator runs; then
 *  - a freshly started operator: time to caches synced, then to every BGD Stable;
 *  - its RSS and V8 heap (from its own metrics) once the fleet is Stable;
 *  - the writes still made after every phase reads Stable (status of a large fleet may be queued);
 *  - a restart once the operator has made no write for 15 s: API writes the new process makes (Events included, from the
 *    kube-apiserver audit log), the time to its last write, its RSS and heap once idle.
 * The load average is recorded with every run: the machine may be shared, and the figures are bounded
 * by kube-apiserver, kcm, the scheduler and kwok creating pods as much as by the operator.
 * Prints a table and writes bench/results/scale-<N>.json.
 *
 * BGO_ENTRY=<path to main.ts or main.js> runs another build of the operator (e.g. a checkout of main).
 */
import { execFileSync, spawn } from "node:child_process";
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, readSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { bgdManifest } from "../test/e2e/bgd.ts";
import { binDir, freePort, startCluster } from "../test/harness/cluster.ts";
import { operatorEnv, runBench } from "./common.ts";

const repo = resolve(import.meta.dirname, "..");
const SIZE = Number(process.env.BENCH_SIZE ?? 100);
const ENTRY = process.env.BGO_ENTRY ?? join(repo, "src/runtime/main.ts");
const NS = "bench";
const PODS_PER_NODE = 3000;
/** Pods appear and become Ready at once: the figures measure the control plane and the operator. */
const NO_DELAY = {
  "pod-create.stage.kwok.x-k8s.io/delay": "0s",
  "pod-ready.stage.kwok.x-k8s.io/delay": "0s",
};

interface AuditEvent {
  stage: string;
  verb: string;
  user: { username: string };
  objectRef?: { namespace?: string; resource?: string; subresource?: string };
  requestReceivedTimestamp: string;
}

const dir = mkdtempSync(join(tmpdir(), "bgo-scale-"));
const kubectl = join(binDir(), "kubectl");
let kubeconfig = "";
const k = (args: string[], input?: string) =>
  execFileSync(kubectl, ["--kubeconfig", kubeconfig, ...args], {
    encoding: "utf8",
    input,
    maxBuffer: 256 << 20,
  });
const load = () => loadavg().map((l) => Number(l.toFixed(2)));

function manifest(i: number): string {
  const doc = JSON.parse(bgdManifest(`app-${i}`, { image: "app:v1", replicas: 1 })) as {
    spec: { template: { metadata: { annotations: Record<string, string> } } };
  };
  doc.spec.template.metadata.annotations = NO_DELAY;
  return JSON.stringify(doc);
}

interface Operator {
  readonly pid: number;
  readonly metricsPort: number;
  readonly log: string;
  stop(): Promise<void>;
}

async function startOperator(opKubeconfig: string, name: string): Promise<Operator> {
  const logPath = join(dir, "logs", `operator-${name}.log`);
  const log = openSync(logPath, "a");
  const metricsPort = await freePort();
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
    { stdio: ["ignore", log, log], env: operatorEnv() },
  );
  const exited = new Promise((r) => child.once("exit", r));
  return {
    pid: child.pid ?? 0,
    metricsPort,
    log: logPath,
    stop: async () => {
      child.kill("SIGTERM");
      await exited;
    },
  };
}

/** VmRSS of the process and the V8 heap in use, as its metrics report it. */
async function memory(op: Operator): Promise<{ rssMiB: number; heapUsedMiB: number; heapTotalMiB: number }> {
  const status = readFileSync(`/proc/${op.pid}/status`, "utf8");
  const rssKiB = Number(status.match(/VmRSS:\s+(\d+)/)?.[1] ?? Number.NaN);
  const text = await (await fetch(`http://127.0.0.1:${op.metricsPort}/metrics`)).text();
  const metric = (name: string) => Number(text.match(new RegExp(`^${name} (\\S+)`, "m"))?.[1] ?? Number.NaN);
  const mib = (b: number) => Number((b / 2 ** 20).toFixed(1));
  return {
    rssMiB: mib(rssKiB * 1024),
    heapUsedMiB: mib(metric("nodejs_heap_size_used_bytes")),
    heapTotalMiB: mib(metric("nodejs_heap_size_total_bytes")),
  };
}

function stableCount(): number {
  const phases = k(["get", "bgd", "-n", NS, "-o", "jsonpath={.items[*].status.phase}"]);
  return phases.split(" ").filter((p) => p === "Stable").length;
}

async function waitFor(what: string, ok: () => boolean, timeoutMs: number, everyMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(everyMs);
  }
}

const logSays = (op: Operator, s: string) => readFileSync(op.log, "utf8").includes(s);

const isOperatorWrite = (e: AuditEvent) =>
  e.stage === "ResponseComplete" &&
  e.user.username === "bluegreen-operator" &&
  !["get", "list", "watch"].includes(e.verb);

function operatorWrites(auditLog: string, since: number): AuditEvent[] {
  return readFileSync(auditLog, "utf8")
    .split("\n")
    .filter((l) => l.includes("bluegreen-operator"))
    .map((l) => JSON.parse(l) as AuditEvent)
    .filter((e) => isOperatorWrite(e) && Date.parse(e.requestReceivedTimestamp) >= since);
}

/**
 * Waits until the operator has made no write for `quietMs` (read from the audit log as it grows, so
 * a large log is not re-read), bounded by `maxMs`. "All Stable" is seen in the phases while status
 * writes of a large fleet may still be queued; a restart before they are done would count the first
 * process's leftovers as the second's writes. Returns the writes seen and when the last one was.
 */
async function waitQuiet(auditLog: string, since: number, quietMs: number, maxMs: number) {
  const fd = openSync(auditLog, "r");
  let offset = 0;
  let rest = "";
  let writes = 0;
  let last = since;
  const started = Date.now();
  try {
    for (;;) {
      const buf = Buffer.alloc(8 << 20);
      for (;;) {
        const n = readSync(fd, buf, 0, buf.length, offset);
        if (n === 0) break;
        offset += n;
        const lines = (rest + buf.subarray(0, n).toString("utf8")).split("\n");
        rest = lines.pop() ?? "";
        for (const l of lines) {
          if (!l.includes("bluegreen-operator")) continue;
          const e = JSON.parse(l) as AuditEvent;
          const at = Date.parse(e.requestReceivedTimestamp);
          if (isOperatorWrite(e) && at >= since) {
            writes++;
            last = Math.max(last, at);
          }
        }
      }
      if (Date.now() - last >= quietMs || Date.now() - started >= maxMs)
        return { writes, lastWriteS: (last - since) / 1000, quiet: Date.now() - last >= quietMs };
      await sleep(2000);
    }
  } finally {
    closeSync(fd);
  }
}

function countBy<T>(xs: readonly T[], key: (x: T) => string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const x of xs) out[key(x)] = (out[key(x)] ?? 0) + 1;
  return out;
}

async function main(): Promise<void> {
  const loadAtStart = load();
  const nodes = Math.max(3, Math.ceil((SIZE * 2) / PODS_PER_NODE));
  const paths = await startCluster(dir, { nodes, log: (l) => console.log(`[bench] ${l}`) });
  kubeconfig = paths.kubeconfig;
  k(["apply", "--server-side", "-f", join(repo, "deploy/crd/")]);
  k(["wait", "--for=condition=Established", "crd", "--all"]);
  k(["create", "namespace", NS]);
  for (let i = 0; i < SIZE; i += 200) {
    const docs = [];
    for (let j = i; j < Math.min(SIZE, i + 200); j++) docs.push(manifest(j));
    k(
      ["apply", "-n", NS, "-f", "-"],
      JSON.stringify({ apiVersion: "v1", kind: "List", items: docs.map((d) => JSON.parse(d)) }),
    );
  }
  console.log(`[bench] ${SIZE} BGDs created; starting the operator (load ${load().join(" ")})`);

  const t0 = Date.now();
  let op = await startOperator(paths.operatorKubeconfig, "1");
  await waitFor("caches synced", () => logSays(op, "Caches synced"), 600_000, 200);
  const syncedS = (Date.now() - t0) / 1000;
  await waitFor(`${SIZE} BGDs Stable`, () => stableCount() === SIZE, 3_600_000);
  const convergedAt = Date.now();
  const convergedS = (convergedAt - t0) / 1000;
  const loadAtConverged = load();
  await sleep(5000);
  const memConverged = await memory(op);
  console.log(`[bench] all Stable after ${convergedS.toFixed(1)} s; ${JSON.stringify(memConverged)}`);

  // Before the restart: the first process's queued writes done (no write for 15 s).
  const settle = await waitQuiet(paths.auditLog, convergedAt, 15_000, 600_000);
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
  const writes = operatorWrites(paths.auditLog, since);
  const lastWriteS =
    writes.length === 0
      ? 0
      : (Math.max(...writes.map((w) => Date.parse(w.requestReceivedTimestamp))) - since) / 1000;
  const memRestarted = await memory(op);
  const loadAtEnd = load();
  await op.stop();

  const result = {
    date: new Date().toISOString(),
    size: SIZE,
    operator: ENTRY,
    machine: { cpus: cpus().length, node: process.version },
    controlPlane: { kwokNodes: nodes, podsPerNode: PODS_PER_NODE, podReadyDelay: "0s" },
    loadAverage: { start: loadAtStart, converged: loadAtConverged, end: loadAtEnd },
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
      writesBy: countBy(writes, (w) => {
        const r = w.objectRef;
        return `${w.verb} ${r?.resource ?? "?"}${r?.subresource !== undefined ? `/${r.subresource}` : ""}`;
      }),
      lastWriteS,
      ...memRestarted,
    },
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
  console.log(
    `| restart: writes (Events included); last write | ${writes.length}; ${lastWriteS.toFixed(1)} s |`,
  );
  console.log(`| restart: writes by verb and resource | ${JSON.stringify(result.restart.writesBy)} |`);
  console.log(
    `| RSS / heap used after restart | ${memRestarted.rssMiB} MiB / ${memRestarted.heapUsedMiB} MiB |`,
  );
  console.log(
    `| load average (start / converged / end) | ${loadAtStart[0]} / ${loadAtConverged[0]} / ${loadAtEnd[0]} |`,
  );
  console.log(`\nwritten to ${out}`);
}

await runBench(dir, main);
