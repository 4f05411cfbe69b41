/**
 * What `make demo` and `make demo-gates` share: the local control plane in .cluster with Prometheus and the
 * operator (inside the cluster's network namespace), kubectl, a live timeline of one BGD (phase, Services,
 * colors, the users' traffic by revision, its gate checks) printed whenever it changes, and the closing words.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { existsSync, openSync, readFileSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { binDir, clusterPaths, startCluster, stopCluster } from "../test/harness/cluster.ts";
import {
  type Prometheus,
  podsimScrapeConfig,
  prometheusInstalled,
  startPrometheus,
} from "../test/harness/prometheus.ts";
import { startTraffic, type Traffic, type TrafficReport } from "../test/harness/traffic.ts";

export const repo = resolve(import.meta.dirname, "..");
export const dir = join(repo, ".cluster");
export const paths = clusterPaths(dir);
const kubectlBin = join(binDir(), "kubectl");
const started = Date.now();

const bold = (s: string) => (process.stdout.isTTY ? `\x1b[1m${s}\x1b[0m` : s);
const color = (c: string | undefined) =>
  !process.stdout.isTTY || c === undefined
    ? (c ?? "-")
    : c === "blue"
      ? `\x1b[34m${c}\x1b[0m`
      : `\x1b[32m${c}\x1b[0m`;
const stamp = () => `[+${((Date.now() - started) / 1000).toFixed(1).padStart(5)}s]`;
export const say = (s: string) => console.log(`${stamp()} ${s}`);
export const step = (s: string) => console.log(`\n${stamp()} ${bold(`== ${s}`)}`);

export function kubectl(args: string[], input?: string): string {
  return execFileSync(kubectlBin, ["--kubeconfig", paths.kubeconfig, ...args], {
    encoding: "utf8",
    input,
    stdio: ["pipe", "pipe", "pipe"],
  });
}
export function json<T>(args: string[]): T | undefined {
  try {
    return JSON.parse(kubectl([...args, "-o", "json"])) as T;
  } catch {
    return undefined;
  }
}

export interface Status {
  phase?: string;
  message?: string;
  activeColor?: string;
  previewColor?: string;
  activeRevision?: string;
  previewRevision?: string;
  activeImage?: string;
  gates?: { name: string; phase: string; revision: string; message?: string }[];
  /** With spec.trafficRouting: the route's weights on the active and preview Services now. */
  traffic?: { activeWeight?: number; previewWeight?: number };
}

export interface Demo {
  readonly ns: string;
  readonly name: string;
  readonly operator: ChildProcess;
  readonly logFile: string;
  /** Prometheus scraping every pod's request counters (podsim's), once it is up; undefined without one. */
  readonly prometheus: Promise<Prometheus | undefined>;
  /** Names (the image tags) for the revisions the timeline and the totals show. */
  readonly revisionNames: Map<string, string>;
  /** The users' load on the active Service, once started (its line is printed every second). */
  traffic: Traffic | undefined;
}

/**
 * A fresh control plane in .cluster, Prometheus (kept running with it), the CRD, the operator and the
 * namespace. `needPrometheus`: a demo whose gates read it fails without it rather than going on.
 */
export async function startDemo(ns: string, name: string, needPrometheus = false): Promise<Demo> {
  step(
    "Local control plane (etcd, kube-apiserver, controller-manager, scheduler, kwok; kube-proxy and podsim in its network namespace)",
  );
  await stopCluster(dir);
  // A fresh one: the last demo's etcd data would bring back its namespace (and `create namespace` refuses).
  rmSync(dir, { recursive: true, force: true });
  await startCluster(dir, { log: (l) => say(l) });
  say(
    kubectl(["get", "nodes"])
      .trim()
      .split("\n")
      .join(`\n${" ".repeat(10)}`),
  );
  if (needPrometheus && !prometheusInstalled())
    throw new Error(
      "this demo's gate reads Prometheus: install the Debian prometheus package (make debian-packages)",
    );
  // Prometheus scraping the pods' request counters (the dashboard's traffic chart, the gates); it starts while
  // the operator does and stays up with the cluster (make cluster-down stops it).
  const prometheus: Promise<Prometheus | undefined> = prometheusInstalled()
    ? startPrometheus(
        { scrapeConfigs: podsimScrapeConfig() },
        { cluster: { dir, keepAs: "prometheus" } },
      ).catch((err: unknown) => {
        if (needPrometheus) throw err;
        say(`Prometheus did not start (the dashboard's traffic chart needs it): ${String(err)}`);
        return undefined;
      })
    : Promise.resolve(undefined);

  step("Install the CRD and start the operator (inside the cluster's network namespace)");
  kubectl(["apply", "--server-side", "-f", join(repo, "deploy/crd/")]);
  kubectl(["wait", "--for=condition=Established", "--timeout=60s", "crd/bluegreendeployments.bluegreen.io"]);
  const logFile = join(dir, "logs", "operator.log");
  // Through netns-exec: the operator runs where ClusterIPs answer, as it would in a cluster.
  const operator = spawn(
    paths.netnsExec,
    [
      process.execPath,
      join(repo, "src/runtime/main.ts"),
      "--kubeconfig",
      paths.kubeconfig,
      "--health-probe-bind-address",
      "",
      "--metrics-bind-address",
      "",
    ],
    { stdio: ["ignore", openSync(logFile, "a"), openSync(logFile, "a")] },
  );
  say(`operator pid ${operator.pid}, logs in ${logFile}`);
  kubectl(["create", "namespace", ns]);
  return { ns, name, operator, logFile, prometheus, revisionNames: new Map(), traffic: undefined };
}

