/**
 * `make demo-canary`: the local control plane, the operator, a real Gateway (Contour + Envoy in the cluster's
 * network namespace) and an HTTPRoute whose weights the operator moves: v1 → v2 through canary steps 10 % →
 * 50 % → switch, with a steady load through Envoy and, every second, the share of requests each revision
 * answered. Exits 0 once v2 is Stable; the cluster stays up for exploring (`make cluster-down` stops it).
 */
import { startCluster, stopCluster } from "../test/harness/cluster.ts";
import { type Gateway, startGateway } from "../test/harness/gateway.ts";
import { httpRouteYaml } from "../test/harness/gateway-api.ts";
import { startTraffic, type Traffic } from "../test/harness/traffic.ts";
import {
  dir,
  follow,
  kubectl,
  paths,
  reportOperatorErrors,
  revisionNames,
  say,
  showTraffic,
  startOperatorProcess,
  step,
  watchUntil,
} from "./demo-lib.ts";

const NS = "demo-canary";
const NAME = "shop";
const HOST = "shop.demo.test";

function bgd(image: string): string {
  return JSON.stringify({
    apiVersion: "bluegreen.io/v1",
    kind: "BlueGreenDeployment",
    metadata: { name: NAME },
    spec: {
      replicas: 3,
      image,
      trafficRouting: { httpRoute: { name: NAME } },
      strategy: {
        promotion: { mode: "Auto" },
        scaleDownDelaySeconds: 10,
        canary: {
          steps: [
            { setWeight: 10 },
            { pause: { durationSeconds: 15 } },
            { setWeight: 50 },
            { pause: { durationSeconds: 15 } },
          ],
        },
      },
    },
  });
}

async function main(): Promise<void> {
  follow(NS, NAME);
  step("Local control plane, with the Gateway API CRDs and a GatewayClass for Contour");
  await stopCluster(dir);
  await startCluster(dir, { log: (l) => say(l) });
  step("Install the CRD and start the operator (inside the cluster's network namespace)");
  const { process: operator, logFile } = startOperatorProcess();
  kubectl(["create", "namespace", NS]);
  let gw: Gateway | undefined;
  let traffic: Traffic | undefined;
  try {
    step("A Gateway: Contour and Envoy in the cluster's network namespace");
    gw = await startGateway({ clusterDir: dir, namespace: NS, keepAs: "demo-gateway" });
    say(`Envoy listens at ${gw.url} (requests with Host: ${HOST})`);

    step(
      `An HTTPRoute for ${HOST}: 100 to the Service ${NAME}, 0 to ${NAME}-preview (the operator moves these two)`,
    );
    kubectl(
      ["apply", "-f", "-"],
      httpRouteYaml({
        namespace: NS,
        name: NAME,
        hostname: HOST,
        gateway: { namespace: gw.namespace, name: gw.name },
        backends: [
          { name: NAME, weight: 100 },
          { name: `${NAME}-preview`, weight: 0 },
        ],
      }),
    );
    step("The BlueGreenDeployment (v1), with canary steps 10 % → 15 s → 50 % → 15 s → switch");
    kubectl(["apply", "-n", NS, "-f", "-"], bgd("shop:v1"));
    const v1 = await watchUntil("v1 Stable", (s) => s.phase === "Stable" && s.activeColor === "blue");
    revisionNames.set(v1.activeRevision ?? "", "v1");

    step(`Steady traffic through Envoy: 50 requests/s with Host: ${HOST}`);
    await gw.waitServing(HOST);
    traffic = startTraffic(paths.netnsExec, { url: `${gw.url}/`, host: HOST, rps: 50, seconds: 400 });
    showTraffic(traffic);

    step("v2: the preview first, then the route's weights step by step (the traffic line shows the share)");
    kubectl(["apply", "-n", NS, "-f", "-"], bgd("shop:v2"));
    const preview = await watchUntil("the canary", (s) => s.previewRevision !== undefined);
    revisionNames.set(preview.previewRevision ?? "", "v2");
    await watchUntil("v2 Stable", (s) => s.phase === "Stable" && s.activeColor === "green", 400_000);
    say(
      `route weights now: ${kubectl(["get", "httproute", NAME, "-n", NS, "-o", "jsonpath={.spec.rules[0].backendRefs[*].weight}"])}`,
    );

    const report = await traffic.stop();
    traffic = undefined;
    showTraffic(undefined);
    step("Traffic totals");
    const by = Object.entries(report.byRevision)
      .map(([rev, n]) => `${revisionNames.get(rev) ?? rev} ${n}`)
      .join(", ");
    say(`${report.requests} requests: ${by}; failed ${report.failed} ${JSON.stringify(report.failures)}`);
    console.log(kubectl(["get", "bgd,httproute", "-n", NS]));
    console.log(
      `The cluster is still up: export KUBECONFIG=${paths.kubeconfig}; stop it with make cluster-down`,
    );
  } finally {
    await traffic?.stop();
    await gw?.stop();
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
