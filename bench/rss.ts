/**
 * The operator's memory: resident set size idle (caches synced, nothing to do) and during rollouts,
 * read from /proc/<pid>/status (VmRSS) of the real process, on the cluster in $KUBECONFIG
 * (`make cluster-up install` first). Also times leader failover after SIGKILL with the default lease
 * timings (15 s / 10 s / 2 s), from the kill to the standby's acquireTime in the Lease.
 *
 *   KUBECONFIG=.cluster/kubeconfig node bench/rss.ts [--bgds 20] [--failovers 5]
 *
 * BGO_ENTRY=dist/src/runtime/main.js (after `make build`) measures the compiled JavaScript the
 * image runs; the default runs the TypeScript sources, whose type stripping costs ~25 MiB more.
 *
 * Prints a table and one JSON line.
 */
import { execFile, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { promisify } from "node:util";
import { binDir } from "../test/harness/cluster.ts";
import { operatorEnv } from "./common.ts";

const REPO = resolve(import.meta.dirname, "..");
const run = promisify(execFile);
const arg = (name: string, d: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? d : Number(process.argv[i + 1]);
};
const BGDS = arg("bgds", 20);
const FAILOVERS = arg("failovers", 5);
const kubectl = async (args: string[], input?: string) => {
  const p = run(join(binDir(), "kubectl"), args, { maxBuffer: 64 << 20 });
  if (input !== undefined) p.child.stdin?.end(input);
  return (await p).stdout;
};

function startOperator(ns: string, extra: string[] = []) {
  const child = spawn(
    process.execPath,
    [
      process.env.BGO_ENTRY ?? join(REPO, "src/runtime/main.ts"),
      "-n",
      ns,
      "--metrics-bind-address=",
      "--health-probe-bind-address=",
      ...extra,
    ],
    { stdio: ["ignore", "pipe", "inherit"], env: operatorEnv() },
  );
  const lines: Record<string, unknown>[] = [];
  let buf = "";
  child.stdout.on("data", (d: Buffer) => {
    buf += d.toString();
    for (let i = buf.indexOf("\n"); i >= 0; i = buf.indexOf("\n")) {
      try {
        lines.push(JSON.parse(buf.slice(0, i)) as Record<string, unknown>);
      } catch {}
      buf = buf.slice(i + 1);
    }
  });
  const logged = async (msg: string) => {
    while (!lines.some((l) => l.msg === msg)) await sleep(50);
    return lines.find((l) => l.msg === msg) ?? {};
  };
  return { child, logged };
}

const rssMiB = (pid: number) => {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return Number(m?.[1] ?? 0) / 1024;
};

const bgd = (name: string, image: string) =>
  JSON.stringify({
    apiVersion: "bluegreen.io/v1",
    kind: "BlueGreenDeployment",
    metadata: { name },
    spec: {
      replicas: 2,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: {
          labels: { app: name },
          annotations: {
            "pod-ready.stage.kwok.x-k8s.io/delay": "1s",
            "pod-ready.stage.kwok.x-k8s.io/jitter-delay": "2s",
          },
        },
        spec: { terminationGracePeriodSeconds: 1, containers: [{ name: "app", image }] },
      },
      strategy: { promotion: { mode: "Auto" }, scaleDownDelaySeconds: 0 },
    },
  });

async function allStable(ns: string, color: string): Promise<boolean> {
  const out = JSON.parse(await kubectl(["get", "bgd", "-n", ns, "-o", "json"])) as {
    items: { status?: { phase?: string; activeColor?: string } }[];
  };
  return (
    out.items.length === BGDS &&
    out.items.every((i) => i.status?.phase === "Stable" && i.status.activeColor === color)
  );
}

/** Max RSS while `done()` is false. */
async function peakWhile(pid: number, done: () => Promise<boolean>): Promise<number> {
  let peak = 0;
  for (;;) {
    peak = Math.max(peak, rssMiB(pid));
    if (await done()) return peak;
    await sleep(200);
  }
}

