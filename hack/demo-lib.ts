/**
 * What the demos share (`make demo`, `make demo-canary`): kubectl on the local cluster, a one-line snapshot of
 * the BlueGreenDeployment printed whenever it changes, the live traffic line by revision, the operator process.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { existsSync, openSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { binDir, clusterPaths } from "../test/harness/cluster.ts";
import type { Traffic } from "../test/harness/traffic.ts";

export const repo = resolve(import.meta.dirname, "..");
export const dir = join(repo, ".cluster");
export const paths = clusterPaths(dir);
export const kubectlBin = join(binDir(), "kubectl");
const started = Date.now();
let NS = "demo";
let NAME = "my-awesome-app";
/** The namespace and BlueGreenDeployment the snapshot and the timeline follow. */
export function follow(namespace: string, name: string): void {
  NS = namespace;
  NAME = name;
}

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

interface Status {
  phase?: string;
  message?: string;
  activeColor?: string;
  previewColor?: string;
  activeRevision?: string;
  previewRevision?: string;
  activeImage?: string;
}

/** One line describing everything a person cares about; printed whenever it changes. */
export function snapshot(): { line: string; status: Status } {
  const bgd = json<{ status?: Status }>(["get", "bgd", NAME, "-n", NS]);
  const s = bgd?.status ?? {};
  const deps = json<{
    items: {
      metadata: { name: string };
      spec: { replicas: number; template: { spec: { containers: { image: string }[] } } };
      status: { readyReplicas?: number };
    }[];
  }>(["get", "deployments", "-n", NS]);
  const colors = (deps?.items ?? [])
    .map((d) => {
      const c = d.metadata.name.endsWith("-blue") ? "blue" : "green";
      const ready = d.status.readyReplicas ?? 0;
      // ready/desired, as kubectl shows it; pods still terminating after a scale-down are said so.
      const going = ready > d.spec.replicas ? ` (${ready - d.spec.replicas} terminating)` : "";
      return `${color(c)} ${Math.min(ready, d.spec.replicas)}/${d.spec.replicas}${going} ${d.spec.template.spec.containers[0]?.image ?? ""}`;
    })
    .join("  |  ");
  const active = json<{ spec: { selector?: Record<string, string> } }>(["get", "service", NAME, "-n", NS]);
  const preview = json<{ spec: { selector?: Record<string, string> } }>([
    "get",
    "service",
    `${NAME}-preview`,
    "-n",
    NS,
  ]);
  const svc = `Service→${color(active?.spec.selector?.["bluegreen.io/color"])} preview→${color(preview?.spec.selector?.["bluegreen.io/color"])}`;
  return { line: `${(s.phase ?? "-").padEnd(17)} ${svc}  ${colors}`, status: s };
}

/** The load on the active Service, and a name (the image tag) for each revision it sees. */
let traffic: Traffic | undefined;
export const revisionNames = new Map<string, string>();
/** The load the timeline shows a traffic line of (undefined: none). */
export function showTraffic(t: Traffic | undefined): void {
  traffic = t;
}
let trafficShownAt = 0;

/**
 * `traffic  v1 ███████░ 88%  v2 █░░░░░░░ 12%  failed 0`: the latest second's requests by the
 * revision that answered them (through the ClusterIP, kube-proxy, to the pod), and failures so far.
 */
export function trafficLine(t: Traffic): string {
  const records = t.records();
  // The last second the records so far cover (they arrive in bursts while kubectl runs).
  const end = records.at(-1)?.t ?? 0;
  const recent = records.filter((r) => r.t > end - 1000 && r.t <= end);
  const failed = records.filter((r) => r.outcome !== "ok").length;
  const by = new Map<string, number>();
  for (const r of recent)
    if (r.outcome === "ok") by.set(r.revision ?? "?", (by.get(r.revision ?? "?") ?? 0) + 1);
  const names = [...new Set([...revisionNames.keys(), ...by.keys()])];
  const bars = names.map((rev) => {
    const share = recent.length === 0 ? 0 : (by.get(rev) ?? 0) / recent.length;
    const full = Math.round(share * 10);
    return `${(revisionNames.get(rev) ?? rev).padEnd(3)} ${"█".repeat(full)}${"░".repeat(10 - full)} ${Math.round(
      share * 100,
    )
      .toString()
      .padStart(3)}%`;
  });
  return `traffic  ${bars.join("  ")}  ${recent.length} req/s  failed ${failed}`;
}

export async function watchUntil(
  what: string,
  done: (s: Status) => boolean,
  timeoutMs = 180_000,
): Promise<Status> {
  let last = "";
  const deadline = Date.now() + timeoutMs;
  const show = () => {
    const { line, status } = snapshot();
    if (line !== last) {
      say(line);
      if (status.message !== undefined && status.message !== "")
        console.log(`${" ".repeat(10)}${status.message}`);
      last = line;
    }
    return status;
  };
  for (;;) {
    const status = show();
    if (traffic !== undefined && Date.now() - trafficShownAt >= 1000) {
      say(trafficLine(traffic));
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

/** Installs the CRD and starts the operator inside the cluster's network namespace, logging to .cluster/logs. */
export function startOperatorProcess(): { process: ChildProcess; logFile: string } {
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
    {
      stdio: ["ignore", openSync(logFile, "a"), openSync(logFile, "a")],
    },
  );
  say(`operator pid ${operator.pid}, logs in ${logFile}`);
  return { process: operator, logFile };
}

/** Whether the operator logged an error (pino level 50), said at the end of a demo. */
export function reportOperatorErrors(logFile: string): void {
  if (existsSync(logFile) && readFileSync(logFile, "utf8").includes('"level":50')) {
    console.log("operator logged errors: see", logFile);
  }
}
