/**
 * `make demo`: the local control plane, the operator, and a real blue → green rollout of the
 * article's example, printed as a live timeline. Pods keep kwok's realistic delays (1 s + up to
 * 5 s jitter) so a person can watch the rollout happen. Exits 0 once the rollout is Stable and
 * the old color is scaled down; the cluster stays up for exploring (`make cluster-down` stops it).
 */
import { execFileSync, spawn } from "node:child_process";
import { existsSync, openSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { binDir, clusterPaths, startCluster, stopCluster } from "../test/harness/cluster.ts";

const repo = resolve(import.meta.dirname, "..");
const dir = join(repo, ".cluster");
const paths = clusterPaths(dir);
const kubectlBin = join(binDir(), "kubectl");
const started = Date.now();
const NS = "demo";
const NAME = "my-awesome-app";

const bold = (s: string) => (process.stdout.isTTY ? `\x1b[1m${s}\x1b[0m` : s);
const color = (c: string | undefined) =>
  !process.stdout.isTTY || c === undefined
    ? (c ?? "-")
    : c === "blue"
      ? `\x1b[34m${c}\x1b[0m`
      : `\x1b[32m${c}\x1b[0m`;
const stamp = () => `[+${((Date.now() - started) / 1000).toFixed(1).padStart(5)}s]`;
const say = (s: string) => console.log(`${stamp()} ${s}`);
const step = (s: string) => console.log(`\n${stamp()} ${bold(`== ${s}`)}`);

function kubectl(args: string[], input?: string): string {
  return execFileSync(kubectlBin, ["--kubeconfig", paths.kubeconfig, ...args], {
    encoding: "utf8",
    input,
    stdio: ["pipe", "pipe", "pipe"],
  });
}
function json<T>(args: string[]): T | undefined {
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
function snapshot(): { line: string; status: Status } {
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

async function watchUntil(what: string, done: (s: Status) => boolean, timeoutMs = 180_000): Promise<Status> {
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
    if (done(status)) {
      // done() may have read the cluster after the snapshot: show the state it saw too.
      show();
      return status;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(250);
  }
}

async function main(): Promise<void> {
  step("Local control plane (etcd, kube-apiserver, controller-manager, scheduler, kwok)");
  await stopCluster(dir);
  await startCluster(dir, { log: (l) => say(l) });
  say(
    kubectl(["get", "nodes"])
      .trim()
      .split("\n")
      .join(`\n${" ".repeat(10)}`),
  );

  step("Install the CRD and start the operator");
  kubectl(["apply", "--server-side", "-f", join(repo, "deploy/crd/")]);
  kubectl(["wait", "--for=condition=Established", "--timeout=60s", "crd/bluegreendeployments.bluegreen.io"]);
  const logFile = join(dir, "logs", "operator.log");
  const operator = spawn(
    process.execPath,
    [
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
  kubectl(["create", "namespace", NS]);

  try {
    step(`Apply examples/${NAME}.yaml (image v1): first deployment goes to blue`);
    kubectl(["apply", "-n", NS, "-f", join(repo, `examples/${NAME}.yaml`)]);
    await watchUntil("v1 Stable", (s) => s.phase === "Stable" && s.activeColor === "blue");

    step("Change the image to v2: it goes to the idle color (green) only; blue keeps serving");
    kubectl([
      "patch",
      "bgd",
      NAME,
      "-n",
      NS,
      "--type",
      "json",
      "-p",
      JSON.stringify([
        {
          op: "replace",
          path: "/spec/template/spec/containers/0/image",
          value: "myregistry.com/my-awesome-app:v2",
        },
        { op: "add", path: "/spec/strategy/scaleDownDelaySeconds", value: 10 },
      ]),
    ]);
    const waiting = await watchUntil("AwaitingPromotion", (s) => s.phase === "AwaitingPromotion");

    step(`Promote exactly revision ${waiting.previewRevision}`);
    say(`kubectl annotate bgd ${NAME} bluegreen.io/promote=${waiting.previewRevision}`);
    kubectl(["annotate", "bgd", NAME, "-n", NS, `bluegreen.io/promote=${waiting.previewRevision}`]);
    await watchUntil("Stable on green", (s) => s.phase === "Stable" && s.activeColor === "green");

    step("Blue stays warm for instant rollback, then scales down after scaleDownDelaySeconds (10 s)");
    await watchUntil("blue scaled down", () => {
      const d = json<{ spec: { replicas: number }; status: { replicas?: number } }>([
        "get",
        "deployment",
        `${NAME}-blue`,
        "-n",
        NS,
      ]);
      return d?.spec.replicas === 0 && (d.status.replicas ?? 0) === 0;
    });

    step("Done");
    console.log(kubectl(["get", "bgd,deployments,services", "-n", NS]));
    console.log(
      kubectl([
        "get",
        "events",
        "-n",
        NS,
        "--field-selector",
        "involvedObject.kind=BlueGreenDeployment",
        "--sort-by=.lastTimestamp",
      ]),
    );
    console.log(
      `The cluster is still up: export KUBECONFIG=${paths.kubeconfig}; kubectl at ${kubectlBin}; stop it with make cluster-down`,
    );
  } finally {
    operator.kill("SIGTERM");
  }
  if (existsSync(logFile) && readFileSync(logFile, "utf8").includes('"level":50')) {
    console.log("operator logged errors: see", logFile);
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(`demo failed: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