/** One line describing everything a person cares about; printed whenever it changes. */
function snapshot(d: Demo): { line: string; status: Status } {
  const { ns, name } = d;
  const bgd = json<{ status?: Status }>(["get", "bgd", name, "-n", ns]);
  const s = bgd?.status ?? {};
  const deps = json<{
    items: {
      metadata: { name: string };
      spec: { replicas: number; template: { spec: { containers: { image: string }[] } } };
      status: { readyReplicas?: number };
    }[];
  }>(["get", "deployments", "-n", ns]);
  const colors = (deps?.items ?? [])
    .map((dep) => {
      const c = dep.metadata.name.endsWith("-blue") ? "blue" : "green";
      const ready = dep.status.readyReplicas ?? 0;
      // ready/desired, as kubectl shows it; pods still terminating after a scale-down are said so.
      const going = ready > dep.spec.replicas ? ` (${ready - dep.spec.replicas} terminating)` : "";
      return `${color(c)} ${Math.min(ready, dep.spec.replicas)}/${dep.spec.replicas}${going} ${dep.spec.template.spec.containers[0]?.image ?? ""}`;
    })
    .join("  |  ");
  const selector = (svc: string) =>
    json<{ spec: { selector?: Record<string, string> } }>(["get", "service", svc, "-n", ns])?.spec.selector?.[
      "bluegreen.io/color"
    ];
  const route =
    s.traffic?.previewWeight !== undefined
      ? `  route ${s.traffic.activeWeight ?? 0}/${s.traffic.previewWeight} (active/preview)`
      : "";
  const svc = `Service→${color(selector(name))} preview→${color(selector(`${name}-preview`))}${route}`;
  return { line: `${(s.phase ?? "-").padEnd(17)} ${svc}  ${colors}`, status: s };
}

let trafficShownAt = 0;

/**
 * `traffic  v1 ███████░ 88%  v2 █░░░░░░░ 12%  failed 0`: the latest second's requests by the
 * revision that answered them (through the ClusterIP, kube-proxy, to the pod), and failures so far.
 */
function trafficLine(d: Demo, t: Traffic): string {
  const records = t.records();
  // The last second the records so far cover (they arrive in bursts while kubectl runs).
  const end = records.at(-1)?.t ?? 0;
  const recent = records.filter((r) => r.t > end - 1000 && r.t <= end);
  const failed = records.filter((r) => r.outcome !== "ok").length;
  const by = new Map<string, number>();
  for (const r of recent)
    if (r.outcome === "ok") by.set(r.revision ?? "?", (by.get(r.revision ?? "?") ?? 0) + 1);
  const names = [...new Set([...d.revisionNames.keys(), ...by.keys()])];
  const bars = names.map((rev) => {
    const share = recent.length === 0 ? 0 : (by.get(rev) ?? 0) / recent.length;
    const full = Math.round(share * 10);
    return `${(d.revisionNames.get(rev) ?? rev).padEnd(3)} ${"█".repeat(full)}${"░".repeat(10 - full)} ${Math.round(
      share * 100,
    )
      .toString()
      .padStart(3)}%`;
  });
  return `traffic  ${bars.join("  ")}  ${recent.length} req/s  failed ${failed}`;
}

