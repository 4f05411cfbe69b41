/**
 * The traffic generator: a bounded, steady load against a URL inside the cluster's network
 * namespace (a Service's ClusterIP, so every request goes through kube-proxy's rules to a pod IP
 * that podsim answers as that pod), recording per request when it was sent, its outcome and the
 * revision that answered.
 *
 * Two halves: `runLoad` sends the requests (it must run inside the namespace: the CLI below, run
 * through netns-exec, prints one JSON record per line), and `startTraffic` (host side) runs that
 * CLI, collects the records and summarises them (`summarize`). A load always stops by itself after
 * its duration, and sooner when stopped.
 *
 * The same load goes through a Gateway (test/harness/gateway.ts): the URL is Envoy's listener and
 * `host` the route's hostname.
 *
 *   .cluster/netns-exec node test/harness/traffic.ts --url http://10.96.0.10/ --rps 200 --seconds 30
 *   .cluster/netns-exec node test/harness/traffic.ts --url http://127.0.1.1:8080/ --host app.example --summary
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { type Agent, Agent as HttpAgent, request } from "node:http";
import { resolve } from "node:path";
import { createInterface } from "node:readline";

export type Outcome = "ok" | "http-error" | "refused" | "reset" | "timeout" | "error";

export interface RequestRecord {
  /** When the request was sent (ms since the epoch). */
  readonly t: number;
  /**
   * When its TCP connection was established (ms since the epoch): kube-proxy's DNAT chose the pod
   * by then. Absent on a reused keep-alive connection.
   */
  readonly c?: number;
  /** How long until it was answered or failed (ms). */
  readonly ms: number;
  readonly outcome: Outcome;
  readonly status?: number;
  readonly revision?: string;
  readonly color?: string;
  readonly pod?: string;
  /** The error code of a failed connection (ECONNREFUSED...). */
  readonly error?: string;
}

export interface LoadOptions {
  readonly url: string;
  /** Requests per second, sent at a steady pace. */
  readonly rps: number;
  /** The load stops by itself after this long. */
  readonly seconds: number;
  /** A request not answered within this is a timeout. */
  readonly timeoutMs?: number;
  /**
   * Reuse connections (a browser or a connection pool). Off by default: a new connection per
   * request, so kube-proxy chooses a backend for every request and a switch shows at once.
   */
  readonly keepAlive?: boolean;
  /** The Host header (a Gateway's route matches on it); default the URL's host. */
  readonly host?: string;
}

function once(opts: LoadOptions, agent: Agent | false): Promise<RequestRecord> {
  const t = Date.now();
  // 10 s: a blackout is never slow, it is refused (kube-proxy's reject rule for a Service without
  // endpoints, or a pod address with no listener), so a long timeout hides no switch failure; a short
  // one counted the load generator's own stalls on a saturated 2-core machine (p99 API latency 5 s) as
  // failed requests.
  const timeoutMs = opts.timeoutMs ?? 10_000;
  return new Promise((done) => {
    let settled = false;
    let c: number | undefined;
    const finish = (r: Omit<RequestRecord, "t" | "ms" | "c">) => {
      if (settled) return;
      settled = true;
      done({ t, ...(c !== undefined ? { c } : {}), ms: Date.now() - t, ...r });
    };
    const req = request(
      opts.url,
      {
        agent,
        headers: {
          ...(agent === false ? { connection: "close" } : {}),
          ...(opts.host !== undefined ? { host: opts.host } : {}),
        },
      },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => {
          body += c;
        });
        res.on("error", (err: NodeJS.ErrnoException) =>
          finish({ outcome: "reset", error: err.code ?? err.message }),
        );
        res.on("end", () => {
          const status = res.statusCode ?? 0;
          let who: { revision?: unknown; color?: unknown; pod?: unknown } = {};
          try {
            who = JSON.parse(body) as typeof who;
          } catch {
            // not podsim's JSON: recorded without a revision
          }
          finish({
            outcome: status >= 200 && status < 400 ? "ok" : "http-error",
            status,
            ...(typeof who.revision === "string" ? { revision: who.revision } : {}),
            ...(typeof who.color === "string" ? { color: who.color } : {}),
            ...(typeof who.pod === "string" ? { pod: who.pod } : {}),
          });
        });
      },
    );
    req.on("socket", (s) => {
      if (s.connecting) s.once("connect", () => (c = Date.now()));
    });
    req.setTimeout(timeoutMs, () => {
      finish({ outcome: "timeout" });
      req.destroy();
    });
    req.on("error", (err: NodeJS.ErrnoException) => {
      const code = err.code ?? err.message;
      const outcome: Outcome =
        code === "ECONNREFUSED" ? "refused" : code === "ECONNRESET" || code === "EPIPE" ? "reset" : "error";
      finish({ outcome, error: code });
    });
    req.end();
  });
}

