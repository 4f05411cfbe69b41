/**
 * Runs the real operator process for an e2e test: namespaced to the test's own namespaces (so
 * parallel tests never share an operator), as it runs in a cluster (a ServiceAccount of its own, the
 * generated RBAC and a token: see identity.ts, not a cluster admin), with its logs in the cluster's
 * log directory.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { closeSync, existsSync, openSync } from "node:fs";
import { join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { describeAudit } from "./audit.ts";
import {
  grantRbac,
  type RbacMode,
  refusedRequests,
  revokeRbac,
  type ServiceAccountRef,
  serviceAccountKubeconfig,
  serviceAccountUser,
} from "./identity.ts";
import { env } from "./lib.ts";

const REPO = resolve(import.meta.dirname, "../..");

export interface OperatorProcess {
  readonly child: ChildProcess;
  readonly logFile: string;
  /** Who the API server (and its audit log) knows the operator as. */
  readonly user: string;
  /**
   * SIGKILL: no cleanup, no graceful shutdown (a crash). Then fails like stop on a refused request
   * (among those the audit log has flushed by then: no wait, kill -9 tests restart at once).
   */
  kill(): Promise<void>;
  /**
   * SIGTERM and wait for exit; then fails if the API server refused (RBAC) a request of the
   * operator's ServiceAccount since it first started that its RBAC still does not allow: a permission
   * the generated RBAC lacks (see refusedRequests).
   */
  stop(): Promise<void>;
}

export interface OperatorOptions {
  readonly namespaces: readonly string[];
  readonly args?: readonly string[];
  /**
   * How the operator's ServiceAccount is granted the generated RBAC (deploy/rbac): "namespaced" (a
   * Role and RoleBinding in each watched namespace; the default for one namespace) or "cluster" (the
   * ClusterRole with a ClusterRoleBinding; the default for several). With --leader-elect in `args`,
   * the leader-election Role is bound in --leader-elect-namespace too. "none": the test grants the
   * ServiceAccount (`serviceAccount`, which it made) what it wants itself.
   */
  readonly rbac?: RbacMode | "none";
  /**
   * The ServiceAccount the operator runs as; default `bluegreen-operator` in the first watched
   * namespace (the same for every operator started on those namespaces, e.g. after a crash, so the
   * audit log shows one operator across restarts).
   */
  readonly serviceAccount?: ServiceAccountRef;
  readonly env?: Readonly<Record<string, string>>;
  /** Suffix of the log file name (several operators in one test). */
  readonly name?: string;
  /**
   * Where the process runs: "cluster" (default) inside the cluster's network namespace, where
   * ClusterIPs and pod IPs answer, as an operator in a cluster would; "host" for a test that
   * reaches the operator's own ports (metrics, health) from the test process.
   */
  readonly network?: "cluster" | "host";
}

/** The namespace of --leader-elect-namespace in `args` when they turn leader election on. */
function leaseNamespace(args: readonly string[]): string | undefined {
  if (!args.some((a) => a === "--leader-elect" || a === "--leader-elect=true")) return undefined;
  const i = args.indexOf("--leader-elect-namespace");
  const ns =
    i >= 0 ? args[i + 1] : args.find((a) => a.startsWith("--leader-elect-namespace="))?.split("=")[1];
  // Outside a pod the operator has no namespace of its own to default to.
  if (ns === undefined) throw new Error("an e2e operator with --leader-elect needs --leader-elect-namespace");
  return ns;
}

/** When each ServiceAccount's operator first started in this process (refusals are counted since then). */
const firstStarted = new Map<string, Date>();
/** Operators running per ClusterRoleBinding: the last one to end deletes it. */
const bindingUsers = new Map<string, number>();
/** The grants made and the token issued, per ServiceAccount, mode, namespaces and Lease. */
const identities = new Map<string, Promise<{ clusterObjects: string[]; kubeconfig: string }>>();