/** Prints the timeline until `done` holds for the BGD's status (or fails after `timeoutMs`). */
export async function watchUntil(
  d: Demo,
  what: string,
  done: (s: Status) => boolean,
  timeoutMs = 180_000,
): Promise<Status> {
  let last = "";
  const shownGates = new Map<string, string>();
  const deadline = Date.now() + timeoutMs;
  const show = () => {
    const { line, status } = snapshot(d);
    if (line !== last) {
      say(line);
      if (status.message !== undefined && status.message !== "")
        console.log(`${" ".repeat(10)}${status.message}`);
      last = line;
    }
    // Each gate check's progress, as status records it, when it changes.
    for (const g of status.gates ?? []) {
      const text = `gate ${g.name}: ${g.phase}${g.message ? ` — ${g.message}` : ""}`;
      if (shownGates.get(g.name) !== text) say(text);
      shownGates.set(g.name, text);
    }
    return status;
  };
  for (;;) {
    const status = show();
    if (d.traffic !== undefined && Date.now() - trafficShownAt >= 1000) {
      say(trafficLine(d, d.traffic));
      trafficShownAt = Date.now();
    }
    if (done(status)) {
      // done() may have read the cluster after the snapshot: show the state it saw too.
      show();
      return status;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(250);
  }
}

/**
 * A steady load on a Service's ClusterIP from inside the cluster's network namespace, started once the
 * Service answers (kube-proxy programs it a moment after its endpoints are ready; a request before that is
 * refused, which says nothing about a rollout).
 */
export async function loadOn(d: Demo, svc: string, rps: number): Promise<{ ip: string; traffic: Traffic }> {
  const ip = kubectl(["get", "service", svc, "-n", d.ns, "-o", "jsonpath={.spec.clusterIP}"]).trim();
  const answers = () => {
    try {
      const code = execFileSync(
        paths.netnsExec,
        ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "1", `http://${ip}/`],
        { encoding: "utf8" },
      );
      return code.trim() === "200";
    } catch {
      return false;
    }
  };
  for (const deadline = Date.now() + 30_000; !answers(); await sleep(250))
    if (Date.now() > deadline) throw new Error(`${d.ns}/${svc} (${ip}) does not answer`);
  return { ip, traffic: startTraffic(paths.netnsExec, { url: `http://${ip}/`, rps, seconds: 600 }) };
}

/** The users' totals: requests by revision (by name), failures, and each switch's mixed window. */
export function printTotals(d: Demo, report: TrafficReport): void {
  const by = Object.entries(report.byRevision)
    .map(([rev, n]) => `${d.revisionNames.get(rev) ?? rev} ${n}`)
    .join(", ");
  say(`${report.requests} requests: ${by}; failed ${report.failed} ${JSON.stringify(report.failures)}`);
  for (const sw of report.switches)
    say(
      `${d.revisionNames.get(sw.from) ?? sw.from} → ${d.revisionNames.get(sw.to) ?? sw.to}: both answered for ${sw.mixedMs} ms`,
    );
}

/** The end state, and how to go on exploring the cluster that stays up. */
export async function printEnd(d: Demo): Promise<void> {
  const { ns } = d;
  step("Done");
  console.log(kubectl(["get", "bgd,deployments,services", "-n", ns]));
  console.log(
    kubectl([
      "get",
      "events",
      "-n",
      ns,
      "--field-selector",
      "involvedObject.kind=BlueGreenDeployment",
      "--sort-by=.lastTimestamp",
    ]),
  );
  console.log(
    `The cluster is still up: export KUBECONFIG=${paths.kubeconfig}; kubectl at ${kubectlBin}; stop it with make cluster-down`,
  );
  const prom = await d.prometheus;
  const plugin = `KUBECONFIG=${paths.kubeconfig} ${process.execPath} ${join(repo, "src/cli/main.ts")}`;
  console.log(`The rollout as the plugin shows it: ${plugin} get ${d.name} -n ${ns}`);
  if (prom !== undefined) {
    console.log(
      `Prometheus (inside the cluster's network, scraping every pod's requests) answers at ${prom.url}. The dashboard, with the switch's traffic (last 10 minutes) on its chart:`,
    );
    console.log(`  ${plugin} dashboard -n ${ns} --prometheus ${prom.url}`);
    console.log(
      `  (kubectl bluegreen dashboard -n ${ns} --prometheus ${prom.url} with the plugin on your PATH)`,
    );
  } else {
    console.log("The dashboard (install the Debian prometheus package for its traffic chart):");
    console.log(`  ${plugin} dashboard -n ${ns}`);
  }
}

/** Stops what the demo runs itself (the load, the operator); the cluster and Prometheus stay up. */
export async function stopDemo(d: Demo): Promise<void> {
  await d.traffic?.stop();
  d.operator.kill("SIGTERM");
  if (existsSync(d.logFile) && readFileSync(d.logFile, "utf8").includes('"level":50')) {
    console.log("operator logged errors: see", d.logFile);
  }
}

/** Runs a demo's main and exits with its outcome. */
export function run(main: () => Promise<void>, name: string): void {
  main().then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(`${name} failed: ${err instanceof Error ? err.message : String(err)}`);
      process.exit(1);
    },
  );
}
