/**
 * The local control plane: etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok
 * (fake nodes whose pods really go through Pending → Running → Ready), started as background
 * processes on free loopback ports. `make cluster-up`, `make demo` and the e2e runner all use this
 * module, so the cluster the tests prove things on is the one people try by hand.
 */
import { execFileSync, spawn } from "node:child_process";
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  writeFileSync,
} from "node:fs";
import { createServer } from "node:net";
import { join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { gatewayCrdFiles, installGatewayApi } from "./gateway-api.ts";
import {
  createNetns,
  execInNetns,
  kubeProxyArgs,
  type NetnsInfo,
  nodeIp,
  processesInNetns,
  startBridges,
  startInNetns,
  writeNetnsExec,
} from "./netns.ts";
import { versionsVar } from "./versions.ts";

const REPO = resolve(import.meta.dirname, "../..");

export interface ClusterPaths {
  /** Directory holding certificates, data, logs and the kubeconfig files. */
  readonly dir: string;
  /** Admin kubeconfig (system:masters), for people, kubectl and tests. */
  readonly kubeconfig: string;
  /**
   * Kubeconfig of the operator's own identity (user `bluegreen-operator`, also system:masters), so
   * the audit log can tell the operator's requests apart from kubectl's and the tests'.
   */
  readonly operatorKubeconfig: string;
  /** kube-apiserver audit log: one JSON line per request (Metadata level). */
  readonly auditLog: string;
  /** `netns-exec CMD ARGS...` runs CMD inside the cluster's network namespace (see netns.ts). */
  readonly netnsExec: string;
}

interface ClusterState {
  readonly ports: Record<string, number>;
  readonly pids: Record<string, number>;
  readonly binDir: string;
  /** The network namespace and its identity (`net:[inode]`), checked before its holder is stopped. */
  readonly netns?: NetnsInfo & { readonly id: string };
}

/**
 * Where the Go-built binaries live (see hack/build-binaries.sh); one cache per set of versions. Contour
 * and Envoy are linked here from the gateway cache.
 */
export function binDir(): string {
  return versionsVar("BGO_BIN");
}

export function kubectlPath(): string {
  return join(binDir(), "kubectl");
}

export function clusterPaths(dir: string): ClusterPaths {
  return {
    dir,
    kubeconfig: join(dir, "kubeconfig"),
    operatorKubeconfig: join(dir, "operator.kubeconfig"),
    auditLog: join(dir, "logs", "audit.log"),
    netnsExec: join(dir, "netns-exec"),
  };
}

/** A free TCP port on the host's loopback (bound, read, closed). */
export async function freePort(): Promise<number> {
  return await new Promise((res, rej) => {
    const srv = createServer();
    srv.once("error", rej);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      if (addr === null || typeof addr === "string") return rej(new Error("no port"));
      srv.close(() => res(addr.port));
    });
  });
}

function openssl(cwd: string, ...args: string[]): void {
  execFileSync("openssl", args, { cwd, stdio: ["ignore", "ignore", "pipe"] });
}

/** A client (or serving) certificate `name`.crt/.key in `pki`, signed by the cluster's CA. */
function signCertificate(pki: string, name: string, subj: string, ext: string): void {
  openssl(pki, "genrsa", "-out", `${name}.key`, "2048");
  openssl(pki, "req", "-new", "-key", `${name}.key`, "-subj", subj, "-out", `${name}.csr`);
  writeFileSync(join(pki, `${name}.ext`), ext);
  openssl(
    pki,
    ...["x509", "-req", "-in", `${name}.csr`, "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial"],
    ...["-days", "3650", "-out", `${name}.crt`, "-extfile", `${name}.ext`],
  );
}

