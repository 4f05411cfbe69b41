/**
 * The Gateway API as the product's e2e files without a data plane use it: the HTTPRoute type (the runner's
 * startCluster installs the Gateway API CRDs, test/harness/gateway-api.ts) and the weights of a route as
 * kubectl reads them.
 */
import { kubectl, waitUntil } from "./lib.ts";

const CRD = "httproutes.gateway.networking.k8s.io";

/** The cluster serves HTTPRoutes (the runner installed the CRD): established and in discovery. */
export async function ensureHTTPRouteCrd(): Promise<void> {
  await kubectl(["wait", "--for=condition=Established", `crd/${CRD}`, "--timeout=60s"]);
  await waitUntil("HTTPRoutes served", 30_000, async () => {
    await kubectl(["get", "httproutes", "-A", "--request-timeout=5s"]);
    return true;
  });
}

export interface RouteWeights {
  readonly [service: string]: number | undefined;
}

/** The weight of each backendRef of the route's first rule, by Service name. */
export async function routeWeights(ns: string, name: string): Promise<RouteWeights> {
  const r = JSON.parse(await kubectl(["get", "httproute", name, "-n", ns, "-o", "json"])) as {
    spec?: { rules?: { backendRefs?: { name: string; weight?: number }[] }[] };
  };
  return Object.fromEntries((r.spec?.rules?.[0]?.backendRefs ?? []).map((b) => [b.name, b.weight]));
}
