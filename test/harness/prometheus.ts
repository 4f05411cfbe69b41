/**
 * A real Prometheus (the Debian package's binary) for the tests and the demo: they query what it scraped,
 * not a stub of its API. On the host's loopback for targets there, or inside the cluster's network
 * namespace, where pod IPs answer, its port carried out to the host's loopback (netns-ports.ts) where the
 * dashboard, the operator's gates and the tests ask it:
 *
 *   targets (netns) ◄─scrape─ prometheus (netns 127.0.0.1:P) ◄─ bridges ◄─ host 127.0.0.1:P
 *
 * What it scrapes is the caller's: podsim's aggregate /metrics (podsimScrapeConfig: the dashboard's chart,
 * the demo), every pod through HTTP service discovery (test/e2e/pod-discovery.ts: the gates), or fixed
 * targets (staticTargets).
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, PODSIM_ADMIN_PORT, recordPids, stopPid } from "./cluster.ts";
import { type CarriedPort, carryPort, type KeepOptions, logTail, spawnOn } from "./netns-ports.ts";
import { waitUntil } from "./wait.ts";

export interface Prometheus {
  /** Its HTTP API on the host's loopback. */
  readonly url: string;
  readonly pids: Readonly<Record<string, number>>;
  /** Resolves when the query returns at least `series` series (scrapes have happened). */
  waitFor(query: string, series: number, timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

/** Whether the Debian prometheus is installed (the demo goes on without it). */
export function prometheusInstalled(): boolean {
  try {
    execFileSync("prometheus", ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** A scrape config (YAML list items under scrape_configs) for fixed targets. */
export const staticTargets = (targets: readonly string[]): string =>
  [
    "  - job_name: app",
    "    static_configs:",
    `      - targets: [${targets.map((t) => JSON.stringify(t)).join(", ")}]`,
  ].join("\n");

/**
 * podsim's admin /metrics inside the namespace: every pod's request counters, labelled namespace, pod,
 * revision and code (the labels a cluster's Prometheus gives a pod's series by relabelling), under the
 * name an application's usually has (`podsim_http_requests_total` → `http_requests_total`), which the
 * dashboard asks for by default.
 */
export function podsimScrapeConfig(): string {
  return [
    "  - job_name: podsim",
    // The pods' own namespace/pod/revision labels win over anything the scrape would add.
    "    honor_labels: true",
    "    static_configs:",
    `      - targets: ["127.0.0.1:${PODSIM_ADMIN_PORT}"]`,
    "    metric_relabel_configs:",
    "      - source_labels: [__name__]",
    "        regex: podsim_(.*)",
    "        target_label: __name__",
    '        replacement: "$1"',
  ].join("\n");
}

export interface PrometheusOptions {
  readonly scrapeInterval?: string;
  /**
   * Run inside the network namespace of the cluster in `dir`, its port carried to the host; `keepAs`
   * leaves it running, recorded in the cluster's state (netns-ports.ts). Default: on the host.
   */
  readonly cluster?: { readonly dir: string } & KeepOptions;
}

/**
 * Starts Prometheus scraping the given targets (host:port), or with the given scrape_configs YAML;
 * resolves once it answers on the host.
 */
export async function startPrometheus(
  scrape: readonly string[] | { readonly scrapeConfigs: string },
  opts: PrometheusOptions = {},
): Promise<Prometheus> {
  const interval = opts.scrapeInterval ?? "1s";
  const cluster = opts.cluster;
  const keepAs = cluster?.keepAs;
  const dir = mkdtempSync(
    cluster === undefined
      ? join(tmpdir(), "bgo-prometheus-")
      : join(cluster.dir, `${keepAs ?? "prometheus"}-`),
  );
  mkdirSync(join(dir, "data"));
  const config = join(dir, "prometheus.yml");
  const scrapeConfigs = "scrapeConfigs" in scrape ? scrape.scrapeConfigs : staticTargets(scrape);
  writeFileSync(
    config,
    [
      "global:",
      `  scrape_interval: ${interval}`,
      `  evaluation_interval: ${interval}`,
      "scrape_configs:",
      scrapeConfigs,
      "",
    ].join("\n"),
  );
  // Carried out, the same number on both sides: free on the host, and the namespace listens on little.
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const log =
    cluster !== undefined && keepAs !== undefined
      ? join(cluster.dir, "logs", `${keepAs}-prometheus.log`)
      : join(dir, "prometheus.log");
  const args = [
    `--config.file=${config}`,
    `--storage.tsdb.path=${join(dir, "data")}`,
    `--web.listen-address=127.0.0.1:${port}`,
    "--storage.tsdb.retention.time=2h",
    "--log.level=warn",
  ];
  let proc: ChildProcess;
  if (cluster === undefined) {
    const out = openSync(log, "a");
    proc = spawn("prometheus", args, { stdio: ["ignore", out, out] });
    closeSync(out);
  } else {
    proc = spawnOn(cluster.dir, "cluster", "prometheus", args, { log, ...(keepAs ? { keepAs } : {}) });
    proc.stdout?.destroy();
  }
  // A missing binary shows as no pid (below), not as an unhandled error event.
  proc.on("error", () => {});
  const gone = () => proc.exitCode !== null || proc.signalCode !== null;
  const pids: Record<string, number> = {};
  let carried: CarriedPort | undefined;
  const stop = async () => {
    await stopPid(proc.pid, 5000);
    await carried?.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  const poll = async (what: string, timeoutMs: number, ready: () => Promise<boolean>) => {
    const outcome = await waitUntil(`prometheus: ${what}`, timeoutMs, async () =>
      gone() ? "exited" : (await ready()) && "ready",
    ).catch((e: Error) => new Error(`${e.message}: ${logTail(log)}`));
    if (outcome instanceof Error) throw outcome;
    if (outcome === "exited")
      throw new Error(`prometheus exited (${proc.exitCode ?? proc.signalCode}): ${logTail(log)}`);
  };
  try {
    if (proc.pid === undefined) throw new Error(`could not start prometheus: ${logTail(log)}`);
    pids[keepAs ?? "prometheus"] = proc.pid;
    if (cluster !== undefined) {
      if (keepAs !== undefined) recordPids(cluster.dir, pids);
      carried = await carryPort(cluster.dir, port, "cluster", keepAs !== undefined ? { keepAs } : {});
      Object.assign(pids, carried.pids);
    }
    await poll(`${url}/-/ready`, 60_000, async () => (await fetch(`${url}/-/ready`)).ok);
  } catch (e) {
    await stop();
    throw e;
  }
  return {
    url,
    pids,
    stop,
    waitFor: (query, series, timeoutMs = 60_000) =>
      poll(`${query} with ${series} series`, timeoutMs, async () => {
        const res = await fetch(`${url}/api/v1/query?query=${encodeURIComponent(query)}`);
        const body = (await res.json()) as { data?: { result?: unknown[] } };
        return (body.data?.result?.length ?? 0) >= series;
      }),
  };
}
