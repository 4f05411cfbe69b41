/**
 * The operator's command line. Every flag has an environment equivalent (for a Deployment's `env:`,
 * or a ConfigMap via `envFrom`); a flag given on the command line wins over its variable.
 */
import { readFileSync } from "node:fs";
import { Command, InvalidArgumentError, Option } from "commander";
import pkg from "../../package.json" with { type: "json" };
import type { Shard } from "./shard.ts";

export const VERSION: string = pkg.version;

export interface Flags {
  readonly kubeconfig: string | undefined;
  /** Empty: cluster-wide. */
  readonly namespaces: readonly string[];
  readonly workers: number;
  /** Gate measurements in flight at once, across all BGDs. */
  readonly gateConcurrency: number;
  readonly logLevel: "debug" | "info" | "warn" | "error";
  /** `undefined`: disabled. */
  readonly healthProbeBindAddress: string | undefined;
  /** `undefined`: disabled. */
  readonly metricsBindAddress: string | undefined;
  readonly leaderElection: LeaderElectionFlags | undefined;
  /** The namespace of the cluster-wide bluegreen-notifications ConfigMap; `undefined`: none. */
  readonly notificationsNamespace: string | undefined;
  /** `undefined`: one shard, every BGD (see shard.ts). */
  readonly shard: Shard | undefined;
}

export interface LeaderElectionFlags {
  readonly namespace: string;
  readonly id: string;
  readonly leaseDurationMs: number;
  readonly renewDeadlineMs: number;
  readonly retryPeriodMs: number;
}

/** Where Kubernetes mounts the pod's namespace: the default home of the Lease in a cluster. */
const SERVICE_ACCOUNT_NAMESPACE = "/var/run/secrets/kubernetes.io/serviceaccount/namespace";

const UNITS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** A Go-style duration: `15s`, `500ms`, `1m30s`. Returns milliseconds. */
export function parseDuration(text: string): number {
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h)/gy;
  let total = 0;
  let matched = 0;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    total += Number(m[1]) * (UNITS[m[2] ?? ""] ?? Number.NaN);
    matched = re.lastIndex;
  }
  if (text === "" || matched !== text.length || !Number.isFinite(total) || total <= 0) {
    throw new InvalidArgumentError(`"${text}" is not a positive duration such as 15s, 500ms or 1m`);
  }
  return total;
}

function parseBool(text: string | boolean | undefined): boolean {
  // `--leader-elect` alone means true (commander passes the preset); `--leader-elect=false` and
  // BGO_LEADER_ELECT=false mean false.
  if (text === undefined || typeof text === "boolean") return text ?? true;
  const t = text.toLowerCase();
  if (["true", "1", "yes"].includes(t)) return true;
  if (["false", "0", "no", ""].includes(t)) return false;
  throw new InvalidArgumentError(`"${text}" is not true or false`);
}

function parseIndex(text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`"${text}" is not a whole number ≥ 0`);
  return n;
}

function parseWorkers(text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`"${text}" is not a whole number ≥ 1`);
  return n;
}

/** A bind address as controller-runtime takes it: `:8080`, `127.0.0.1:8080`, `[::1]:0`; "" or "0" disables. */
export function parseBindAddress(text: string): { host: string | undefined; port: number } | undefined {
  if (text === "" || text === "0") return undefined;
  const i = text.lastIndexOf(":");
  const port = Number(text.slice(i + 1));
  if (i < 0 || text.slice(i + 1) === "" || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new InvalidArgumentError(`"${text}" is not an address such as :8080 or 127.0.0.1:8080`);
  }
  const host = text.slice(0, i).replace(/^\[(.*)\]$/, "$1");
  return { host: host === "" ? undefined : host, port };
}

const enabled = (addr: string): string | undefined =>
  parseBindAddress(addr) === undefined ? undefined : addr;

function checkBindAddress(text: string): string {
  parseBindAddress(text);
  return text;
}

