/**
 * The Gateway API's HTTPRoute CRD for e2e files that need the type but not a data plane (admission, the
 * operator's weight writes as kubectl and the audit log see them). One place, so that once the e2e runner
 * installs the Gateway API itself this becomes a check that it did. The CRD comes from the Go module the
 * gateway data plane pins (sigs.k8s.io/gateway-api v1.3.0, standard channel), found through the module cache.
 */
import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { KubectlError, kubectl, waitUntil } from "./lib.ts";

const run = promisify(execFile);
export const GATEWAY_API_MODULE = "sigs.k8s.io/gateway-api@v1.3.0";
const CRD = "httproutes.gateway.networking.k8s.io";

/** Installs the HTTPRoute CRD unless the cluster serves it already (the runner's, or another file's). */
export async function ensureHTTPRouteCrd(): Promise<void> {
  const present = await kubectl(["get", "crd", CRD, "--ignore-not-found", "-o", "name"]);
  if (present.trim() === "") {
    const { stdout } = await run("go", ["mod", "download", "-json", GATEWAY_API_MODULE], {
      env: { ...process.env, GOFLAGS: "-mod=mod" },
    });
    const dir = (JSON.parse(stdout) as { Dir?: string }).Dir;
    if (dir === undefined) throw new Error(`go mod download gave no Dir for ${GATEWAY_API_MODULE}`);
    const file = join(dir, "config/crd/standard/gateway.networking.k8s.io_httproutes.yaml");
    try {
      await kubectl(["create", "-f", file]);
    } catch (err) {
      // Another file, at the same moment.
      if (!(err instanceof KubectlError && err.stderr.includes("AlreadyExists"))) throw err;
    }
  }
  await kubectl(["wait", "--for=condition=Established", `crd/${CRD}`, "--timeout=60s"]);
  // Discovery (kubectl's cache, the API server's aggregated list) follows Established by a moment.
  await waitUntil("HTTPRoutes served", 30_000, async () => {
    await kubectl(["get", "httproutes", "-A", "--request-timeout=5s"]);
    return true;
  });
}

/** An HTTPRoute whose one rule sends to the active and the preview Service, and to `others` (weights as given). */
export function httpRoute(
  name: string,
  backends: readonly { readonly name: string; readonly weight?: number }[],
  extra: Record<string, unknown> = {},
): string {
  return JSON.stringify({
    apiVersion: "gateway.networking.k8s.io/v1",
    kind: "HTTPRoute",
    metadata: { name },
    spec: {
      parentRefs: [{ name: "public" }],
      hostnames: ["shop.example.com"],
      rules: [
        {
          matches: [{ path: { type: "PathPrefix", value: "/" } }],
          backendRefs: backends.map((b) => ({
            name: b.name,
            port: 80,
            ...(b.weight !== undefined ? { weight: b.weight } : {}),
          })),
        },
      ],
      ...extra,
    },
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
