/**
 * One loopback port carried between the host and the cluster's network namespace, so the same URL
 * (http://127.0.0.1:PORT) answers on both sides — the way the harness carries kube-apiserver's port in
 * (bridge.ts: two byte pipes joined by a Unix socket, which every network namespace sees).
 *
 * A server on the host (the gate tests' pod-discovery adapter) is carried in: Prometheus inside the
 * namespace reads it. A server inside the namespace (that Prometheus, which must run there because only
 * there do pod IPs answer) is carried out: the dashboard and the tests' own queries reach it. Nothing
 * leaves the machine: both ends listen and connect on 127.0.0.1 only.
 *
 *   server side: bridge unix-to-tcp SOCKET 127.0.0.1:PORT   (listens on SOCKET, connects to the server)
 *   other side:  bridge tcp-to-unix 127.0.0.1:PORT SOCKET   (listens on 127.0.0.1:PORT)
 */
import { type ChildProcess, spawn } from "node:child_process";
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { clusterPaths, recordPids, stopPid } from "./cluster.ts";

const BRIDGE = resolve(import.meta.dirname, "bridge.ts");

export type Side = "host" | "cluster";

export interface KeepOptions {
  /**
   * Leave the processes running past this one (detached, their output in the cluster's
   * logs/KEEPAS-*.log) and record them in the cluster's state under this name, so `make cluster-down`
   * stops them: what the demo leaves up for the dashboard. Without it they are this process' children.
   */
  readonly keepAs?: string;
}

export interface CarriedPort {
  /** The bridges' pids, by the names they are (or would be) recorded under. */
  readonly pids: Readonly<Record<string, number>>;
  stop(): Promise<void>;
}

/**
 * Starts a program on `side`; netns-exec ends in nsenter's exec, so the pid is the program's own. Its
 * stdout stays a pipe, for the bridge's ready line.
 */
export function spawnOn(
  clusterDir: string,
  side: Side,
  program: string,
  args: readonly string[],
  opts: KeepOptions & { readonly log: string },
): ChildProcess {
  const [cmd, ...rest] = side === "cluster" ? [clusterPaths(clusterDir).netnsExec, program] : [program];
  const err = openSync(opts.log, "a");
  const child = spawn(cmd ?? program, [...rest, ...args], {
    detached: opts.keepAs !== undefined,
    stdio: ["ignore", "pipe", err],
  });
  closeSync(err);
  // A program that cannot start shows as no pid, not as an unhandled error event.
  child.on("error", () => {});
  if (opts.keepAs !== undefined) child.unref();
  return child;
}

/** The end of a log, for a failure's message (the log itself may go with its directory). */
export function logTail(log: string): string {
  try {
    return readFileSync(log, "utf8").slice(-2000);
  } catch {
    return "";
  }
}

function ready(child: ChildProcess, what: string, log: string): Promise<void> {
  return new Promise((done, fail) => {
    child.once("exit", (code) => fail(new Error(`${what} exited (${code}): ${logTail(log)}`)));
    if (child.stdout === null) return fail(new Error(`${what}: no stdout`));
    createInterface({ input: child.stdout }).on("line", (line) => {
      if (line.endsWith("ready")) done();
    });
  });
}

/**
 * Makes 127.0.0.1:`port` of the `from` side answer on the other side too. The server itself may start
 * later (a connection made before it listens is closed, as a refused one would be).
 */
export async function carryPort(
  clusterDir: string,
  port: number,
  from: Side,
  opts: KeepOptions = {},
): Promise<CarriedPort> {
  // Under the cluster's directory: short enough for a socket's path, and gone with the cluster.
  const dir = mkdtempSync(join(clusterDir, "port-"));
  const sock = join(dir, "port.sock");
  const addr = `127.0.0.1:${port}`;
  const other: Side = from === "host" ? "cluster" : "host";
  const name = (side: Side) => `${opts.keepAs ?? `port${port}`}Bridge${side === "host" ? "Host" : "Netns"}`;
  const logOf = (side: Side) =>
    opts.keepAs === undefined
      ? join(dir, `bridge-${side}.log`)
      : join(clusterDir, "logs", `${opts.keepAs}-bridge-${side === "host" ? "host" : "netns"}.log`);
  const pids: Record<string, number> = {};
  const stop = async () => {
    for (const pid of Object.values(pids)) await stopPid(pid, 5000);
    rmSync(dir, { recursive: true, force: true });
  };
  const startSide = async (side: Side, args: readonly string[]) => {
    const child = spawnOn(clusterDir, side, process.execPath, [BRIDGE, ...args], {
      ...opts,
      log: logOf(side),
    });
    if (child.pid === undefined) throw new Error(`could not start the bridge on the ${side} side`);
    pids[name(side)] = child.pid;
    if (opts.keepAs !== undefined) recordPids(clusterDir, { [name(side)]: child.pid });
    await ready(child, `bridge ${args.join(" ")} (${side})`, logOf(side));
    // Its only stdout line is read: a detached bridge must not hold this process' event loop open.
    if (opts.keepAs !== undefined) child.stdout?.destroy();
  };
  try {
    // The server's side listens on the socket first: the other side's connections go through it.
    await startSide(from, ["unix-to-tcp", sock, addr]);
    await startSide(other, ["tcp-to-unix", addr, sock]);
  } catch (e) {
    await stop();
    throw e;
  }
  return { pids, stop };
}
