/**
 * Helpers for e2e tests judged by traffic: a steady load on a Service's ClusterIP from inside the
 * cluster's network namespace, and the checks every such test makes on what the requests saw.
 */
import assert from "node:assert/strict";
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { join } from "node:path";
import { createInterface } from "node:readline";
import {
  type LoadOptions,
  type RequestRecord,
  startTraffic,
  type Traffic,
  type TrafficReport,
} from "../harness/traffic.ts";
import type { BgdStatus } from "./bgd.ts";
import { env, kubectl, waitUntil } from "./lib.ts";

export function netnsExec(): string {
  return join(env("BGO_CLUSTER_DIR"), "netns-exec");
}

export async function clusterIp(ns: string, svc: string): Promise<string> {
  return await waitUntil(`ClusterIP of ${ns}/${svc}`, 60_000, async () => {
    const ip = (await kubectl(["get", "service", svc, "-n", ns, "-o", "jsonpath={.spec.clusterIP}"])).trim();
    return ip !== "" && ip !== "None" ? ip : undefined;
  });
}

/** A steady load on the Service's port 80 (its ClusterIP), for at most `seconds`. */
export async function loadOn(
  ns: string,
  svc: string,
  opts: Omit<LoadOptions, "url"> & { readonly path?: string },
): Promise<Traffic> {
  const ip = await clusterIp(ns, svc);
  const url = `http://${ip}/${opts.path ?? ""}`;
  // The load measures a Service that serves: a BGD reads Stable once its endpoints are ready, and
  // kube-proxy programs them a moment later; until its first answer a request is refused by the
  // Service's reject rule, which says nothing about a switch. So the load starts once it answers.
  await waitUntil(`${ns}/${svc} answering through kube-proxy`, 30_000, async () => {
    const code = await new Promise<string>((res) =>
      execFile(
        netnsExec(),
        ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "1", url],
        (_err, stdout) => res(stdout.trim()),
      ),
    );
    return code === "200" ? code : undefined;
  });
  return startTraffic(netnsExec(), { ...opts, url });
}

/** Waits until the last `n` requests were all answered (ok) by `revision`. */
export async function waitServedBy(t: Traffic, revision: string, n = 30, timeoutMs = 60_000): Promise<void> {
  await waitUntil(`the last ${n} requests answered by revision ${revision}`, timeoutMs, async () => {
    const last = t.records().slice(-n);
    return last.length === n && last.every((r) => r.outcome === "ok" && r.revision === revision);
  });
}

/** Failures as one line a person can read (kinds, and the first few records). */
export function describeFailures(records: readonly RequestRecord[]): string {
  const bad = records.filter((r) => r.outcome !== "ok");
  const first = bad
    .slice(0, 5)
    .map((r) => `${new Date(r.t).toISOString()} ${r.outcome} ${r.status ?? r.error ?? ""}`);
  return `${bad.length} failed: ${first.join("; ")}`;
}

export function assertNoFailures(report: TrafficReport, records: readonly RequestRecord[]): void {
  assert.ok(report.requests > 0, "the load sent requests");
  assert.equal(report.failed, 0, describeFailures(records));
}

/**
 * No request was routed to a revision before it was approved: a request answered by revision R
 * whose connection was established (`c`, after kube-proxy's DNAT chose the pod) before R's
 * approval time proves R was reachable through the active Service too early.
 */
export function assertNothingBeforeApproval(
  records: readonly RequestRecord[],
  approvedAt: ReadonlyMap<string, number>,
  initial: string,
): void {
  for (const r of records) {
    if (r.outcome !== "ok" || r.revision === undefined || r.revision === initial) continue;
    const at = approvedAt.get(r.revision);
    assert.ok(at !== undefined, `a request was answered by revision ${r.revision}, never approved`);
    const connected = r.c ?? r.t + r.ms;
    assert.ok(
      connected >= at,
      `revision ${r.revision} answered a request connected ${at - connected} ms before its approval`,
    );
  }
}

export function fmtReport(name: string, report: TrafficReport): string {
  const revs = Object.entries(report.byRevision)
    .map(([r, n]) => `${r}=${n}`)
    .join(" ");
  const sw = report.switches.map((s) => `${s.from}→${s.to} mixed ${s.mixedMs} ms`).join(", ");
  return `[traffic] ${name}: ${report.requests} requests, ${report.failed} failed ${JSON.stringify(report.failures)}; ${revs}${sw ? `; ${sw}` : ""}`;
}

/**
 * The namespace's BGD, Services and Deployments as one `kubectl get --watch` keeps them: every
 * phase is seen as it happens, and six tests polling kubectl every few ms would starve the machine.
 */
export interface Watched {
  status(): BgdStatus;
  selector(svc: string): string | undefined;
  replicas(deployment: string): number | undefined;
  stop(): void;
}

export async function watchNamespace(n: string): Promise<Watched> {
  type Obj = {
    metadata: { name: string };
    spec?: { selector?: Record<string, string>; replicas?: number };
    status?: BgdStatus;
  };
  const objects = new Map<string, Obj>();
  // kubectl watches one resource type per process; a watch that ends is started again.
  let stopped = false;
  const children: ChildProcess[] = [];
  const follow = (resource: string, kind: string) => {
    const child = spawn("kubectl", [
      "get",
      resource,
      "-n",
      n,
      "--watch",
      "--output-watch-events",
      "-o",
      "json",
    ]);
    children.push(child);
    createInterface({ input: child.stdout }).on("line", (line) => {
      if (line.trim() === "") return;
      const ev = JSON.parse(line) as { type: string; object: Obj };
      const key = `${kind}/${ev.object.metadata.name}`;
      if (ev.type === "DELETED") objects.delete(key);
      else if (ev.type !== "BOOKMARK" && ev.type !== "ERROR") objects.set(key, ev.object);
    });
    child.once("exit", () => {
      if (!stopped) setTimeout(() => follow(resource, kind), 200);
    });
  };
  follow("bluegreendeployments.bluegreen.io", "BlueGreenDeployment");
  follow("services", "Service");
  follow("deployments", "Deployment");
  return {
    status: () => objects.get("BlueGreenDeployment/app")?.status ?? {},
    selector: (svc) => objects.get(`Service/${svc}`)?.spec?.selector?.["bluegreen.io/color"],
    replicas: (dep) => objects.get(`Deployment/${dep}`)?.spec?.replicas,
    stop: () => {
      stopped = true;
      for (const c of children) c.kill();
    },
  };
}

export async function waitFor(n: string, what: string, check: () => boolean): Promise<void> {
  await waitUntil(`${n}: ${what}`, 90_000, async () => check(), 20);
}

/** Waits until the watched BGD's status has every field given, and returns it. */
export async function waitWatched(
  n: string,
  w: Watched,
  want: Partial<Record<keyof BgdStatus, string>>,
): Promise<BgdStatus> {
  await waitFor(n, `status ${JSON.stringify(want)}`, () =>
    Object.entries(want).every(([k, v]) => (w.status() as Record<string, unknown>)[k] === v),
  );
  return w.status();
}