/** A CA, the apiserver's serving cert, client certs and the service-account key pair. */
function makeCertificates(pki: string): void {
  mkdirSync(pki, { recursive: true });
  openssl(pki, "genrsa", "-out", "ca.key", "2048");
  openssl(
    pki,
    "req",
    "-x509",
    "-new",
    "-key",
    "ca.key",
    "-subj",
    "/CN=bluegreen-local-ca",
    "-days",
    "3650",
    "-out",
    "ca.crt",
  );
  signCertificate(
    pki,
    "apiserver",
    "/CN=kube-apiserver",
    "subjectAltName=IP:127.0.0.1,IP:10.96.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc\nextendedKeyUsage=serverAuth\n",
  );
  signCertificate(pki, "admin", "/O=system:masters/CN=admin", CLIENT_AUTH);
  signCertificate(pki, "operator", "/O=system:masters/CN=bluegreen-operator", CLIENT_AUTH);
  openssl(pki, "genrsa", "-out", "sa.key", "2048");
  openssl(pki, "rsa", "-in", "sa.key", "-pubout", "-out", "sa.pub");
}

const CLIENT_AUTH = "extendedKeyUsage=clientAuth\n";

/**
 * A kubeconfig `<dir>/<user>.kubeconfig` for a new client identity `user` (system:masters), so the
 * audit log tells its requests apart: the benchmarks run another controller beside the operator.
 */
export function clientKubeconfig(dir: string, user: string): string {
  const pki = join(dir, "pki");
  const state = readState(dir);
  if (state === undefined) throw new Error(`no cluster in ${dir}`);
  signCertificate(pki, user, `/O=system:masters/CN=${user}`, CLIENT_AUTH);
  const file = join(dir, `${user}.kubeconfig`);
  writeFileSync(file, kubeconfigYaml(`https://127.0.0.1:${state.ports.apiserver}`, pki, user), {
    mode: 0o600,
  });
  return file;
}

function kubeconfigYaml(server: string, pki: string, user: string): string {
  const b64 = (f: string) => readFileSync(join(pki, f)).toString("base64");
  return `apiVersion: v1
kind: Config
clusters:
- name: bluegreen-local
  cluster: {server: "${server}", certificate-authority-data: ${b64("ca.crt")}}
users:
- name: ${user}
  user: {client-certificate-data: ${b64(`${user}.crt`)}, client-key-data: ${b64(`${user}.key`)}}
contexts:
- name: bluegreen-local
  context: {cluster: bluegreen-local, user: ${user}}
current-context: bluegreen-local
`;
}

/**
 * The identities the benchmarks run controllers as (the operator's certificate, and the one
 * clientKubeconfig makes for Argo Rollouts in `make bench-compare`): their Events are logged, as
 * writes they are.
 */
export const BENCHED_CONTROLLERS = ["bluegreen-operator", "argo-rollouts"] as const;

// Metadata level is enough to count requests per user, verb and resource; events and the
// control plane's own lease renewals are left out to keep the log small, except the Events of
// ServiceAccounts (the e2e operators run as one): a refused Event is a permission their RBAC lacks,
// and those of the controllers the benchmarks measure.
const AUDIT_POLICY = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
- level: Metadata
  userGroups: [system:serviceaccounts]
  resources: [{group: "", resources: [events]}, {group: "events.k8s.io", resources: [events]}]
- level: Metadata
  users: [${BENCHED_CONTROLLERS.join(", ")}]
  resources: [{group: "", resources: [events]}, {group: "events.k8s.io", resources: [events]}]
- level: None
  resources: [{group: "", resources: [events]}, {group: "events.k8s.io", resources: [events]}]
- level: None
  users: [system:kube-scheduler, system:kube-controller-manager, system:apiserver]
  verbs: [get, list, watch]
