/**
 * What the benchmarks share. The Node.js options the operator ships with, read from its Deployment manifest
 * (deploy/operator/deployment.yaml: the chart's default is the same, checked by the manifests test),
 * so the benchmarks measure the process as it runs in a cluster. NODE_OPTIONS set by the caller wins
 * (to compare other settings).
 */
import { readFileSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseAllDocuments } from "yaml";
import { stopCluster } from "../test/harness/cluster.ts";

interface Container {
  env?: { name: string; value?: string }[];
}

export function shippedNodeOptions(): string {
  const file = join(resolve(import.meta.dirname, ".."), "deploy/operator/deployment.yaml");
  for (const doc of parseAllDocuments(readFileSync(file, "utf8"))) {
    const o = doc.toJS() as { kind?: string; spec?: { template?: { spec?: { containers?: Container[] } } } };
    if (o?.kind !== "Deployment") continue;
    const env = o.spec?.template?.spec?.containers?.[0]?.env ?? [];
    const v = env.find((e) => e.name === "NODE_OPTIONS")?.value;
    if (v !== undefined) return v;
  }
  throw new Error(`no NODE_OPTIONS in ${file}`);
}

/** The environment to start the operator with in a benchmark. */
export function operatorEnv(): NodeJS.ProcessEnv {
  return { ...process.env, NODE_OPTIONS: process.env.NODE_OPTIONS ?? shippedNodeOptions() };
}

/**
 * Runs a benchmark on the control plane it starts in `dir`, and stops that control plane however it
 * ends; the logs stay in `dir` when it fails.
 */
export async function runBench(dir: string, main: () => Promise<void>): Promise<void> {
  try {
    await main();
    await stopCluster(dir);
    rmSync(dir, { recursive: true, force: true });
  } catch (err) {
    console.error(`bench failed: ${err instanceof Error ? err.message : String(err)} (logs in ${dir}/logs)`);
    await stopCluster(dir);
    process.exit(1);
  }
}
