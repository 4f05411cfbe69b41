/**
 * What the benchmarks share. The Node.js options and malloc settings the operator ships with, read from
 * its Deployment manifest (deploy/operator/deployment.yaml: the chart's default is the same, checked by
 * the manifests test), so the benchmarks measure the process as it runs in a cluster. NODE_OPTIONS,
 * MALLOC_ARENA_MAX or MALLOC_MMAP_THRESHOLD_ set by the caller win (to compare other settings).
 */
import { execFile } from "node:child_process";
import { closeSync, openSync, readFileSync, readSync, rmSync } from "node:fs";
import { loadavg } from "node:os";
import { join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { parseAllDocuments } from "yaml";
import { stopCluster } from "../test/harness/cluster.ts";

interface Container {
  env?: { name: string; value?: string }[];
}

/**
 * Applies `items` in namespace `ns`: server-side, 200 objects per `kubectl apply`, five applies at once
 * (one request per object; client-side applies of 1,000 objects one after another took over 200 s on a
 * loaded 2-core machine, and would be most of any "apply → all stable" figure).
 */
export async function applyMany(
  kubectl: string,
  kubeconfig: string,
  ns: string,
  items: readonly unknown[],
): Promise<void> {
  const lists: string[] = [];
  for (let i = 0; i < items.length; i += 200)
    lists.push(JSON.stringify({ apiVersion: "v1", kind: "List", items: items.slice(i, i + 200) }));
  const apply = (input: string) =>
    new Promise<void>((res, rej) => {
      const child = execFile(
        kubectl,
        ["--kubeconfig", kubeconfig, "apply", "--server-side", "--force-conflicts", "-n", ns, "-f", "-"],
        { maxBuffer: 64 << 20 },
        (err, _out, stderr) =>
          err === null ? res() : rej(new Error(`kubectl apply: ${stderr || err.message}`)),
      );
      child.stdin?.end(input);
    });
  for (let i = 0; i < lists.length; i += 5) await Promise.all(lists.slice(i, i + 5).map(apply));
}

/** The runtime settings the operator's container sets (NODE_OPTIONS, glibc's malloc settings), from its manifest. */
export function shippedRuntimeEnv(): Record<string, string> {
  const file = join(resolve(import.meta.dirname, ".."), "deploy/operator/deployment.yaml");
  for (const doc of parseAllDocuments(readFileSync(file, "utf8"))) {
    const o = doc.toJS() as { kind?: string; spec?: { template?: { spec?: { containers?: Container[] } } } };
    if (o?.kind !== "Deployment") continue;
    const env = o.spec?.template?.spec?.containers?.[0]?.env ?? [];
    const out: Record<string, string> = {};
    for (const name of ["NODE_OPTIONS", "MALLOC_ARENA_MAX", "MALLOC_MMAP_THRESHOLD_"]) {
      const v = env.find((e) => e.name === name)?.value;
      if (v === undefined) throw new Error(`no ${name} in ${file}`);
      out[name] = v;
    }
    return out;
  }
  throw new Error(`no Deployment in ${file}`);
}

/** The environment to start the operator with in a benchmark: the caller's settings win. */
export function operatorEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...shippedRuntimeEnv(), ...process.env };
  // BENCH_CPU_PROF=<dir>: each operator process writes a V8 CPU profile there when it exits.
  const prof = process.env.BENCH_CPU_PROF;
  if (prof !== undefined && prof !== "")
    env.NODE_OPTIONS = `${env.NODE_OPTIONS ?? ""} --cpu-prof --cpu-prof-dir=${prof}`;
  return env;
}

/**
 * Runs a benchmark on the control plane it starts in `dir`, and stops that control plane however it
 * ends; the logs stay in `dir` when it fails.
 */
export async function runBench(dir: string, main: () => Promise<void>): Promise<void> {
  try {
    await main();
    await stopCluster(dir);
    // BENCH_KEEP=1 keeps the run's logs (audit log, operator logs) to read afterwards.
    if (process.env.BENCH_KEEP === "1") console.log(`[bench] logs kept in ${dir}/logs`);
    else rmSync(dir, { recursive: true, force: true });
  } catch (err) {
    console.error(`bench failed: ${err instanceof Error ? err.message : String(err)} (logs in ${dir}/logs)`);
    await stopCluster(dir);
    process.exit(1);
  }
}

/** One line of the kube-apiserver audit log (Metadata level), the fields the benchmarks read. */
export interface AuditEvent {
  readonly stage: string;
  readonly verb: string;
  readonly user: { readonly username: string };
  readonly objectRef?: {
    readonly namespace?: string;
    readonly resource?: string;
    readonly subresource?: string;
    readonly name?: string;
  };
  readonly requestReceivedTimestamp: string;
}

const READS = new Set(["get", "list", "watch"]);

/** A completed request of `user` that changes something (Events included). */
export const isWriteBy = (user: string) => (e: AuditEvent) =>
  e.stage === "ResponseComplete" && e.user.username === user && !READS.has(e.verb);

/**
 * Reads the audit log from where the last call stopped to its current end, in 8 MiB chunks (at 10,000
 * BGDs the log passes 400 MB, near V8's longest string), and returns the events whose line names `user`;
 * a partial last line waits for the next call.
 */
function auditTail(auditLog: string, user: string) {
  const fd = openSync(auditLog, "r");
  const quoted = `"${user}"`;
  const buf = Buffer.alloc(8 << 20);
  let offset = 0;
  let rest = "";
  return {
    next(): AuditEvent[] {
      const out: AuditEvent[] = [];
      for (;;) {
        const n = readSync(fd, buf, 0, buf.length, offset);
        if (n === 0) return out;
        offset += n;
        const lines = (rest + buf.subarray(0, n).toString("utf8")).split("\n");
        rest = lines.pop() ?? "";
        for (const l of lines) if (l.includes(quoted)) out.push(JSON.parse(l) as AuditEvent);
      }
    },
    close: () => closeSync(fd),
  };
}

