#!/usr/bin/env node
/**
 * The operator process: flags → kubeconfig → controller, with health probes and graceful shutdown.
 */
import { createServer, type Server } from "node:http";
import { Command, Option } from "commander";
import { pino } from "pino";
import { BlueGreenController } from "../controller/controller.ts";
import { KubeClient, loadKubeConfig } from "../controller/kube.ts";

interface Flags {
  kubeconfig?: string;
  namespace: string[];
  workers: number;
  logLevel: string;
  healthProbeBindAddress: string;
}

function parseFlags(argv: readonly string[]): Flags {
  const program = new Command("bluegreen-operator")
    .description("Zero-downtime blue-green releases through one custom resource, BlueGreenDeployment.")
    .addOption(
      new Option(
        "--kubeconfig <path>",
        "kubeconfig file (default: $KUBECONFIG, ~/.kube/config, in-cluster)",
      ).env("KUBECONFIG"),
    )
    .addOption(
      new Option("-n, --namespace <ns>", "watch only this namespace (repeatable); default: all namespaces")
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
        .argParser((v) => Number.parseInt(v, 10))
        .default(4),
    )
    .addOption(
      new Option("--log-level <level>", "log level")
        .choices(["debug", "info", "warn", "error"])
        .env("BGO_LOG_LEVEL")
        .default("info"),
    )
    .addOption(
      new Option("--health-probe-bind-address <addr>", "address of /healthz and /readyz (empty disables)")
        .env("BGO_HEALTH_PROBE_BIND_ADDRESS")
        .default(":8081"),
    )
    .showHelpAfterError()
    .parse(argv as string[]);
  return program.opts<Flags>();
}

function listen(server: Server, addr: string): Promise<void> {
  const i = addr.lastIndexOf(":");
  const host = addr.slice(0, i) || undefined;
  const port = Number(addr.slice(i + 1));
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve());
  });
}

async function main(): Promise<void> {
  const flags = parseFlags(process.argv);
  const log = pino({ level: flags.logLevel, base: { component: "bluegreen-operator" } });
  const kc = loadKubeConfig(flags.kubeconfig);
  const client = new KubeClient(kc);
  const controller = new BlueGreenController({
    client,
    namespaces: flags.namespace,
    workers: flags.workers,
    log,
  });

  let ready = false;
  let health: Server | undefined;
  if (flags.healthProbeBindAddress !== "") {
    health = createServer((req, res) => {
      const ok = req.url === "/healthz" ? true : req.url === "/readyz" ? ready : undefined;
      res.writeHead(ok === undefined ? 404 : ok ? 200 : 503, { "content-type": "text/plain" });
      res.end(ok === undefined ? "not found\n" : ok ? "ok\n" : "caches not synced\n");
    });
    await listen(health, flags.healthProbeBindAddress);
  }

  const abort = new AbortController();
  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, "Shutting down");
    abort.abort();
    await controller.stop();
    health?.close();
    log.info({}, "Stopped");
    process.exit(0);
  };
  process.on("SIGTERM", () => void shutdown("SIGTERM"));
  process.on("SIGINT", () => void shutdown("SIGINT"));

  log.info(
    { namespaces: flags.namespace.length === 0 ? "all" : flags.namespace, workers: flags.workers },
    "Starting bluegreen-operator",
  );
  await controller.start(abort.signal);
  ready = true;
}

main().catch((err: unknown) => {
  process.stderr.write(`bluegreen-operator: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