/**
 * Sends `rps` requests per second for `seconds` (or until `signal` aborts), calling `onRecord` for
 * each as it completes. Resolves once every request sent has completed.
 */
export async function runLoad(
  opts: LoadOptions,
  onRecord: (r: RequestRecord) => void,
  signal?: AbortSignal,
): Promise<void> {
  const agent = opts.keepAlive === true ? new HttpAgent({ keepAlive: true, maxSockets: 16 }) : false;
  const start = Date.now();
  const end = start + opts.seconds * 1000;
  const interval = 1000 / opts.rps;
  const inflight = new Set<Promise<void>>();
  let sent = 0;
  while (!signal?.aborted) {
    const now = Date.now();
    if (now >= end) break;
    // Catch up on what a slow tick missed, so the rate stays steady.
    const due = Math.floor((now - start) / interval) + 1;
    while (sent < due) {
      sent++;
      const p = once(opts, agent).then(onRecord);
      inflight.add(p);
      void p.finally(() => inflight.delete(p));
    }
    await new Promise((r) => setTimeout(r, Math.max(1, start + sent * interval - Date.now())));
  }
  await Promise.all(inflight);
  if (agent !== false) agent.destroy();
}

export interface RevisionSecond {
  /** Seconds since the first request. */
  readonly second: number;
  readonly byRevision: Readonly<Record<string, number>>;
  readonly failed: number;
}

export interface Switch {
  readonly from: string;
  readonly to: string;
  /** The first request answered by `to` (its send time, ms since the epoch). */
  readonly firstNew: number;
  /** The last request answered by `from` sent after `firstNew` began (or firstNew, when none). */
  readonly lastOld: number;
  /** lastOld − firstNew: how long both revisions answered (0: a clean cut). */
  readonly mixedMs: number;
}

export interface TrafficReport {
  readonly requests: number;
  readonly ok: number;
  readonly failed: number;
  readonly failures: Readonly<Partial<Record<Outcome, number>>>;
  readonly byRevision: Readonly<Record<string, number>>;
  readonly perSecond: readonly RevisionSecond[];
  /** Revisions in the order they first answered, and each move from one to the next. */
  readonly revisions: readonly string[];
  readonly switches: readonly Switch[];
}

/** A revision has taken over once it answers this many requests in a row. */
const SETTLED = 5;

/**
 * Each move of the traffic from one revision to another (a rollback back to an earlier one
 * included): the new revision takes over once it answers SETTLED requests in a row; the window
 * runs from its first answer to the last answer of the revision it replaced before that.
 */
function findSwitches(sorted: readonly RequestRecord[]): Switch[] {
  const ok = sorted.filter((r) => r.outcome === "ok");
  const switches: Switch[] = [];
  let cur = ok[0]?.revision ?? "?";
  let lastCur = ok[0]?.t ?? 0;
  const firstSeen = new Map<string, number>();
  let streakRev = "";
  let streak = 0;
  for (const r of ok) {
    const rev = r.revision ?? "?";
    if (rev === cur) {
      lastCur = r.t;
      streak = 0;
      continue;
    }
    if (!firstSeen.has(rev)) firstSeen.set(rev, r.t);
    streak = rev === streakRev ? streak + 1 : 1;
    streakRev = rev;
    if (streak < SETTLED) continue;
    const firstNew = firstSeen.get(rev) ?? r.t;
    switches.push({
      from: cur,
      to: rev,
      firstNew,
      lastOld: Math.max(firstNew, lastCur),
      mixedMs: Math.max(0, lastCur - firstNew),
    });
    cur = rev;
    lastCur = r.t;
    firstSeen.clear();
    streak = 0;
  }
  return switches;
}

export function summarize(records: readonly RequestRecord[]): TrafficReport {
  const sorted = [...records].sort((a, b) => a.t - b.t);
  const start = sorted[0]?.t ?? 0;
  const failures: Partial<Record<Outcome, number>> = {};
  const byRevision: Record<string, number> = {};
  const seconds = new Map<number, { byRevision: Record<string, number>; failed: number }>();
  const revisions: string[] = [];
  for (const r of sorted) {
    const s = Math.floor((r.t - start) / 1000);
    const sec = seconds.get(s) ?? { byRevision: {}, failed: 0 };
    seconds.set(s, sec);
    if (r.outcome !== "ok") {
      failures[r.outcome] = (failures[r.outcome] ?? 0) + 1;
      sec.failed++;
      continue;
    }
    const rev = r.revision ?? "?";
    byRevision[rev] = (byRevision[rev] ?? 0) + 1;
    sec.byRevision[rev] = (sec.byRevision[rev] ?? 0) + 1;
    if (!revisions.includes(rev)) revisions.push(rev);
  }
  const switches = findSwitches(sorted);
  const failed = sorted.filter((r) => r.outcome !== "ok").length;
  return {
    requests: sorted.length,
    ok: sorted.length - failed,
    failed,
    failures,
    byRevision,
    perSecond: [...seconds].sort((a, b) => a[0] - b[0]).map(([second, v]) => ({ second, ...v })),
    revisions,
    switches,
  };
}

