/**
 * `make demo-canary`: the local control plane, the operator, a real Gateway (Contour + Envoy in the cluster's
 * network namespace) and an HTTPRoute whose weights the operator moves: v1 → v2 through canary steps 10 % →
 * 50 % → switch, with a steady load through Envoy and, every second, the share of requests each revision
 * answered. Exits 0 once v2 is Stable with no failed request; the cluster stays up for exploring
 * (`make cluster-down` stops it and the gateway).
 */
import { type Gateway, startGateway } from "../test/harness/gateway.ts";
import { httpRouteYaml } from "../test/harness/gateway-api.ts";
import { startTraffic } from "../test/harness/traffic.ts";
import {
  dir,
  kubectl,
  paths,
  printTotals,
  run,
  say,
  startDemo,
  step,
  stopDemo,
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
  const d = await startDemo(NS, NAME);
  let gw: Gateway | undefined;
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
    const v1 = await watchUntil(d, "v1 Stable", (s) => s.phase === "Stable" && s.activeColor === "blue");
    d.revisionNames.set(v1.activeRevision ?? "", "v1");

    step(`Steady traffic through Envoy: 50 requests/s with Host: ${HOST}`);
    await gw.waitServing(HOST);
    d.traffic = startTraffic(paths.netnsExec, { url: `${gw.url}/`, host: HOST, rps: 50, seconds: 400 });

    step("v2: the preview first, then the route's weights step by step (the traffic line shows the share)");
    kubectl(["apply", "-n", NS, "-f", "-"], bgd("shop:v2"));
    const preview = await watchUntil(d, "the canary", (s) => s.previewRevision !== undefined);
    d.revisionNames.set(preview.previewRevision ?? "", "v2");
    await watchUntil(d, "v2 Stable", (s) => s.phase === "Stable" && s.activeColor === "green", 400_000);
    say(
      `route weights now: ${kubectl(["get", "httproute", NAME, "-n", NS, "-o", "jsonpath={.spec.rules[0].backendRefs[*].weight}"])}`,
    );

    const report = await d.traffic.stop();
    d.traffic = undefined;
    step("Traffic totals");
    printTotals(d, report);
    if (report.failed > 0) throw new Error(`${report.failed} requests failed through the canary`);
    console.log(kubectl(["get", "bgd,httproute", "-n", NS]));
    console.log(
      `The cluster is still up: export KUBECONFIG=${paths.kubeconfig}; stop it with make cluster-down`,
    );
  } finally {
    await gw?.stop();
    await stopDemo(d);
  }
}

run(main, "demo-canary");
