/**
 * The cluster's private network namespace: where pod IPs and ClusterIPs exist, where kube-proxy
 * programs nftables and where podsim answers as every pod. The control plane itself stays on the
 * host's loopback (as before), so `KUBECONFIG=.cluster/kubeconfig kubectl` keeps working from any
 * shell; kube-apiserver's port is carried into the namespace through a Unix socket (bridge.ts), so
 * the one kubeconfig (https://127.0.0.1:PORT) works on both sides.
 *
 * The namespace is held open by a `sleep` started with `unshare --net` (as root) or
 * `unshare --user --map-root-user --net` (as anyone else: no privilege needed), and entered with
 * `nsenter`. Nothing routes out of it: its only interface is `lo`, and its default route points
 * at `lo`, so a packet for any address outside the namespace never leaves it.
 */
import { execFileSync, spawn } from "node:child_process";
import {
  chmodSync,
  closeSync,
  existsSync,
  openSync,
  readdirSync,
  readlinkSync,
  writeFileSync,
} from "node:fs";
import { join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

const REPO = resolve(import.meta.dirname, "../..");

/** Pod IPs (kwok's --cidr) and ClusterIPs (kube-apiserver's --service-cluster-ip-range). */
export const POD_CIDR = "10.244.0.0/16";
export const SERVICE_CIDR = "10.96.0.0/16";
/** The fake Nodes' InternalIPs: kube-proxy waits (silently) until its Node has an address. */
export const NODE_NET = "10.255.0.0/24";
export const nodeIp = (i: number): string => `10.255.0.${i + 1}`;

export interface NetnsInfo {
  /** The process holding the namespace open (its /proc/PID/ns/net is the namespace). */
  readonly pid: number;
  /** Entered through a user namespace too (unprivileged mode). */
  readonly userns: boolean;
}

/** The command prefix that runs a program inside the namespace. */
export function nsenterPrefix(ns: NetnsInfo): string[] {
  // --preserve-credentials: keep our uid (mapped to root inside), as setgroups is refused in a
  // user namespace we do not own.
  return ns.userns
    ? ["nsenter", "--preserve-credentials", "-U", "-n", "-t", String(ns.pid), "--"]
    : ["nsenter", "-n", "-t", String(ns.pid), "--"];
}

function netnsId(pid: number | "self"): string {
  return readlinkSync(`/proc/${pid}/ns/net`);
}

/** Creates the namespace and gives it loopback, local routes for pods and Services, and a default route. */
export async function createNetns(): Promise<NetnsInfo> {
  const userns = process.getuid?.() !== 0;
  const args = [...(userns ? ["--user", "--map-root-user"] : []), "--net", "--", "sleep", "infinity"];
  const child = spawn("unshare", args, { detached: true, stdio: "ignore" });
  child.unref();
  const pid = child.pid;
  if (pid === undefined) throw new Error("could not start unshare");
  const self = netnsId("self");
  const deadline = Date.now() + 10_000;
  // unshare execs sleep once the namespace exists: until then the pid shows ours.
  while (netnsId(pid) === self) {
    if (Date.now() > deadline) throw new Error("unshare did not create a network namespace");
    await sleep(10);
  }
  const ns = { pid, userns };
  const setup = [
    "set -e",
    "ip link set lo up",
    `ip addr add ${NODE_NET} dev lo`,
    // kube-proxy (and any program) wants a default route; on lo it keeps every packet inside.
    "ip route add default dev lo",
    // Every pod IP and ClusterIP is local: podsim answers pod IPs; ClusterIPs need a route
    // before kube-proxy's DNAT applies ("Network is unreachable" otherwise).
    `ip route add local ${POD_CIDR} dev lo`,
    `ip route add local ${SERVICE_CIDR} dev lo`,
  ].join("\n");
  const [cmd, ...rest] = nsenterPrefix(ns);
  execFileSync(cmd ?? "nsenter", [...rest, "sh", "-c", setup], { stdio: ["ignore", "pipe", "pipe"] });
  return ns;
}

/** `.cluster/netns-exec CMD ARGS...`: runs CMD inside the namespace (for people and scripts). */
export function writeNetnsExec(dir: string, ns: NetnsInfo): string {
  const file = join(dir, "netns-exec");
  const prefix = nsenterPrefix(ns).join(" ");
  writeFileSync(
    file,
    `#!/usr/bin/env bash
# Runs a command inside the local cluster's network namespace, where ClusterIPs and pod IPs answer:
#   ${file} curl -s http://<clusterIP>/
set -euo pipefail
if [[ "$(readlink /proc/${ns.pid}/ns/net 2>/dev/null)" != "${netnsId(ns.pid)}" ]]; then
  echo "netns-exec: the cluster's network namespace is gone (make cluster-up)" >&2; exit 1
fi
[[ $# -gt 0 ]] || set -- "\${SHELL:-bash}"
exec ${prefix} "$@"
`,
  );
  chmodSync(file, 0o755);
  return file;
}

/** Starts a long-running program inside the namespace, its output appended to logs/NAME.log. */
export function startInNetns(dir: string, ns: NetnsInfo, name: string, bin: string, args: string[]): number {
  const log = openSync(join(dir, "logs", `${name}.log`), "a");
  const [cmd, ...rest] = nsenterPrefix(ns);
  // nsenter (without --fork) execs the program: the pid is the program's own.
  const child = spawn(cmd ?? "nsenter", [...rest, bin, ...args], {
    detached: true,
    stdio: ["ignore", log, log],
  });
  closeSync(log);
  child.unref();
  if (child.pid === undefined) throw new Error(`could not start ${name}`);
  return child.pid;
}

/** Runs a short command inside the namespace and returns its stdout. */
export function execInNetns(ns: NetnsInfo, bin: string, args: string[]): string {
  const [cmd, ...rest] = nsenterPrefix(ns);
  return execFileSync(cmd ?? "nsenter", [...rest, bin, ...args], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
  });
}

