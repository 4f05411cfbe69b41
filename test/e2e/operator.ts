/**
 * Runs the real operator process for an e2e test: namespaced to the test's own namespaces (so
 * parallel tests never share an operator), with its own client identity (user bluegreen-operator
 * in the audit log) and its logs in the cluster's log directory.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { closeSync, openSync } from "node:fs";
import { join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { env } from "./lib.ts";

const REPO = resolve(import.meta.dirname, "../..");

export interface OperatorProcess {
  readonly child: ChildProcess;
  readonly logFile: string;
  /** SIGKILL: no cleanup, no graceful shutdown (a crash). */
  kill(): Promise<void>;
  /** SIGTERM and wait for exit. */
  stop(): Promise<void>;
}

export interface OperatorOptions {
  readonly namespaces: readonly string[];
  readonly args?: readonly string[];
  readonly kubeconfig?: string;
  readonly env?: Readonly<Record<string, string>>;
  /** Suffix of the log file name (several operators in one test). */
  readonly name?: string;
}

export function startOperator(opts: OperatorOptions): OperatorProcess {
  const dir = env("BGO_CLUSTER_DIR");
  const logFile = join(
    dir,
    "logs",
    `operator-${opts.namespaces.join("_")}${opts.name ? `-${opts.name}` : ""}.log`,
  );
  const fd = openSync(logFile, "a");
  const child = spawn(
    process.execPath,
    [
      join(REPO, "src/runtime/main.ts"),
      "--kubeconfig",
      opts.kubeconfig ?? env("BGO_OPERATOR_KUBECONFIG"),
      ...opts.namespaces.flatMap((n) => ["--namespace", n]),
      "--health-probe-bind-address",
      "",
      // Many operators run at once: no fixed ports (a test of metrics passes its own address).
      "--metrics-bind-address",
      "",
      ...(opts.args ?? []),
    ],
    { stdio: ["ignore", fd, fd], env: { ...process.env, ...(opts.env ?? {}) } },
  );
  closeSync(fd);
  const exited = new Promise<void>((res) => child.once("exit", () => res()));
  return {
    child,
    logFile,
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      await exited;
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      await Promise.race([exited, sleep(15_000)]);
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      await exited;
    },
  };
}
