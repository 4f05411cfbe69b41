/**
 * Helpers for the runtime e2e tests (leader election, metrics, RBAC): a kubeconfig for a token (the
 * operator's identity, see identity.ts), the operator's JSON log, its metrics endpoint,
 * the Lease, and BGD manifests whose pods take a while to become ready.
 */
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type BgdOptions, bgdManifest } from "./bgd.ts";
import { env, kubectl, kubectlJson, waitUntil } from "./lib.ts";
import type { OperatorProcess } from "./operator.ts";

/** The API server URL and CA of the run's cluster (from the admin kubeconfig). */
export async function clusterServer(): Promise<{ server: string; caFile: string }> {
  const server = await kubectl(["config", "view", "--raw", "-o", "jsonpath={.clusters[0].cluster.server}"]);
  return { server: server.trim(), caFile: join(env("BGO_CLUSTER_DIR"), "pki", "ca.crt") };
}

function kubeconfig(server: string, caFile: string, user: string, credentials: string): string {
  const ca = readFileSync(caFile).toString("base64");
  return `apiVersion: v1
kind: Config
clusters:
- name: local
  cluster: {server: "${server}", certificate-authority-data: ${ca}}
users:
- name: ${user}
  user: {${credentials}}
contexts:
- name: local
  context: {cluster: local, user: ${user}}
current-context: local
`;
}

/**
 * A kubeconfig holding nothing but a bearer token (e.g. from `kubectl create token`), in the run's
 * cluster directory (removed with it).
 */
export async function tokenKubeconfig(user: string, token: string): Promise<string> {
  const { server, caFile } = await clusterServer();
  const parent = join(env("BGO_CLUSTER_DIR"), "kubeconfigs");
  mkdirSync(parent, { recursive: true });
  const dir = mkdtempSync(join(parent, `${user}-`));
  const file = join(dir, "kubeconfig");
  writeFileSync(file, kubeconfig(server, caFile, user, `token: ${token}`), { mode: 0o600 });
  return file;
}

export interface LogLine {
  readonly msg: string;
  readonly time: number;
  readonly [key: string]: unknown;
}

/** The operator's pino JSON lines so far (its log file also holds other output; that is skipped). */
export function logLines(op: OperatorProcess): LogLine[] {
  const out: LogLine[] = [];
  for (const line of readFileSync(op.logFile, "utf8").split("\n")) {
    if (!line.startsWith("{")) continue;
    try {
      out.push(JSON.parse(line) as LogLine);
    } catch {
      // a line being written
    }
  }
  return out;
}

/** Waits for a log line with this message and returns it. */
export async function waitForLog(op: OperatorProcess, msg: string, timeoutMs = 30_000): Promise<LogLine> {
  return await waitUntil(`"${msg}" in ${op.logFile}`, timeoutMs, async () =>
    logLines(op).find((l) => l.msg === msg),
  );
}

/** The leader-election identity the operator logged. */
export async function identityOf(op: OperatorProcess): Promise<string> {
  const line = await waitForLog(op, "Attempting to acquire leader lease");
  return String(line.identity);
}

/** Base URL of the operator's endpoint that logged `msg` with its bound address. */
export async function endpointOf(op: OperatorProcess, msg: "Serving metrics" | "Serving health probes") {
  const line = await waitForLog(op, msg);
  return `http://${String(line.address)}`;
}

export interface LeaseSpec {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions?: number;
}

export async function lease(ns: string, name = "bluegreen-operator.bluegreen.io"): Promise<LeaseSpec> {
  const o = await kubectlJson<{ spec?: LeaseSpec }>(["get", "lease", name, "-n", ns]);
  return o.spec ?? {};
}

export async function waitForHolder(ns: string, identity: string, timeoutMs = 30_000): Promise<LeaseSpec> {
  return await waitUntil(`lease holder ${identity} in ${ns}`, timeoutMs, async () => {
    const l = await lease(ns);
    return l.holderIdentity === identity ? l : undefined;
  });
}

/** Fast kwok pods, except that becoming ready takes `readyAfter` (an in-flight rollout to interrupt). */
export function slowReadyBgd(name: string, o: BgdOptions, readyAfter: string, readyJitter: string): string {
  const doc = JSON.parse(bgdManifest(name, o)) as {
    spec: { template: { metadata: { annotations: Record<string, string> } } };
  };
  doc.spec.template.metadata.annotations["pod-ready.stage.kwok.x-k8s.io/delay"] = readyAfter;
  doc.spec.template.metadata.annotations["pod-ready.stage.kwok.x-k8s.io/jitter-delay"] = readyJitter;
  return JSON.stringify(doc);
}

export const AUTO = { promotion: { mode: "Auto" }, scaleDownDelaySeconds: 0 } as const;

/** `promtool check metrics`: exit 0 and no complaint, or the complaint as the error. */
export async function promtoolCheck(text: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const child = execFile("promtool", ["check", "metrics"], (err, stdout, stderr) => {
      if (err) reject(new Error(`promtool check metrics: ${stdout}${stderr}`));
      else resolve();
    });
    child.stdin?.end(text);
  });
}

/** The value of the one sample of `name` whose labels include `labels`; undefined if none. */
export function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split("\n")) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (!Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) continue;
    return Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return undefined;
}
