/**
 * Helpers for the runtime e2e tests (leader election, metrics, RBAC): client identities of their
 * own (so the audit log tells two operators apart), the operator's JSON log, its metrics endpoint,
 * the Lease, and BGD manifests whose pods take a while to become ready.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
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
 * A kubeconfig for a fresh client certificate (CN = `user`, O = system:masters) signed by the
 * cluster's CA: the audit log then attributes this process's requests to `user` alone.
 */
export async function certKubeconfig(user: string): Promise<string> {
  const pki = join(env("BGO_CLUSTER_DIR"), "pki");
  const dir = mkdtempSync(join(tmpdir(), `bgo-${user}-`));
  const run = (...args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: "ignore" });
  run("genrsa", "-out", "client.key", "2048");
  run("req", "-new", "-key", "client.key", "-subj", `/O=system:masters/CN=${user}`, "-out", "client.csr");
  writeFileSync(join(dir, "client.ext"), "extendedKeyUsage=clientAuth\n");
  run(
    "x509",
    "-req",
    "-in",
    "client.csr",
    "-CA",
    join(pki, "ca.crt"),
    "-CAkey",
    join(pki, "ca.key"),
    "-CAcreateserial",
    "-CAserial",
    join(dir, "ca.srl"),
    "-days",
    "1",
    "-extfile",
    "client.ext",
    "-out",
    "client.crt",
  );
  const b64 = (f: string) => readFileSync(join(dir, f)).toString("base64");
  const { server, caFile } = await clusterServer();
  const file = join(dir, "kubeconfig");
  writeFileSync(
    file,
    kubeconfig(
      server,
      caFile,
      user,
      `client-certificate-data: ${b64("client.crt")}, client-key-data: ${b64("client.key")}`,
    ),
    { mode: 0o600 },
  );
  return file;
}

/** A kubeconfig holding nothing but a bearer token (e.g. from `kubectl create token`). */
export async function tokenKubeconfig(user: string, token: string): Promise<string> {
  const { server, caFile } = await clusterServer();
  const dir = mkdtempSync(join(tmpdir(), "bgo-token-"));
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

export interface AuditRecord {
  readonly verb: string;
  readonly user: { readonly username: string };
  readonly objectRef?: {
    readonly resource?: string;
    readonly namespace?: string;
    readonly name?: string;
    readonly subresource?: string;
  };
  readonly responseStatus?: { readonly code?: number };
  readonly requestReceivedTimestamp: string;
}

const WRITES = new Set(["create", "update", "patch", "delete", "deletecollection"]);

/** Requests of `username` in the kube-apiserver audit log (the apiserver's count, not ours). */
export function auditOf(username: string, opts: { since?: Date; writesOnly?: boolean } = {}): AuditRecord[] {
  const out: AuditRecord[] = [];
  const needle = `"${username}"`;
  for (const line of readFileSync(env("BGO_AUDIT_LOG"), "utf8").split("\n")) {
    if (!line.includes(needle)) continue;
    const e = JSON.parse(line) as AuditRecord & { stage: string };
    if (e.stage !== "ResponseComplete" || e.user.username !== username) continue;
    if (opts.since !== undefined && new Date(e.requestReceivedTimestamp) < opts.since) continue;
    if (opts.writesOnly === true && !WRITES.has(e.verb)) continue;
    out.push(e);
  }
  return out;
}

export function describe(events: readonly AuditRecord[]): string[] {
  return events.map(
    (e) =>
      `${e.requestReceivedTimestamp} ${e.verb} ${e.objectRef?.resource ?? "?"}${e.objectRef?.subresource ? `/${e.objectRef.subresource}` : ""} ${e.objectRef?.namespace ?? ""}/${e.objectRef?.name ?? ""} → ${e.responseStatus?.code ?? "?"}`,
  );
}
