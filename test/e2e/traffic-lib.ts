/**
 * Helpers for e2e tests judged by traffic: a steady load on a Service's ClusterIP, or through a Gateway
 * (Contour + Envoy, test/harness/gateway.ts), from inside the cluster's network namespace, and the checks
 * every such test makes on what the requests saw.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { type Gateway, type GatewayOptions, startGateway } from "../harness/gateway.ts";
import {
  curlInNetns,
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
  await waitUntil(
    `${ns}/${svc} answering through kube-proxy`,
    30_000,
    async () => (await curlInNetns(netnsExec(), url)).code === "200",
  );
  return startTraffic(netnsExec(), { ...opts, url });
}

/**
 * A Gateway of the test's own (Contour + Envoy in the cluster's network namespace) for a Gateway object
 * `name` in `ns`; routes in `routeNamespaces` may attach to it. Stop it in the test's `after`.
 */
export async function gatewayIn(
  ns: string,
  opts: Omit<GatewayOptions, "clusterDir" | "namespace"> = {},
): Promise<Gateway> {
  return await startGateway({ clusterDir: env("BGO_CLUSTER_DIR"), namespace: ns, ...opts });
}

/**
 * A steady load through the gateway's Envoy with `host` as the Host header (the route's hostname),
 * started once that route answers (Contour has programmed it), for at most `seconds`.
 */
export async function loadThroughGateway(
  gw: Gateway,
  host: string,
  opts: Omit<LoadOptions, "url" | "host"> & { readonly path?: string },
): Promise<Traffic> {
  const path = `/${opts.path ?? ""}`;
  await gw.waitServing(host, { path });
  return startTraffic(netnsExec(), { ...opts, url: `${gw.url}${path}`, host });
}

/**
 * How far an observed share may be from a weight `p` (0..1) over `n` requests: 5 standard deviations of
 * the binomial share (a correct data plane falls outside with a chance under 1 in a million), and none
 * at 0 or 1, where every request must go one way.
 */
export function shareTolerance(p: number, n: number): number {
  return n === 0 ? 0 : 5 * Math.sqrt((p * (1 - p)) / n);
}

/**
 * Each revision's share of the answered requests is its weight (percent) within shareTolerance; every
 * answer came from a revision named in `weights`. Returns the measured shares (percent) for the report.
 */
export function assertShares(
  records: readonly RequestRecord[],
  weights: Readonly<Record<string, number>>,
  what: string,
): Record<string, number> {
  const ok = records.filter((r) => r.outcome === "ok");
  assert.ok(ok.length > 0, `${what}: requests were answered`);
  const counts: Record<string, number> = {};
  for (const r of ok) counts[r.revision ?? "?"] = (counts[r.revision ?? "?"] ?? 0) + 1;
  const shares: Record<string, number> = {};
  for (const rev of new Set([...Object.keys(counts), ...Object.keys(weights)])) {
    const p = (weights[rev] ?? 0) / 100;
    const got = (counts[rev] ?? 0) / ok.length;
    shares[rev] = got * 100;
    const tol = shareTolerance(p, ok.length);
    assert.ok(
      Math.abs(got - p) <= tol,
      `${what}: revision ${rev} answered ${counts[rev] ?? 0} of ${ok.length} (${(got * 100).toFixed(1)} %), ` +
        `weight ${(p * 100).toFixed(0)} % ± ${(tol * 100).toFixed(1)}`,
    );
  }
  return shares;
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
