/**
 * The two systems `make bench-compare` runs through the same scenarios: bluegreen-operator and the anchor,
 * Argo Rollouts v1.10.2 (built by hack/build-argo-rollouts.sh). Each is described by what the scenarios
 * need: how to start its controller (inside the cluster's network namespace, with an identity of its own
 * in the audit log), the objects of one application (1 replica, active and preview Services, manual
 * promotion), how to read "stable", "preview ready" and "switched", and how to promote.
 */
import { execFileSync, spawn } from "node:child_process";
import { closeSync, openSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { bgdManifest } from "../test/e2e/bgd.ts";
import { type ClusterPaths, clientKubeconfig, freePort } from "../test/harness/cluster.ts";
import { NO_DELAY, operatorEnv } from "./common.ts";

const repo = resolve(import.meta.dirname, "..");

/** The state of one application, as the scenarios read it. */
export interface AppState {
  /** The revision the active Service serves. */
  readonly active: string;
  /** The newest revision, once its preview is ready for promotion (else undefined). */
  readonly previewReady?: string;
  readonly stable: boolean;
}

export interface Controller {
  readonly pid: number;
  readonly log: string;
  stop(): Promise<void>;
}

export interface System {
  readonly name: string;
  /** Who its controller is in the audit log. */
  readonly user: string;
  /** Starts its controller for namespace `ns`; resolves once its caches are synced. */
  start(ns: string, label: string): Promise<Controller>;
  /** The objects of one application (to apply in a List). */
  objects(name: string, image: string): Record<string, unknown>[];
  /** How many applications in `ns` are stable (Stable / Healthy). */
  stableCount(ns: string): number;
  state(ns: string, name: string): AppState;
  promote(ns: string, name: string, revision: string): void;
  /** The resource its promote request patches (to find it in the audit log). */
  readonly promoteResource: string;
}

type Kubectl = (args: string[], input?: string) => string;

/** The pod template both systems run: 1 replica, pods ready at once, the default 30 s grace period. */
function podTemplate(name: string, image: string) {
  return {
    metadata: { labels: { app: name }, annotations: { ...NO_DELAY } },
    spec: { containers: [{ name: "app", image, ports: [{ containerPort: 8080 }] }] },
  };
}

/** Starts `bin args` in the cluster's network namespace; resolves once its log says `ready`. */
async function startInCluster(
  paths: ClusterPaths,
  label: string,
  argv: string[],
  ready: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<Controller> {
  const log = join(paths.dir, "logs", `${label}.log`);
  const fd = openSync(log, "a");
  // netns-exec ends in nsenter's exec: the pid is the controller's own (its RSS, its CPU).
  const child = spawn(paths.netnsExec, argv, { stdio: ["ignore", fd, fd], env });
  closeSync(fd);
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  const deadline = Date.now() + 600_000;
  while (!readFileSync(log, "utf8").includes(ready)) {
    if (child.exitCode !== null) throw new Error(`${label} exited (${log})`);
    if (Date.now() > deadline) throw new Error(`${label} not ready after 600 s (${log})`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    pid: child.pid ?? 0,
    log,
    stop: async () => {
      child.kill("SIGTERM");
      await exited;
    },
  };
}

export function bluegreenOperator(paths: ClusterPaths, k: Kubectl, entry: string): System {
  return {
    name: "bluegreen-operator",
    user: "bluegreen-operator",
    promoteResource: "bluegreendeployments",
    start: async (ns, label) => {
      const metrics = await freePort();
      const args = ["--kubeconfig", paths.operatorKubeconfig, "--namespace", ns];
      args.push("--health-probe-bind-address", "", "--metrics-bind-address", `127.0.0.1:${metrics}`);
      return await startInCluster(
        paths,
        label,
        [process.execPath, entry, ...args],
        "Caches synced",
        operatorEnv(),
      );
    },
    objects: (name, image) => {
      const doc = JSON.parse(bgdManifest(name, { image, replicas: 1 })) as Record<
        string,
        { template: unknown }
      >;
      const spec = doc.spec as { template: unknown };
      spec.template = podTemplate(name, image);
      return [doc];
    },
    stableCount: (ns) =>
      k(["get", "bgd", "-n", ns, "-o", "jsonpath={.items[*].status.phase}"])
        .split(" ")
        .filter((p) => p === "Stable").length,
    state: (ns, name) => {
      const s = JSON.parse(k(["get", "bgd", name, "-n", ns, "-o", "jsonpath={.status}"]) || "{}") as {
        phase?: string;
        activeRevision?: string;
        previewRevision?: string;
      };
      const ready = s.phase === "AwaitingPromotion" && s.previewRevision !== s.activeRevision;
      return {
        active: s.activeRevision ?? "",
        ...(ready && s.previewRevision !== undefined ? { previewReady: s.previewRevision } : {}),
        stable: s.phase === "Stable",
      };
    },
    // What `kubectl bluegreen promote` does: approve this revision.
    promote: (ns, name, revision) => {
      k(["annotate", "bgd", name, "-n", ns, `bluegreen.io/promote=${revision}`, "--overwrite"]);
    },
  };
}

/** Where hack/build-argo-rollouts.sh put the controller, the plugin and the CRDs. */
export function anchorBin(): string {
  return execFileSync("bash", ["-c", `source "${repo}/hack/versions.sh" && echo "$BGO_ANCHOR_BIN"`], {
    encoding: "utf8",
  }).trim();
}

export function argoRollouts(paths: ClusterPaths, k: Kubectl): System {
  const bin = anchorBin();
  const kubeconfig = clientKubeconfig(paths.dir, "argo-rollouts");
  k(["apply", "--server-side", "-f", join(bin, "..", "crds")]);
  k(["wait", "--for=condition=Established", "crd", "--all"]);
  const service = (name: string, app: string) => ({
    apiVersion: "v1",
    kind: "Service",
    metadata: { name },
    spec: { selector: { app }, ports: [{ name: "http", port: 80, targetPort: 8080 }] },
  });
  return {
    name: "Argo Rollouts v1.10.2",
    user: "argo-rollouts",
    promoteResource: "rollouts",
    start: async (ns, label) => {
      const ports = [await freePort(), await freePort()];
      const args = ["--kubeconfig", kubeconfig, "--namespaced", "--namespace", ns, "--leader-elect=false"];
      args.push("--metricsPort", String(ports[0]), "--healthzPort", String(ports[1]));
      return await startInCluster(
        paths,
        label,
        [join(bin, "rollouts-controller"), ...args],
        "Started rollout workers",
      );
    },
    objects: (name, image) => [
      service(name, name),
      service(`${name}-preview`, name),
      {
        apiVersion: "argoproj.io/v1alpha1",
        kind: "Rollout",
        metadata: { name },
        spec: {
          replicas: 1,
          selector: { matchLabels: { app: name } },
          template: podTemplate(name, image),
          strategy: {
            blueGreen: {
              activeService: name,
              previewService: `${name}-preview`,
              autoPromotionEnabled: false,
            },
          },
        },
      },
    ],
    stableCount: (ns) =>
      k(["get", "rollouts.argoproj.io", "-n", ns, "-o", "jsonpath={.items[*].status.phase}"])
        .split(" ")
        .filter((p) => p === "Healthy").length,
    state: (ns, name) => {
      const s = JSON.parse(
        k(["get", "rollouts.argoproj.io", name, "-n", ns, "-o", "jsonpath={.status}"]) || "{}",
      ) as {
        phase?: string;
        currentPodHash?: string;
        blueGreen?: { activeSelector?: string; previewSelector?: string };
      };
      const active = s.blueGreen?.activeSelector ?? "";
      const cur = s.currentPodHash;
      // Paused (BlueGreenPause) once the new ReplicaSet is available behind the preview Service.
      const ready =
        s.phase === "Paused" && cur !== undefined && cur !== active && s.blueGreen?.previewSelector === cur;
      return {
        active,
        ...(ready ? { previewReady: cur } : {}),
        stable: s.phase === "Healthy" && cur === active,
      };
    },
    promote: (ns, name) => {
      execFileSync(
        join(bin, "kubectl-argo-rollouts"),
        ["--kubeconfig", paths.kubeconfig, "promote", name, "-n", ns],
        {
          stdio: ["ignore", "ignore", "pipe"],
        },
      );
    },
  };
}
