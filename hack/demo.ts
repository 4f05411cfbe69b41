/**
 * `make demo`: the local control plane, the operator, and a real blue → green rollout of the
 * article's example, printed as a live timeline. Pods keep kwok's realistic delays (1 s + up to
 * 5 s jitter) so a person can watch the rollout happen. Exits 0 once the rollout is Stable and
 * the old color is scaled down; the cluster stays up for exploring (`make cluster-down` stops it).
 */
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { startCluster, stopCluster } from "../test/harness/cluster.ts";
import {
  type Prometheus,
  podsimScrapeConfig,
  prometheusInstalled,
  startPrometheus,
} from "../test/harness/prometheus.ts";
import { startTraffic, type Traffic } from "../test/harness/traffic.ts";
import {
  dir,
  json,
  kubectl,
  kubectlBin,
  paths,
  repo,
  reportOperatorErrors,
  revisionNames,
  say,
  showTraffic,
  startOperatorProcess,
  step,
  watchUntil,
} from "./demo-lib.ts";

const NS = "demo";
const NAME = "my-awesome-app";
let traffic: Traffic | undefined;

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
  const { process: operator, logFile } = startOperatorProcess();
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
    showTraffic(traffic);

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
      showTraffic(undefined);
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
  reportOperatorErrors(logFile);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(`demo failed: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
