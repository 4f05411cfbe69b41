/**
 * The e2e runner: one local control plane per run (in a temp dir; startCluster gives it the Gateway API
 * and Contour CRDs, so any test can route through a gateway of its own), the CRD installed, then every
 * test/e2e/*.test.ts file in parallel (each file works in namespaces of its own), then the
 * test/e2e/serial/*.test.ts files one at a time (they disrupt the shared control plane, e.g. restart
 * kube-apiserver), then teardown — also when tests fail or the run is interrupted. Filter arguments
 * (substrings of file names) select files in both phases.
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { binDir, startCluster, stopCluster } from "./harness/cluster.ts";

const repo = resolve(import.meta.dirname, "..");
const filters = process.argv.slice(2);
const testFiles = (sub: string) =>
  (existsSync(join(repo, sub)) ? readdirSync(join(repo, sub)) : [])
    .filter((f) => f.endsWith(".test.ts"))
    .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
    .map((f) => join(sub, f));
const files = testFiles("test/e2e");
const serialFiles = testFiles("test/e2e/serial");
if (files.length === 0 && serialFiles.length === 0) {
  console.error(`no e2e test file matches ${filters.join(" ")}`);
  process.exit(2);
}

const dir = mkdtempSync(join(tmpdir(), "bgo-e2e-"));
const started = Date.now();
let stopping = false;
async function teardown(code: number): Promise<never> {
  if (!stopping) {
    stopping = true;
    await stopCluster(dir);
    if (code === 0 && process.env.KEEP_CLUSTER_DIR === undefined)
      rmSync(dir, { recursive: true, force: true });
    else console.log(`[e2e] cluster logs kept in ${dir}/logs`);
    console.log(`[e2e] wall time ${((Date.now() - started) / 1000).toFixed(1)} s`);
  }
  process.exit(code);
}
for (const sig of ["SIGINT", "SIGTERM"] as const) process.on(sig, () => void teardown(130));

try {
  const paths = await startCluster(dir, { log: (l) => console.log(`[e2e] ${l}`) });
  const kubectl = join(binDir(), "kubectl");
  const crd = spawnSync(
    kubectl,
    ["--kubeconfig", paths.kubeconfig, "apply", "--server-side", "--force-conflicts", "-f", "deploy/crd/"],
    {
      cwd: repo,
      stdio: "inherit",
    },
  );
  if (crd.status !== 0) throw new Error("could not install the CRD");
  spawnSync(
    kubectl,
    [
      "--kubeconfig",
      paths.kubeconfig,
      "wait",
      "--for=condition=Established",
      "--timeout=60s",
      "crd",
      "--all",
    ],
    {
      stdio: "inherit",
    },
  );
  // The operator as it ships: one bundled file (hack/bundle-operator.ts; the image's entrypoint). It
  // starts in ~0.3 s of CPU where the TypeScript sources take ~2 s (type stripping, and client-node's
  // whole generated API loaded), which on 2 cores shared by parallel files was tens of seconds per start.
  const bundled = spawnSync(
    process.execPath,
    [join(repo, "hack/bundle-operator.ts"), join(dir, "operator")],
    {
      stdio: "inherit",
    },
  );
  if (bundled.status !== 0) throw new Error("could not bundle the operator");
  const operatorEntry = join(dir, "operator/src/runtime/main.js");
  const runTests = async (phase: string, testFiles: string[], concurrency: string): Promise<number> => {
    if (testFiles.length === 0) return 0;
    console.log(`[e2e] ${phase}: ${testFiles.length} file(s)`);
    const child = spawn(
      process.execPath,
      [
        "--test",
        "--test-reporter=spec",
        `--test-concurrency=${concurrency}`,
        "--test-timeout=300000",
        ...testFiles,
      ],
      {
        cwd: repo,
        stdio: "inherit",
        env: {
          ...process.env,
          KUBECONFIG: paths.kubeconfig,
          BGO_CLUSTER_DIR: dir,
          BGO_AUDIT_LOG: paths.auditLog,
          BGO_OPERATOR_ENTRY: process.env.BGO_OPERATOR_ENTRY ?? operatorEntry,
          PATH: `${binDir()}:${process.env.PATH ?? ""}`,
        },
      },
    );
    return await new Promise<number>((res) => child.on("exit", (c) => res(c ?? 1)));
  };
  // e2e tests mostly wait on the cluster, so they run in parallel past the core count; but the heavy
  // files (steady traffic, kill -9 under load, Chromium) each keep a core busy, and with 8 at once on 2
  // cores operators took ~40 s just to start and first deployments missed their 60 s waits.
  const parallel = await runTests("parallel", files, process.env.E2E_CONCURRENCY ?? "4");
  // The serial phase runs even after failures above: its results are independent evidence.
  const serial = await runTests("serial", serialFiles, "1");
  const code = parallel !== 0 ? parallel : serial;
  await teardown(code);
} catch (err) {
  console.error(`[e2e] ${err instanceof Error ? err.message : String(err)}`);
  await teardown(1);
}
