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
import {
  type Prometheus,
  podsimScrapeConfig,
  prometheusInstalled,
  startPrometheus,
} from "../test/harness/prometheus.ts";
import { startTraffic, type Traffic } from "../test/harness/traffic.ts";

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

/** The load on the active Service, and a name (the image tag) for each revision it sees. */
let traffic: Traffic | undefined;
const revisionNames = new Map<string, string>();
let trafficShownAt = 0;

/**
 * `traffic  v1 ███████░ 88%  v2 █░░░░░░░ 12%  failed 0`: the latest second's requests by the
 * revision that answered them (through the ClusterIP, kube-proxy, to the pod), and failures so far.
 */
function trafficLine(t: Traffic): string {
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

async function main(): Promise<void> {
  step(
    "Local control plane (etcd, kube-apiserver, controller-manager, scheduler, kwok; kube-proxy and podsim in its network namespace)",
  );
  await stopCluster(dir);
  await startCluster(dir, { log: (l) => say(l) });
  say(
    kubectl(["get", "nodes"])
      .trim()
      .split("\n")
      .join(`\n${" ".repeat(10)}`),
  );

  // Prometheus scraping the pods' request counters, for the dashboard's traffic chart; it starts while
  // the rollout begins and stays up with the cluster (make cluster-down stops it).
  const prometheus: Promise<Prometheus | undefined> = prometheusInstalled()
    ? startPrometheus(
        { scrapeConfigs: podsimScrapeConfig() },
        { cluster: { dir, keepAs: "prometheus" } },
      ).catch((err: unknown) => {
        say(`Prometheus did not start (the dashboard's traffic chart needs it): ${String(err)}`);
        return undefined;
      })
    : Promise.resolve(undefined);

  step("Install the CRD and start the operator (inside the cluster's network namespace)");
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
  kubectl(["create", "namespace", NS]);

  try {
    step(`Apply examples/${NAME}.yaml (image v1): first deployment goes to blue`);
    kubectl(["apply", "-n", NS, "-f", join(repo, `examples/${NAME}.yaml`)]);
    const v1 = await watchUntil("v1 Stable", (s) => s.phase === "Stable" && s.activeColor === "blue");
    revisionNames.set(v1.activeRevision ?? "", "v1");

    const ip = kubectl(["get", "service", NAME, "-n", NS, "-o", "jsonpath={.spec.clusterIP}"]).trim();
    step(
      `Steady traffic: 50 requests/s to the active Service (http://${ip}/) from inside the cluster's network`,
    );
    say(`what each request sees: ${paths.netnsExec} curl -s http://${ip}/`);
    say(execFileSync(paths.netnsExec, ["curl", "-s", `http://${ip}/`], { encoding: "utf8" }).trim());
    traffic = startTraffic(paths.netnsExec, { url: `http://${ip}/`, rps: 50, seconds: 300 });

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
    revisionNames.set(waiting.previewRevision ?? "", "v2");

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

    if (traffic !== undefined) {
      const report = await traffic.stop();
      traffic = undefined;
      step("Traffic totals");
      const by = Object.entries(report.byRevision)
        .map(([rev, n]) => `${revisionNames.get(rev) ?? rev} ${n}`)
        .join(", ");
      say(`${report.requests} requests: ${by}; failed ${report.failed} ${JSON.stringify(report.failures)}`);
      for (const sw of report.switches)
        say(
          `${revisionNames.get(sw.from) ?? sw.from} → ${revisionNames.get(sw.to) ?? sw.to}: both answered for ${sw.mixedMs} ms`,
        );
    }

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
    const prom = await prometheus;
    const plugin = `KUBECONFIG=${paths.kubeconfig} ${process.execPath} ${join(repo, "src/cli/main.ts")}`;
    if (prom !== undefined) {
      console.log(
        `Prometheus (inside the cluster's network, scraping every pod's requests) answers at ${prom.url}. The dashboard, with the switch's traffic (last 10 minutes) on its chart:`,
      );
      console.log(`  ${plugin} dashboard -n ${NS} --prometheus ${prom.url}`);
      console.log(
        `  (kubectl bluegreen dashboard -n ${NS} --prometheus ${prom.url} with the plugin on your PATH)`,
      );
    } else {
      console.log("The dashboard (install the Debian prometheus package for its traffic chart):");
      console.log(`  ${plugin} dashboard -n ${NS}`);
    }
  } finally {
    await traffic?.stop();
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