/** Every completed request of `user` in the audit log, oldest first. */
export function auditOf(auditLog: string, user: string): AuditEvent[] {
  const tail = auditTail(auditLog, user);
  try {
    return tail.next().filter((e) => e.stage === "ResponseComplete" && e.user.username === user);
  } finally {
    tail.close();
  }
}

/** "verb resource[/subresource]". */
export const verbAndResource = (e: AuditEvent): string => {
  const r = e.objectRef;
  return `${e.verb} ${r?.resource ?? "?"}${r?.subresource !== undefined ? `/${r.subresource}` : ""}`;
};

export function countBy<T>(xs: readonly T[], key: (x: T) => string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const x of xs) out[key(x)] = (out[key(x)] ?? 0) + 1;
  return out;
}

/**
 * Waits until `user` has made no write for `quietMs` after `since` (read from the audit log as it
 * grows, so a large log is not re-read), bounded by `maxMs`. Returns the writes seen, by verb and
 * resource, and when the last one was (seconds after `since`).
 */
export async function waitQuiet(
  auditLog: string,
  user: string,
  since: number,
  quietMs: number,
  maxMs: number,
) {
  const tail = auditTail(auditLog, user);
  const isWrite = isWriteBy(user);
  const writes: AuditEvent[] = [];
  let last = since;
  const started = Date.now();
  try {
    for (;;) {
      for (const e of tail.next()) {
        const at = Date.parse(e.requestReceivedTimestamp);
        if (isWrite(e) && at >= since) {
          writes.push(e);
          last = Math.max(last, at);
        }
      }
      const quiet = Date.now() - Math.max(last, since) >= quietMs;
      if (quiet || Date.now() - started >= maxMs)
        return {
          writes: writes.length,
          writesBy: countBy(writes, verbAndResource),
          lastWriteS: writes.length === 0 ? 0 : (last - since) / 1000,
          quiet,
        };
      await sleep(2000);
    }
  } finally {
    tail.close();
  }
}

/** VmRSS of a process, MiB. */
export function rssMiB(pid: number): number {
  const kib = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? Number.NaN);
  return Number((kib / 1024).toFixed(1));
}

/** User + system CPU seconds a process has used (USER_HZ is 100 on Linux). */
export function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

export const loadAverage = (): number[] => loadavg().map((l) => Number(l.toFixed(2)));

export async function waitFor(
  what: string,
  ok: () => boolean,
  timeoutMs: number,
  everyMs = 2000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(everyMs);
  }
}

/** Median with the range, of a sample (the benchmarks repeat what varies). */
export function spread(xs: readonly number[]): { n: number; median: number; min: number; max: number } {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  const median = s.length % 2 === 1 ? (s[mid] ?? Number.NaN) : ((s[mid - 1] ?? 0) + (s[mid] ?? 0)) / 2;
  return { n: s.length, median, min: s[0] ?? Number.NaN, max: s.at(-1) ?? Number.NaN };
}

/** Pods appear and become Ready at once: the figures measure the control plane and the controllers. */
export const NO_DELAY = {
  "pod-create.stage.kwok.x-k8s.io/delay": "0s",
  "pod-ready.stage.kwok.x-k8s.io/delay": "0s",
} as const;

/**
 * Forces a full garbage collection in a Node.js process started with `--inspect=127.0.0.1:<port>` and
 * reads its memory right after (DevTools protocol: HeapProfiler.collectGarbage, then
 * process.memoryUsage() and V8's heap spaces evaluated in the process): what the heap holds live, not
 * the garbage a scavenge has not reached yet.
 */
export async function heapAfterGc(port: number) {
  const targets = (await (await fetch(`http://127.0.0.1:${port}/json/list`)).json()) as {
    webSocketDebuggerUrl: string;
  }[];
  const url = targets[0]?.webSocketDebuggerUrl;
  if (url === undefined) throw new Error(`no inspector target on port ${port}`);
  const ws = new WebSocket(url);
  await new Promise((res, rej) => {
    ws.onopen = res;
    ws.onerror = rej;
  });
  type Reply = { id?: number; result?: { result?: { value?: string } } };
  const pending = new Map<number, (r: Reply) => void>();
  ws.onmessage = (m) => {
    const d = JSON.parse(String(m.data)) as Reply;
    if (d.id !== undefined) pending.get(d.id)?.(d);
  };
  let next = 0;
  const call = (method: string, params: Record<string, unknown> = {}) =>
    new Promise<Reply>((res) => {
      next++;
      pending.set(next, res);
      ws.send(JSON.stringify({ id: next, method, params }));
    });
  try {
    await call("HeapProfiler.collectGarbage");
    const expression = `JSON.stringify({ m: process.memoryUsage(), s: process.getBuiltinModule("v8").getHeapSpaceStatistics() })`;
    const r = await call("Runtime.evaluate", { expression, returnByValue: true });
    const v = JSON.parse(r.result?.result?.value ?? "{}") as {
      m: NodeJS.MemoryUsage;
      s: { space_name: string; space_used_size: number }[];
    };
    const mib = (b: number) => Number((b / 2 ** 20).toFixed(1));
    return {
      heapUsedMiB: mib(v.m.heapUsed),
      externalMiB: mib(v.m.external),
      arrayBuffersMiB: mib(v.m.arrayBuffers),
      rssMiB: mib(v.m.rss),
      spacesMiB: Object.fromEntries(v.s.map((x) => [x.space_name, mib(x.space_used_size)])),
    };
  } finally {
    ws.close();
  }
}