/** The records of the requests sent in [from, to) (ms since the epoch): one canary step's window. */
export function sentBetween(
  records: readonly RequestRecord[],
  from: number,
  to = Number.POSITIVE_INFINITY,
): RequestRecord[] {
  return records.filter((r) => r.t >= from && r.t < to);
}

/**
 * One request from inside the cluster's network namespace (through `netnsExec`): its status code ("000"
 * when nothing answered within 2 s) and body. What a load waits on before it starts.
 */
export async function curlInNetns(
  netnsExec: string,
  url: string,
  host?: string,
): Promise<{ readonly code: string; readonly body: string }> {
  const args = ["curl", "-s", "--max-time", "2", "-w", "\n%{http_code}", url];
  if (host !== undefined) args.push("-H", `Host: ${host}`);
  const out = await new Promise<string>((res) => execFile(netnsExec, args, (_err, stdout) => res(stdout)));
  const at = out.lastIndexOf("\n");
  return { code: out.slice(at + 1).trim() || "000", body: out.slice(0, Math.max(0, at)) };
}

export interface Traffic {
  /** Every record so far (the load goes on). */
  records(): readonly RequestRecord[];
  /** Stops the load (if still running), waits for its last requests and summarises. */
  stop(): Promise<TrafficReport>;
  /** Resolves when the load has ended by itself or was stopped. */
  readonly done: Promise<void>;
}

const SELF = resolve(import.meta.dirname, "traffic.ts");

/** Runs a load inside the cluster's network namespace (through `netnsExec`) and collects its records. */
export function startTraffic(netnsExec: string, opts: LoadOptions): Traffic {
  const args = [
    process.execPath,
    SELF,
    "--url",
    opts.url,
    "--rps",
    String(opts.rps),
    "--seconds",
    String(opts.seconds),
    "--timeout-ms",
    String(opts.timeoutMs ?? 10_000),
    ...(opts.keepAlive === true ? ["--keep-alive"] : []),
    ...(opts.host !== undefined ? ["--host", opts.host] : []),
    "--until-stdin-closes",
  ];
  const child: ChildProcess = spawn(netnsExec, args, { stdio: ["pipe", "pipe", "inherit"] });
  const records: RequestRecord[] = [];
  if (child.stdout === null) throw new Error("traffic: no stdout");
  createInterface({ input: child.stdout }).on("line", (line) => {
    if (line.startsWith("{")) records.push(JSON.parse(line) as RequestRecord);
  });
  const done = new Promise<void>((r) => child.once("close", () => r()));
  return {
    records: () => records,
    done,
    async stop() {
      // Closing stdin is the CLI's stop signal: it reaches the load through nsenter whatever the
      // user namespace, and a test that dies closes it too, so no load outlives its test.
      child.stdin?.end();
      await done;
      return summarize(records);
    },
  };
}

function flag(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

if (import.meta.main) {
  const url = flag("url");
  const rps = Number(flag("rps") ?? "100");
  const seconds = Number(flag("seconds") ?? "10");
  const timeoutMs = Number(flag("timeout-ms") ?? "10000");
  if (url === undefined || !(rps > 0) || !(seconds > 0)) {
    console.error(
      "usage: traffic.ts --url URL [--host HOST] [--rps N] [--seconds N] [--timeout-ms N] [--keep-alive] [--summary]",
    );
    process.exit(2);
  }
  const abort = new AbortController();
  if (process.argv.includes("--until-stdin-closes")) {
    process.stdin.on("end", () => abort.abort());
    process.stdin.on("error", () => abort.abort());
    process.stdin.resume();
  }
  for (const sig of ["SIGTERM", "SIGINT"] as const) process.on(sig, () => abort.abort());
  const summaryOnly = process.argv.includes("--summary");
  const all: RequestRecord[] = [];
  const host = flag("host");
  await runLoad(
    {
      url,
      rps,
      seconds,
      timeoutMs,
      keepAlive: process.argv.includes("--keep-alive"),
      ...(host !== undefined ? { host } : {}),
    },
    (r) => {
      if (summaryOnly) all.push(r);
      else process.stdout.write(`${JSON.stringify(r)}\n`);
    },
    abort.signal,
  );
  if (summaryOnly) {
    const { perSecond: _, ...report } = summarize(all);
    console.log(JSON.stringify(report, null, 2));
  }
  // A pipe is written asynchronously: exiting before the last writes are flushed cut the last record in half
  // (seen as a JSON error in the reader on a loaded machine). This write's callback comes after theirs.
  await new Promise<void>((flushed) => process.stdout.write("", () => flushed()));
  process.exit(0);
}
