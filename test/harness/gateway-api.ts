/**
 * The Gateway API on the local control plane: its CRDs (standard channel, from the module Contour pins)
 * and Contour's own, installed once per cluster with one GatewayClass for Contour; and the objects a test
 * writes to route through it (a Gateway, an HTTPRoute). The processes that serve those routes (Contour and
 * Envoy, inside the cluster's network namespace) are gateway.ts.
 *
 * Standard channel, not experimental: it is what clusters install, so the product is proven against the
 * HTTPRoute schema users have; Contour is told not to watch the experimental kinds (TLSRoute, TCPRoute,
 * BackendTLSPolicy) that channel lacks (gateway.ts).
 */
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { versionsVar } from "./versions.ts";

/** The GatewayClass every local gateway uses: Contour's controller name (its gatewayRef mode ignores it). */
export const GATEWAY_CLASS = "contour";
const CONTOUR_CONTROLLER = "projectcontour.io/gateway-controller";

export function gatewayClassYaml(): string {
  return JSON.stringify({
    apiVersion: "gateway.networking.k8s.io/v1",
    kind: "GatewayClass",
    metadata: { name: GATEWAY_CLASS },
    spec: { controllerName: CONTOUR_CONTROLLER },
  });
}

/** The CRD files build-binaries.sh copied into the gateway cache; throws when they are missing. */
export function gatewayCrdFiles(): string[] {
  const dir = versionsVar("BGO_GATEWAY_CRDS");
  const files = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith(".yaml")) : [];
  if (!files.some((f) => f.includes("httproutes")) || !files.some((f) => f.startsWith("projectcontour")))
    throw new Error(`the Gateway API CRDs are missing from ${dir}: run hack/build-binaries.sh`);
  return files.sort().map((f) => join(dir, f));
}

/**
 * Installs the Gateway API and Contour CRDs (server-side apply: idempotent, and no 256 KiB
 * last-applied annotation for these large schemas) and the GatewayClass, and waits until they are
 * served. Safe to run again on a cluster that has them.
 */
export function installGatewayApi(kubectl: string, kubeconfig: string): void {
  const run = (args: string[], input?: string) =>
    execFileSync(kubectl, ["--kubeconfig", kubeconfig, ...args], {
      encoding: "utf8",
      input,
      stdio: ["pipe", "pipe", "pipe"],
    });
  const files = gatewayCrdFiles();
  run(["apply", "--server-side", "--force-conflicts", ...files.flatMap((f) => ["-f", f])]);
  run(["wait", "--for=condition=Established", "--timeout=60s", ...files.flatMap((f) => ["-f", f])]);
  run(["apply", "--server-side", "--force-conflicts", "-f", "-"], gatewayClassYaml());
}

/** The Gateway a test's Contour serves: one HTTP listener (port 80, so Envoy listens on 8080). */
export function gatewayYaml(namespace: string, name: string): string {
  return JSON.stringify({
    apiVersion: "gateway.networking.k8s.io/v1",
    kind: "Gateway",
    metadata: { name, namespace },
    spec: {
      gatewayClassName: GATEWAY_CLASS,
      // Routes from any namespace may attach: the product's tests put a route beside each BGD.
      listeners: [
        { name: "http", protocol: "HTTP", port: 80, allowedRoutes: { namespaces: { from: "All" } } },
      ],
    },
  });
}

export interface RouteBackend {
  /** A Service in the route's namespace. */
  readonly name: string;
  readonly port?: number;
  /** Omitted: the Gateway API default (1). */
  readonly weight?: number;
}

export interface HttpRouteOptions {
  readonly namespace: string;
  readonly name: string;
  /** The Gateway the route attaches to. */
  readonly gateway: { readonly namespace: string; readonly name: string };
  /** Requests with this Host header match (each test its own, so routes on one gateway never overlap). */
  readonly hostname: string;
  readonly backends: readonly RouteBackend[];
}

/** An HTTPRoute with one rule sending every path to `backends` (by weight). */
export function httpRouteYaml(o: HttpRouteOptions): string {
  return JSON.stringify({
    apiVersion: "gateway.networking.k8s.io/v1",
    kind: "HTTPRoute",
    metadata: { name: o.name, namespace: o.namespace },
    spec: {
      parentRefs: [{ name: o.gateway.name, namespace: o.gateway.namespace }],
      hostnames: [o.hostname],
      rules: [
        {
          backendRefs: o.backends.map((b) => ({
            name: b.name,
            port: b.port ?? 80,
            ...(b.weight !== undefined ? { weight: b.weight } : {}),
          })),
        },
      ],
    },
  });
}