interface RawFlags {
  kubeconfig?: string;
  namespace: string[];
  workers: number;
  gateConcurrency: number;
  logLevel: Flags["logLevel"];
  healthProbeBindAddress: string;
  metricsBindAddress: string;
  leaderElect: boolean;
  leaderElectLeaseDuration: number;
  leaderElectRenewDeadline: number;
  leaderElectRetryPeriod: number;
  leaderElectNamespace?: string;
  leaderElectId: string;
  notificationsNamespace?: string;
  shardIndex: number;
  shardCount: number;
}

export function buildCommand(): Command {
  return new Command("bluegreen-operator")
    .description(
      "Zero-downtime blue-green releases through one custom resource, BlueGreenDeployment.\n" +
        "Every flag can also be set by the environment variable shown beside it.",
    )
    .addOption(
      new Option(
        "--kubeconfig <path>",
        "kubeconfig file (default: ~/.kube/config, then the in-cluster ServiceAccount)",
      ).env("KUBECONFIG"),
    )
    .addOption(
      new Option(
        "-n, --namespace <ns>",
        "watch only this namespace (repeatable, or comma-separated); default: all namespaces",
      )
        .env("BGO_NAMESPACES")
        .argParser((v: string, prev: string[] | undefined) => [
          ...(prev ?? []),
          ...v.split(",").filter((s) => s !== ""),
        ])
        .default([]),
    )
    .addOption(
      new Option(
        "--workers <n>",
        "concurrent reconciles (different BGDs; one BGD is never reconciled twice at once)",
      )
        .env("BGO_WORKERS")
        .argParser(parseWorkers)
        .default(4),
    )
    .addOption(
      new Option(
        "--gate-concurrency <n>",
        "gate measurements (http requests, Prometheus queries, finished Jobs) in flight at once, across all BGDs; one BGD measures one at a time",
      )
        .env("BGO_GATE_CONCURRENCY")
        .argParser(parseWorkers)
        .default(16),
    )
    .addOption(
      new Option("--log-level <level>", "log level")
        .choices(["debug", "info", "warn", "error"])
        .env("BGO_LOG_LEVEL")
        .default("info"),
    )
    .addOption(
      new Option("--health-probe-bind-address <addr>", 'address of /healthz and /readyz ("" or "0" disables)')
        .env("BGO_HEALTH_PROBE_BIND_ADDRESS")
        .argParser(checkBindAddress)
        .default(":8081"),
    )
    .addOption(
      new Option(
        "--metrics-bind-address <addr>",
        'address of the Prometheus /metrics endpoint ("" or "0" disables)',
      )
        .env("BGO_METRICS_BIND_ADDRESS")
        .argParser(checkBindAddress)
        .default(":8080"),
    )
    .addOption(
      new Option(
        "--leader-elect [bool]",
        "only the holder of a coordination.k8s.io Lease reconciles (run several replicas)",
      )
        .env("BGO_LEADER_ELECT")
        .argParser(parseBool)
        .preset(true)
        .default(false),
    )
    .addOption(
      new Option(
        "--leader-elect-lease-duration <duration>",
        "how long a standby waits after the last renewal before it takes the Lease over",
      )
        .env("BGO_LEADER_ELECT_LEASE_DURATION")
        .argParser(parseDuration)
        .default(15_000, "15s"),
    )
    .addOption(
      new Option(
        "--leader-elect-renew-deadline <duration>",
        "how long the leader keeps retrying a renewal before it stops writing and exits",
      )
        .env("BGO_LEADER_ELECT_RENEW_DEADLINE")
        .argParser(parseDuration)
        .default(10_000, "10s"),
    )
    .addOption(
      new Option(
        "--leader-elect-retry-period <duration>",
        "how often the leader renews and a standby tries to acquire",
      )
        .env("BGO_LEADER_ELECT_RETRY_PERIOD")
        .argParser(parseDuration)
        .default(2_000, "2s"),
    )
    .addOption(
      new Option(
        "--leader-elect-namespace <ns>",
        "namespace of the Lease (default: the pod's own namespace)",
      ).env("BGO_LEADER_ELECT_NAMESPACE"),
    )
    .addOption(
      new Option("--leader-elect-id <name>", "name of the Lease")
        .env("BGO_LEADER_ELECT_ID")
        .default("bluegreen-operator.bluegreen.io"),
    )
    .addOption(
      new Option(
        "--notifications-namespace <ns>",
        'namespace of the cluster-wide bluegreen-notifications ConfigMap, read where the operator watches (default: the pod\'s own namespace; "" disables)',
      ).env("BGO_NOTIFICATIONS_NAMESPACE"),
    )
    .addOption(
      new Option(
        "--shard-count <n>",
        "operator shards splitting the BGDs by a hash of namespace/name; each needs its own --shard-index",
      )
        .env("BGO_SHARD_COUNT")
        .argParser(parseWorkers)
        .default(1),
    )
    .addOption(
      new Option(
        "--shard-index <i>",
        "this process's shard, 0 … count-1; its leader election uses the Lease <leader-elect-id>-shard-<i>",
      )
        .env("BGO_SHARD_INDEX")
        .argParser(parseIndex)
        .default(0),
    )
    .version(VERSION)
    .showHelpAfterError()
    .allowExcessArguments(false);
}

