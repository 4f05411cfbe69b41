/**
 * `kubectl bluegreen dashboard`: serves the web dashboard (src/ui/) on 127.0.0.1 with the user's own
 * kubeconfig credentials, prints its URL, and runs until interrupted.
 */
import { loadUiAssets } from "../../ui/assets.ts";
import { DashboardServer } from "../../ui/server.ts";
import { TRAFFIC_DEFAULTS, type TrafficOptions, validMetricName } from "../../ui/traffic.ts";
import { CliError, type Session } from "../session.ts";

export interface DashboardFlags {
  readonly port: string;
  readonly address: string;
  readonly readOnly: boolean;
  /** Prometheus for the traffic chart (its HTTP API's base URL). */
  readonly prometheus?: string | undefined;
  readonly prometheusMetric?: string | undefined;
}

export function parsePort(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535)
    throw new CliError(`error: invalid --port "${v}": use a number from 0 (any free port) to 65535`);
  return n;
}

/** The traffic chart's source from the flags, or undefined without --prometheus. */
export function trafficOptions(flags: DashboardFlags): TrafficOptions | undefined {
  if (flags.prometheus === undefined || flags.prometheus === "") return undefined;
  let url: URL;
  try {
    url = new URL(flags.prometheus);
  } catch {
    throw new CliError(
      `error: invalid --prometheus "${flags.prometheus}": use a URL like http://127.0.0.1:9090`,
    );
  }
  if (url.protocol !== "http:" && url.protocol !== "https:")
    throw new CliError(`error: invalid --prometheus "${flags.prometheus}": use an http:// or https:// URL`);
  const metric = flags.prometheusMetric ?? TRAFFIC_DEFAULTS.metric;
  if (!validMetricName(metric)) throw new CliError(`error: invalid --prometheus-metric "${metric}"`);
  return { ...TRAFFIC_DEFAULTS, prometheus: flags.prometheus, metric };
}

export async function dashboard(
  s: Session,
  flags: DashboardFlags,
  write: (line: string) => void,
  signal: AbortSignal,
): Promise<void> {
  const traffic = trafficOptions(flags);
  const server = new DashboardServer({
    ...(traffic !== undefined ? { traffic } : {}),
    session: s,
    namespace: s.allNamespaces ? undefined : s.namespace,
    readOnly: flags.readOnly,
    address: flags.address,
    port: parsePort(flags.port),
    assets: await loadUiAssets(),
  });
  let url: string;
  try {
    url = await server.start();
  } catch (err) {
    await server.stop().catch(() => {});
    const code = (err as NodeJS.ErrnoException).code;
    throw new CliError(
      code === "EADDRINUSE"
        ? `error: port ${flags.port} on ${flags.address} is in use: choose another with --port (0: any free port)`
        : `error: cannot serve the dashboard on ${flags.address}:${flags.port}: ${(err as Error).message}`,
    );
  }
  const scope = s.allNamespaces ? "all namespaces" : `namespace ${s.namespace}`;
  write(`Dashboard for ${scope} at ${url}${flags.readOnly ? " (read-only)" : ""}`);
  if (traffic !== undefined)
    write(`Traffic chart from Prometheus at ${traffic.prometheus} (${traffic.metric})`);
  write("Press Ctrl+C to stop.");
  await new Promise<void>((resolve) => {
    if (signal.aborted) resolve();
    signal.addEventListener("abort", () => resolve(), { once: true });
  });
  await server.stop();
}