- level: Metadata
`;

function startProcess(dir: string, name: string, bin: string, args: string[]): number {
  const log = openSync(join(dir, "logs", `${name}.log`), "a");
  const child = spawn(bin, args, { detached: true, stdio: ["ignore", log, log] });
  closeSync(log);
  child.unref();
  if (child.pid === undefined) throw new Error(`could not start ${name}`);
  return child.pid;
}

async function waitFor(
  what: string,
  timeoutMs: number,
  check: () => boolean | Promise<boolean>,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await check()) return;
    } catch {
      // not there yet
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(100);
  }
}

function kubectl(paths: ClusterPaths, bin: string, args: string[], input?: string): string {
  return execFileSync(join(bin, "kubectl"), ["--kubeconfig", paths.kubeconfig, ...args], {
    encoding: "utf8",
    input,
    stdio: ["pipe", "pipe", "pipe"],
  });
}

function apiserverArgs(paths: ClusterPaths, ports: Record<string, number>): string[] {
  const pki = join(paths.dir, "pki");
  return [
    `--etcd-servers=http://127.0.0.1:${ports.etcd}`,
    "--bind-address=127.0.0.1",
    "--advertise-address=127.0.0.1",
    `--secure-port=${ports.apiserver}`,
    `--tls-cert-file=${pki}/apiserver.crt`,
    `--tls-private-key-file=${pki}/apiserver.key`,
    `--client-ca-file=${pki}/ca.crt`,
    "--authorization-mode=Node,RBAC",
    "--service-cluster-ip-range=10.96.0.0/16",
    "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
    `--service-account-key-file=${pki}/sa.pub`,
    `--service-account-signing-key-file=${pki}/sa.key`,
    `--audit-policy-file=${paths.dir}/audit-policy.yaml`,
    `--audit-log-path=${paths.auditLog}`,
    "--audit-log-format=json",
    "--audit-log-mode=batch",
    "--audit-log-batch-max-wait=200ms",
    "--audit-log-maxsize=0",
    "--profiling=false",
  ];
}

export interface StartOptions {
  readonly nodes?: number;
  readonly log?: (line: string) => void;
}