function podNamespace(): string | undefined {
  try {
    const ns = readFileSync(SERVICE_ACCOUNT_NAMESPACE, "utf8").trim();
    return ns === "" ? undefined : ns;
  } catch {
    return undefined;
  }
}

/**
 * Parses argv (and the environment); exits with usage on a bad flag, like any CLI. `exitOverride`
 * throws a CommanderError instead (tests).
 */
export function parseFlags(argv: readonly string[], opts: { exitOverride?: boolean } = {}): Flags {
  const program: Command = buildCommand();
  if (opts.exitOverride === true) program.exitOverride().configureOutput({ writeErr: () => {} });
  program.parse(argv as string[]);
  const raw = program.opts<RawFlags>();
  let leaderElection: LeaderElectionFlags | undefined;
  if (raw.leaderElect) {
    const namespace = raw.leaderElectNamespace || podNamespace();
    if (namespace === undefined) {
      program.error(
        "error: --leader-elect needs --leader-elect-namespace (or BGO_LEADER_ELECT_NAMESPACE) outside a cluster",
      );
    }
    const lease = raw.leaderElectLeaseDuration;
    const renew = raw.leaderElectRenewDeadline;
    const retry = raw.leaderElectRetryPeriod;
    // client-go's own checks: the leader must give up before a standby may take over, and retry
    // at least once (with jitter) before its deadline.
    if (!(lease > renew))
      program.error("error: --leader-elect-lease-duration must exceed the renew deadline");
    if (!(renew > retry * 1.2)) {
      program.error("error: --leader-elect-renew-deadline must exceed 1.2 × --leader-elect-retry-period");
    }
    leaderElection = {
      namespace,
      id: raw.leaderElectId,
      leaseDurationMs: lease,
      renewDeadlineMs: renew,
      retryPeriodMs: retry,
    };
  }
  if (raw.shardIndex >= raw.shardCount) {
    program.error(`error: --shard-index must be below --shard-count (${raw.shardCount})`);
  }
  return {
    kubeconfig: raw.kubeconfig === "" ? undefined : raw.kubeconfig,
    namespaces: raw.namespace,
    workers: raw.workers,
    gateConcurrency: raw.gateConcurrency,
    logLevel: raw.logLevel,
    healthProbeBindAddress: enabled(raw.healthProbeBindAddress),
    metricsBindAddress: enabled(raw.metricsBindAddress),
    leaderElection,
    notificationsNamespace:
      raw.notificationsNamespace === undefined ? podNamespace() : raw.notificationsNamespace || undefined,
    shard: raw.shardCount === 1 ? undefined : { index: raw.shardIndex, count: raw.shardCount },
  };
}