export async function startOperator(opts: OperatorOptions): Promise<OperatorProcess> {
  const first = opts.namespaces[0];
  const sa =
    opts.serviceAccount ??
    (first !== undefined ? { namespace: first, name: "bluegreen-operator" } : undefined);
  if (sa === undefined) throw new Error("an operator watching every namespace needs opts.serviceAccount");
  const rbac = opts.rbac ?? (opts.namespaces.length > 1 ? "cluster" : "namespaced");
  const lease = leaseNamespace(opts.args ?? []);
  const user = serviceAccountUser(sa);
  const grant = JSON.stringify([user, rbac, opts.namespaces, lease]);
  // A restart (after a kill -9) reuses the grants and token: it comes back as fast as a pod would.
  let identity = identities.get(grant);
  if (identity === undefined) {
    identity = (async () => ({
      clusterObjects:
        rbac === "none"
          ? []
          : await grantRbac({
              sa,
              mode: rbac,
              watched: opts.namespaces,
              ...(lease !== undefined ? { leaseNamespace: lease } : {}),
            }),
      kubeconfig: await serviceAccountKubeconfig(sa),
    }))();
    identities.set(grant, identity);
  }
  const { clusterObjects, kubeconfig } = await identity;
  for (const o of clusterObjects) bindingUsers.set(o, (bindingUsers.get(o) ?? 0) + 1);
  const since = firstStarted.get(user) ?? new Date();
  firstStarted.set(user, since);

  const dir = env("BGO_CLUSTER_DIR");
  const logFile = join(
    dir,
    "logs",
    `operator-${opts.namespaces.join("_")}${opts.name ? `-${opts.name}` : ""}.log`,
  );
  const fd = openSync(logFile, "a");
  const netnsExec = join(dir, "netns-exec");
  // BGO_OPERATOR_NETWORK=host puts every test's operator back on the host (to compare, or to debug).
  const network = opts.network ?? (process.env.BGO_OPERATOR_NETWORK === "host" ? "host" : "cluster");
  const inCluster = network === "cluster" && existsSync(netnsExec);
  // netns-exec ends in nsenter's exec: the pid is the operator's own, so kill() is a real kill -9.
  const child = spawn(
    inCluster ? netnsExec : process.execPath,
    [
      ...(inCluster ? [process.execPath] : []),
      // The bundled operator test/run-e2e.ts builds (what the image runs); the sources when run otherwise.
      process.env.BGO_OPERATOR_ENTRY ?? join(REPO, "src/runtime/main.ts"),
      "--kubeconfig",
      kubeconfig,
      ...opts.namespaces.flatMap((n) => ["--namespace", n]),
      "--health-probe-bind-address",
      "",
      // Many operators run at once: no fixed ports (a test of metrics passes its own address).
      "--metrics-bind-address",
      "",
      ...(opts.args ?? []),
    ],
    { stdio: ["ignore", fd, fd], env: { ...process.env, ...(opts.env ?? {}) } },
  );
  closeSync(fd);
  const exited = new Promise<void>((res) => child.once("exit", () => res()));
  let ended = false;
  const end = async () => {
    if (ended) return;
    ended = true;
    // Asked before the grants go: a refusal the RBAC now allows was not a missing permission.
    const refused = await refusedRequests(user, since);
    const last = clusterObjects.filter((o) => {
      const n = (bindingUsers.get(o) ?? 1) - 1;
      bindingUsers.set(o, n);
      return n === 0;
    });
    if (last.length > 0) {
      identities.delete(grant);
      await revokeRbac(last);
    }
    if (refused.length > 0) {
      throw new Error(
        `the API server refused requests of the operator (${user}), which the generated RBAC (deploy/rbac) should allow:\n${describeAudit(refused).join("\n")}`,
      );
    }
  };
  return {
    child,
    logFile,
    user,
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      await exited;
      await end();
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      await Promise.race([exited, sleep(15_000)]);
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      await exited;
      await sleep(1000); // the API server writes its audit log in batches (every 200 ms)
      await end();
    },
  };
}