async function memory() {
  const ns = `bench-rss-${randomBytes(3).toString("hex")}`;
  await kubectl(["create", "namespace", ns]);
  for (;;) {
    if ((await kubectl(["get", "sa", "-n", ns, "-o", "name"]).catch(() => "")).includes("default")) break;
    await sleep(200);
  }
  const op = startOperator(ns);
  await op.logged("Caches synced");
  await sleep(5000);
  const pid = op.child.pid ?? 0;
  const idleEmpty = rssMiB(pid);
  const apply = (image: string) =>
    kubectl(
      ["apply", "-n", ns, "-f", "-"],
      Array.from({ length: BGDS }, (_, i) => bgd(`app-${i}`, image)).join("\n"),
    );
  await apply("app:v1");
  const firstDeploy = await peakWhile(pid, () => allStable(ns, "blue"));
  await apply("app:v2");
  const rollout = await peakWhile(pid, () => allStable(ns, "green"));
  await sleep(5000);
  const idleAfter = rssMiB(pid);
  op.child.kill("SIGTERM");
  await kubectl(["delete", "namespace", ns, "--wait=false"]);
  return {
    idleEmptyMiB: idleEmpty,
    firstDeployPeakMiB: firstDeploy,
    rolloutPeakMiB: rollout,
    idleAfterMiB: idleAfter,
  };
}

async function failover() {
  const ns = `bench-failover-${randomBytes(3).toString("hex")}`;
  await kubectl(["create", "namespace", ns]);
  const args = ["--leader-elect", "--leader-elect-namespace", ns];
  const holder = async () =>
    JSON.parse(
      await kubectl(["get", "lease", "bluegreen-operator.bluegreen.io", "-n", ns, "-o", "json"]).catch(
        () => "{}",
      ),
    )?.spec as { holderIdentity?: string; acquireTime?: string } | undefined;
  let leader = startOperator(ns, args);
  const leaderId = String((await leader.logged("Attempting to acquire leader lease")).identity);
  while ((await holder())?.holderIdentity !== leaderId) await sleep(200);
  const times: number[] = [];
  for (let i = 0; i < FAILOVERS; i++) {
    const standby = startOperator(ns, args);
    const id = String((await standby.logged("Attempting to acquire leader lease")).identity);
    await standby.logged("Caches synced");
    await sleep(3000 + Math.random() * 2000); // kill at a random point of the renew cycle
    const killed = Date.now();
    leader.child.kill("SIGKILL");
    let h = await holder();
    while (h?.holderIdentity !== id) {
      await sleep(100);
      h = await holder();
    }
    times.push((Date.parse(h.acquireTime ?? "") - killed) / 1000);
    leader = standby;
  }
  leader.child.kill("SIGTERM");
  await kubectl(["delete", "namespace", ns, "--wait=false"]);
  const sorted = [...times].sort((a, b) => a - b);
  return {
    failoverSeconds: times,
    failoverMedianSeconds: sorted[Math.floor(sorted.length / 2)] ?? Number.NaN,
  };
}

const mem = await memory();
const fo = FAILOVERS > 0 ? await failover() : { failoverSeconds: [], failoverMedianSeconds: Number.NaN };
const f = (n: number) => n.toFixed(1);
console.log(
  `operator RSS (${process.env.BGO_ENTRY ?? "src/runtime/main.ts"}), ${BGDS} BGDs x 2 replicas, namespaced:`,
);
console.log(`  idle, no BGDs            ${f(mem.idleEmptyMiB)} MiB`);
console.log(`  first deploy (peak)      ${f(mem.firstDeployPeakMiB)} MiB`);
console.log(`  rollout v1→v2 (peak)     ${f(mem.rolloutPeakMiB)} MiB`);
console.log(`  idle after               ${f(mem.idleAfterMiB)} MiB`);
console.log(
  `leader failover after SIGKILL (15s/10s/2s): ${fo.failoverSeconds.map(f).join(", ")} s, median ${f(fo.failoverMedianSeconds)} s`,
);
console.log(JSON.stringify({ bgds: BGDS, ...mem, ...fo }));
process.exit(0);
