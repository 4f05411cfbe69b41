/** Helpers for e2e tests: real kubectl against the run's local control plane, namespaces, waiting. */
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { promisify } from "node:util";
import { waitUntil } from "../harness/wait.ts";

export { waitUntil };

const run = promisify(execFile);

export function env(name: string): string {
  const v = process.env[name];
  if (v === undefined || v === "")
    throw new Error(`${name} is not set: run e2e tests through test/run-e2e.ts`);
  return v;
}

export class KubectlError extends Error {
  readonly args: readonly string[];
  readonly stderr: string;
  readonly code: number | undefined;
  constructor(args: readonly string[], stderr: string, code: number | undefined) {
    super(`kubectl ${args.join(" ")} failed (${code}): ${stderr.trim()}`);
    this.args = args;
    this.stderr = stderr;
    this.code = code;
  }
}

/** Runs the cluster's own kubectl (v1.36, on PATH first in the e2e run). */
export async function kubectl(args: readonly string[], input?: string): Promise<string> {
  try {
    const child = run("kubectl", [...args], { maxBuffer: 64 << 20, env: process.env });
    if (input !== undefined) {
      child.child.stdin?.end(input);
    }
    const { stdout } = await child;
    return stdout;
  } catch (err) {
    const e = err as { stderr?: string; code?: number };
    throw new KubectlError(args, e.stderr ?? String(err), e.code);
  }
}

export async function kubectlJson<T = unknown>(args: readonly string[]): Promise<T> {
  return JSON.parse(await kubectl([...args, "-o", "json"])) as T;
}

/** A fresh namespace (name prefix + random suffix); tests never share one. */
export async function newNamespace(prefix: string): Promise<string> {
  const name = `${prefix}-${randomBytes(3).toString("hex")}`;
  await kubectl(["create", "namespace", name]);
  // Pods are refused until kube-controller-manager has made the default ServiceAccount.
  await waitUntil(`default ServiceAccount in ${name}`, 30_000, async () => {
    await kubectl(["get", "serviceaccount", "default", "-n", name]);
    return true;
  });
  return name;
}

export async function deleteNamespace(name: string): Promise<void> {
  await kubectl(["delete", "namespace", name, "--wait=false", "--ignore-not-found"]);
}

/** Pod template annotations that make kwok start and ready pods within a fraction of a second. */
export const FAST_PODS = {
  "pod-create.stage.kwok.x-k8s.io/delay": "100ms",
  "pod-create.stage.kwok.x-k8s.io/jitter-delay": "100ms",
  "pod-ready.stage.kwok.x-k8s.io/delay": "300ms",
  "pod-ready.stage.kwok.x-k8s.io/jitter-delay": "300ms",
  "pod-delete.stage.kwok.x-k8s.io/delay": "100ms",
  "pod-delete.stage.kwok.x-k8s.io/jitter-delay": "100ms",
  "pod-complete.stage.kwok.x-k8s.io/delay": "300ms",
  "pod-complete.stage.kwok.x-k8s.io/jitter-delay": "100ms",
} as const;