/** Starts the whole control plane in `dir` and returns once a fake Node is Ready. */
export async function startCluster(dir: string, opts: StartOptions = {}): Promise<ClusterPaths> {
  const log = opts.log ?? (() => {});
  const bin = binDir();
  for (const b of [
    "etcd",
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
    "kube-proxy",
    "kubectl",
    "kwok",
    // The Gateway data plane (gateway.ts): part of the binaries, so a cluster can always carry a gateway.
    "contour",
    "envoy",
  ]) {
    if (!existsSync(join(bin, b))) throw new Error(`${join(bin, b)} is missing: run hack/build-binaries.sh`);
  }
  gatewayCrdFiles();
  const paths = clusterPaths(dir);
  mkdirSync(join(dir, "logs"), { recursive: true });
  const started = Date.now();
  const pki = join(dir, "pki");
  if (!existsSync(join(pki, "ca.crt"))) makeCertificates(pki);
  writeFileSync(join(dir, "audit-policy.yaml"), AUDIT_POLICY);

  const ports: Record<string, number> = {};
  for (const p of ["etcd", "etcdPeer", "apiserver", "kcm", "scheduler", "kwok"]) ports[p] = await freePort();
  const server = `https://127.0.0.1:${ports.apiserver}`;
  writeFileSync(paths.kubeconfig, kubeconfigYaml(server, pki, "admin"), { mode: 0o600 });
  writeFileSync(paths.operatorKubeconfig, kubeconfigYaml(server, pki, "operator"), { mode: 0o600 });

  const pids: Record<string, number> = {};
  let netns: ClusterState["netns"];
  const state = (): ClusterState => ({ ports, pids, binDir: bin, ...(netns ? { netns } : {}) });
  const save = () => writeFileSync(join(dir, "state.json"), JSON.stringify(state(), null, 2));

  pids.etcd = startProcess(dir, "etcd", join(bin, "etcd"), [
    `--data-dir=${dir}/etcd`,
    `--listen-client-urls=http://127.0.0.1:${ports.etcd}`,
    `--advertise-client-urls=http://127.0.0.1:${ports.etcd}`,
    `--listen-peer-urls=http://127.0.0.1:${ports.etcdPeer}`,
    `--initial-advertise-peer-urls=http://127.0.0.1:${ports.etcdPeer}`,
    `--initial-cluster=default=http://127.0.0.1:${ports.etcdPeer}`,
    "--unsafe-no-fsync",
    "--log-level=warn",
  ]);
  save();
  pids.apiserver = startProcess(
    dir,
    "kube-apiserver",
    join(bin, "kube-apiserver"),
    apiserverArgs(paths, ports),
  );
  save();
  await waitFor(
    "kube-apiserver /readyz",
    60_000,
    () => kubectl(paths, bin, ["get", "--raw", "/readyz"]).trim() === "ok",
  );
  log(`kube-apiserver ready after ${((Date.now() - started) / 1000).toFixed(1)} s`);
  // Meanwhile the rest starts; awaited (and its failure thrown) before the cluster is handed over.
  const gatewayApi = installGatewayApi(join(bin, "kubectl"), paths.kubeconfig).then(
    () => log(`Gateway API and Contour CRDs installed after ${((Date.now() - started) / 1000).toFixed(1)} s`),
    (e: unknown) => e,
  );

  const ns = await createNetns();
  netns = { ...ns, id: readlinkSync(`/proc/${ns.pid}/ns/net`) };
  pids.netns = ns.pid;
  save();
  writeNetnsExec(dir, ns);
  Object.assign(pids, startBridges(dir, ns, ports.apiserver ?? 0));
  save();
  await waitFor("kube-apiserver from inside the network namespace", 30_000, () => {
    execInNetns(ns, join(bin, "kubectl"), ["--kubeconfig", paths.kubeconfig, "get", "--raw", "/readyz"]);
    return true;
  });

  const common = [`--kubeconfig=${paths.kubeconfig}`, "--leader-elect=false", "--bind-address=127.0.0.1"];
  pids.kcm = startProcess(
    dir,
    "kube-controller-manager",
    join(bin, "kube-controller-manager"),
    kcmArgs(dir, ports),
  );
  pids.scheduler = startProcess(dir, "kube-scheduler", join(bin, "kube-scheduler"), [
    ...common,
    `--secure-port=${ports.scheduler}`,
    "--kube-api-qps=400",
    "--kube-api-burst=800",
  ]);
  save();
  const stagesDir = join(bin, "..", "kwok-stages");
  const stages = readdirSync(stagesDir)
    .filter((f) => f.endsWith(".yaml"))
    .map((f) => join(stagesDir, f));
  pids.kwok = startProcess(dir, "kwok", join(bin, "kwok"), [
    `--kubeconfig=${paths.kubeconfig}`,
    "--manage-all-nodes=true",
    "--node-lease-duration-seconds=40",
    "--cidr=10.244.0.0/16",
    `--server-address=127.0.0.1:${ports.kwok}`,
    ...stages.flatMap((s) => ["-c", s]),
  ]);
  save();

  const nodes = opts.nodes ?? 3;
  const nodeYaml = Array.from({ length: nodes }, (_, i) => fakeNode(`kwok-node-${i}`, nodeIp(i))).join(
    "---\n",
  );
  await waitFor("node creation", 30_000, () => {
    kubectl(paths, bin, ["apply", "-f", "-"], nodeYaml);
    return true;
  });
  await waitFor("a Ready fake Node", 60_000, () => {
    const out = kubectl(paths, bin, [
      "get",
      "nodes",
      "-o",
      "jsonpath={.items[*].status.conditions[?(@.type=='Ready')].status}",
    ]);
    return out.split(" ").filter((s) => s === "True").length === nodes;
  });
  // One kube-proxy programs every Service for the whole namespace (all "nodes" share it).
  pids.kubeProxy = startInNetns(
    dir,
    ns,
    "kube-proxy",
    join(bin, "kube-proxy"),
    kubeProxyArgs(paths.kubeconfig, "kwok-node-0"),
  );
  save();
  pids.podsim = startInNetns(dir, ns, "podsim", process.execPath, [
    join(REPO, "test/harness/podsim.ts"),
    "--kubeconfig",
    paths.kubeconfig,
    "--admin",
    `127.0.0.1:${PODSIM_ADMIN_PORT}`,
  ]);
  save();
  await waitFor("kube-proxy synced", 60_000, () => {
    execInNetns(ns, "curl", ["-sf", "--max-time", "2", "http://127.0.0.1:10256/healthz"]);
    return true;
  });
  await waitFor("podsim watching pods", 60_000, () => {
    execInNetns(ns, "curl", ["-sf", "--max-time", "2", `http://127.0.0.1:${PODSIM_ADMIN_PORT}/healthz`]);
    return true;
  });
  // The Gateway API (and Contour's) CRDs and a GatewayClass, so any test or the demo can route through
  // a gateway (gateway.ts starts one): installing since kube-apiserver was ready, their files checked
  // before anything started.
  const gatewayApiError = await gatewayApi;
  if (gatewayApiError !== undefined) throw gatewayApiError;
  // Pods are refused until the namespace's default ServiceAccount exists.
  await waitFor("the default ServiceAccount", 60_000, () => {
    kubectl(paths, bin, ["get", "serviceaccount", "default", "-n", "default"]);
    return true;
  });
  log(`control plane ready with ${nodes} fake Nodes after ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return paths;
}

/** podsim's own port inside the namespace (health, and /metrics of every pod at once). */
export const PODSIM_ADMIN_PORT = 9901;

function fakeNode(name: string, ip: string): string {
  return `apiVersion: v1
kind: Node
metadata:
  name: ${name}
  annotations: {kwok.x-k8s.io/node: fake, node.alpha.kubernetes.io/ttl: "0"}
  labels: {kubernetes.io/hostname: ${name}, kubernetes.io/os: linux, kubernetes.io/arch: amd64, type: kwok}
status:
  addresses: [{type: InternalIP, address: "${ip}"}, {type: Hostname, address: ${name}}]
  allocatable: {cpu: "64", memory: 256Gi, pods: "3000"}
  capacity: {cpu: "64", memory: 256Gi, pods: "3000"}
`;
}

function readState(dir: string): ClusterState | undefined {
  const file = join(dir, "state.json");
  if (!existsSync(file)) return undefined;
  return JSON.parse(readFileSync(file, "utf8")) as ClusterState;
}

/** Whether a process with this pid exists (and may be signalled). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Stops a process: SIGTERM, then SIGKILL after `graceMs`; resolves once it is gone. */
export async function stopPid(pid: number | undefined, graceMs: number): Promise<void> {
  if (pid === undefined || !alive(pid)) return;
  process.kill(pid, "SIGTERM");
  const deadline = Date.now() + graceMs;
  while (alive(pid) && Date.now() < deadline) await sleep(50);
  if (alive(pid)) process.kill(pid, "SIGKILL");
  while (alive(pid)) await sleep(20);
}

/** The processes stopCluster stops by name, in its own order; any other recorded pid is stopped last. */
const OWN_PIDS = new Set([
  "etcd",
  "apiserver",
  "netns",
  "bridgeHost",
  "bridgeNetns",
  "kcm",
  "scheduler",
  "kwok",
  "kubeProxy",
  "podsim",
]);

/**
 * Records processes started beside the cluster (the demo's Prometheus and its bridges) so
 * `make cluster-down` stops them too.
 */
export function recordPids(dir: string, pids: Readonly<Record<string, number>>): void {
  const state = readState(dir);
  if (state === undefined) throw new Error(`no cluster in ${dir}`);
  const next: ClusterState = { ...state, pids: { ...state.pids, ...pids } };
  writeFileSync(join(dir, "state.json"), JSON.stringify(next, null, 2));
}

/**
 * Stops exactly the processes `startCluster` recorded in `dir`, in the order that lets each
 * shut down cleanly: kwok, scheduler, controller-manager, then kube-apiserver (it waits on etcd
 * while shutting down, so it gets a few seconds and then SIGKILL), then etcd.
 */
export async function stopCluster(dir: string): Promise<void> {
  const state = readState(dir);
  if (state === undefined) return;
  // The data plane first: what runs in the namespace (ours, and what netns-exec left there).
  await stopPid(state.pids.podsim, 3000);
  await stopPid(state.pids.kubeProxy, 3000);
  const holder = state.netns;
  if (holder !== undefined && netnsIdOf(holder.pid) === holder.id) {
    for (const pid of processesInNetns(holder)) await stopPid(pid, 3000);
  }
  await stopPid(state.pids.kwok, 3000);
  await stopPid(state.pids.scheduler, 3000);
  await stopPid(state.pids.kcm, 3000);
  await stopPid(state.pids.apiserver, 5000);
  await stopPid(state.pids.etcd, 5000);
  await stopPid(state.pids.bridgeHost, 3000);
  for (const [name, pid] of Object.entries(state.pids)) if (!OWN_PIDS.has(name)) await stopPid(pid, 3000);
  // The holder only if it still is the namespace's (its pid may have been reused since).
  if (holder !== undefined && netnsIdOf(holder.pid) === holder.id) await stopPid(holder.pid, 3000);
}

function netnsIdOf(pid: number): string | undefined {
  try {
    return readlinkSync(`/proc/${pid}/ns/net`);
  } catch {
    return undefined;
  }
}

function kcmArgs(dir: string, ports: Readonly<Record<string, number>>): string[] {
  const pki = join(dir, "pki");
  return [
    `--kubeconfig=${clusterPaths(dir).kubeconfig}`,
    "--leader-elect=false",
    "--bind-address=127.0.0.1",
    `--secure-port=${ports.kcm}`,
    `--service-account-private-key-file=${pki}/sa.key`,
    `--root-ca-file=${pki}/ca.crt`,
    "--use-service-account-credentials=false",
    // Tests create many namespaces, Deployments and Jobs at once: more workers keep up.
    "--concurrent-deployment-syncs=20",
    "--concurrent-replicaset-syncs=20",
    "--concurrent-service-endpoint-syncs=20",
    "--concurrent-gc-syncs=40",
    "--concurrent-namespace-syncs=20",
    "--kube-api-qps=400",
    "--kube-api-burst=800",
    "--profiling=false",
  ];
}

/** Kills one control-plane process and starts it again with the same arguments; records its new pid. */
async function restartComponent(
  dir: string,
  key: "apiserver" | "kcm",
  binary: string,
  args: (state: ClusterState) => string[],
): Promise<ClusterState> {
  const state = readState(dir);
  if (state === undefined) throw new Error(`no cluster in ${dir}`);
  await stopPid(state.pids[key], 5000);
  const pid = startProcess(dir, binary, join(state.binDir, binary), args(state));
  const next: ClusterState = { ...state, pids: { ...state.pids, [key]: pid } };
  writeFileSync(join(dir, "state.json"), JSON.stringify(next, null, 2));
  return next;
}

/**
 * Kills and restarts kube-controller-manager. After a kube-apiserver restart, v1.36's kcm sometimes
 * keeps informers that never catch up (seen in a full e2e run: its ReplicaSet and EndpointSlice
 * controllers logged "informer cache is out of date" and wrote nothing in that namespace for over four
 * minutes); a fresh process lists everything again. The platform's stall, not the operator's.
 */
export async function restartControllerManager(dir: string): Promise<void> {
  await restartComponent(dir, "kcm", "kube-controller-manager", (state) => kcmArgs(dir, state.ports));
}

/** Kills and restarts kube-apiserver on the same port (tests of watch resumption). */
export async function restartApiserver(dir: string): Promise<void> {
  const paths = clusterPaths(dir);
  const state = await restartComponent(dir, "apiserver", "kube-apiserver", (st) =>
    apiserverArgs(paths, st.ports),
  );
  await waitFor("kube-apiserver /readyz after restart", 60_000, () => {
    return kubectl(paths, state.binDir, ["get", "--raw", "/readyz"]).trim() === "ok";
  });
}