export function startBridges(
  dir: string,
  ns: NetnsInfo,
  apiserverPort: number,
): { bridgeHost: number; bridgeNetns: number } {
  const sock = join(dir, "apiserver.sock");
  const script = join(REPO, "test/harness/bridge.ts");
  const hostLog = openSync(join(dir, "logs", "bridge-host.log"), "a");
  const host = spawn(process.execPath, [script, "unix-to-tcp", sock, `127.0.0.1:${apiserverPort}`], {
    detached: true,
    stdio: ["ignore", hostLog, hostLog],
  });
  closeSync(hostLog);
  host.unref();
  if (host.pid === undefined) throw new Error("could not start the host-side bridge");
  const inside = startInNetns(dir, ns, "bridge-netns", process.execPath, [
    script,
    "tcp-to-unix",
    `127.0.0.1:${apiserverPort}`,
    sock,
  ]);
  return { bridgeHost: host.pid, bridgeNetns: inside };
}

export function kubeProxyArgs(kubeconfig: string, nodeName: string): string[] {
  return [
    `--kubeconfig=${kubeconfig}`,
    "--proxy-mode=nftables",
    `--hostname-override=${nodeName}`,
    `--cluster-cidr=${POD_CIDR}`,
    // Leave the (host-wide) conntrack sysctls alone: a namespace cannot set most of them.
    "--conntrack-max-per-core=0",
    "--conntrack-tcp-timeout-established=0",
    "--conntrack-tcp-timeout-close-wait=0",
    "--metrics-bind-address=127.0.0.1:10249",
    "--healthz-bind-address=127.0.0.1:10256",
  ];
}

/** Pids of every process whose network namespace is the holder's (what `netns-exec` left running). */
export function processesInNetns(ns: NetnsInfo): number[] {
  let id: string;
  try {
    id = netnsId(ns.pid);
  } catch {
    return [];
  }
  const out: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (pid === ns.pid) continue;
    try {
      if (readlinkSync(`/proc/${pid}/ns/net`) === id) out.push(pid);
    } catch {
      // gone, or not ours to read
    }
  }
  return out;
}

export function netnsExists(ns: NetnsInfo): boolean {
  return existsSync(`/proc/${ns.pid}/ns/net`);
}
