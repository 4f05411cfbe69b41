/**
 * `make bench-compare`: bluegreen-operator side by side with Argo Rollouts v1.10.2 (the anchor, built
 * from its Go module by hack/build-argo-rollouts.sh), on one freshly started local control plane, one
 * system after the other (bluegreen-operator first), each alone (the other's controller stopped, its
 * namespaces deleted). For each:
 *  - one application: idle RSS once stable; then RELEASES back-to-back releases (each new revision
 *    applied as soon as the previous one is switched, while the old color / ReplicaSet is still warm
 *    in its 30 s scale-down delay): new revision → preview ready, and promote → switch (server side:
 *    from the promote request to the controller's write of the active Service, in the audit log);
 *  - SIZE applications (1 replica, active and preview Services, manual promotion) applied to a running
 *    controller (Argo's Services, which it needs to exist, created before the timer starts; the Rollouts
 *    and the BGDs applied server-side, in parallel batches): apply → all Stable / Healthy, RSS and CPU seconds then; the writes still made after that;
 *  - a restart with the fleet stable: writes (Events included, from the audit log, counted by the
 *    controller's own identity) and the time to the last; RSS once quiet.
 * Pods become Ready at once (kwok delay 0), with the default 30 s termination grace period.
 * Prints a table with both columns and the ratio; writes bench/results/compare-<SIZE>.json.
 *
 *   BENCH_SIZE=200 (default) BENCH_RELEASES=10 BGO_ENTRY=dist/src/runtime/main.js node bench/compare.ts
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { binDir, type ClusterPaths, startCluster } from "../test/harness/cluster.ts";
import {
  type AuditEvent,
  applyMany,
  auditOf,
  cpuSeconds,
  loadAverage,
  rssMiB,
  runBench,
  spread,
  waitFor,
  waitQuiet,
} from "./common.ts";
import { type AppState, anchorBin, argoRollouts, bluegreenOperator, type System } from "./systems.ts";

const repo = resolve(import.meta.dirname, "..");
const SIZE = Number(process.env.BENCH_SIZE ?? 200);
const RELEASES = Number(process.env.BENCH_RELEASES ?? 10);
/** RSS is sampled again this long after the restart (the same moment for both systems). */
const RESTART_LATE_S = Number(process.env.BENCH_RESTART_LATE_S ?? 90);
const ENTRY = resolve(process.env.BGO_ENTRY ?? join(repo, "src/runtime/main.ts"));
const PODS_PER_NODE = 3000;
const log = (l: string) => console.log(`[bench-compare ${new Date().toISOString().slice(11, 19)}] ${l}`);

const dir = mkdtempSync(join(tmpdir(), "bgo-compare-"));
let kubeconfig = "";
const k = (args: string[], input?: string) =>
  execFileSync(join(binDir(), "kubectl"), ["--kubeconfig", kubeconfig, ...args], {
    encoding: "utf8",
    input,
    maxBuffer: 256 << 20,
    stdio: ["pipe", "pipe", "pipe"],
  });

function createNamespace(ns: string): void {
  k(["create", "namespace", ns]);
}

/** Deletes the namespace and waits until it is gone (its controller still running: finalizers). */
async function deleteNamespace(ns: string): Promise<void> {
  k(["delete", "namespace", ns, "--wait=false"]);
  await waitFor(
    `namespace ${ns} deleted`,
    () => !k(["get", "namespaces", "-o", "name"]).includes(`/${ns}\n`),
    900_000,
  );
}

const apply = (ns: string, items: Record<string, unknown>[]) =>
  applyMany(join(binDir(), "kubectl"), kubeconfig, ns, items);

async function until<T>(
  what: string,
  f: () => T | undefined,
  timeoutMs = 300_000,
  everyMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = f();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(everyMs);
  }
}

const micros = (t: string) =>
  Date.parse(t) * 1000 + Number((t.match(/\.(\d+)Z$/)?.[1] ?? "0").padEnd(6, "0").slice(3, 6));

/**
 * Promote → switch, server side: from the promote request (the first patch of the object by the
 * admin after the promote began) to the controller's first write of the active Service after it.
 */
function promoteToSwitchMs(
  paths: ClusterPaths,
  sys: System,
  ns: string,
  name: string,
  promotedAt: number[],
): number[] {
  const inNs = (e: AuditEvent) => e.objectRef?.namespace === ns && e.objectRef.name === name;
  const promotes = auditOf(paths.auditLog, "admin").filter(
    (e) => inNs(e) && e.verb === "patch" && e.objectRef?.resource === sys.promoteResource,
  );
  const switches = auditOf(paths.auditLog, sys.user).filter(
    (e) => inNs(e) && ["patch", "update"].includes(e.verb) && e.objectRef?.resource === "services",
  );
  return promotedAt.map((t) => {
    const p = promotes.find((e) => Date.parse(e.requestReceivedTimestamp) >= t - 5);
    const s =
      p && switches.find((e) => micros(e.requestReceivedTimestamp) >= micros(p.requestReceivedTimestamp));
    if (p === undefined || s === undefined)
      throw new Error(`${sys.name}: no promote or switch in the audit log`);
    return (micros(s.requestReceivedTimestamp) - micros(p.requestReceivedTimestamp)) / 1000;
  });
}

/** One application: idle RSS, then back-to-back releases. */
async function oneApp(paths: ClusterPaths, sys: System, tag: string) {
  const ns = `${tag}-one`;
  createNamespace(ns);
  const ctl = await sys.start(ns, `${tag}-one`);
  await apply(ns, sys.objects("app", "app:v0"));
  await until("app stable", () => sys.state(ns, "app").stable);
  await sleep(10_000);
  const idleRssMiB = rssMiB(ctl.pid);
  log(`${sys.name}: idle with one application: ${idleRssMiB} MiB`);
  const releaseS: number[] = [];
  const promotedAt: number[] = [];
  for (let i = 1; i <= RELEASES; i++) {
    const before: AppState = sys.state(ns, "app");
    const t0 = Date.now();
    // The workload only: the Services exist, and Argo Rollouts has added its hash to their selectors
    // (an atomic map that a server-side apply of ours would replace whole).
    await apply(
      ns,
      sys.objects("app", `app:v${i}`).filter((o) => o.kind !== "Service"),
    );
    const rev = await until(`v${i} preview ready`, () => sys.state(ns, "app").previewReady);
    releaseS.push((Date.now() - t0) / 1000);
    promotedAt.push(Date.now());
    sys.promote(ns, "app", rev);
    await until(`v${i} switched`, () => {
      const s = sys.state(ns, "app");
      return s.stable && s.active === rev && s.active !== before.active;
    });
    log(`${sys.name}: release ${i}: preview ready after ${releaseS.at(-1)?.toFixed(1)} s`);
  }
  await sleep(1500); // the audit log is flushed in batches
  const switchMs = promoteToSwitchMs(paths, sys, ns, "app", promotedAt);
  await deleteNamespace(ns);
  await ctl.stop();
  return {
    idleRssMiB,
    releaseS: { ...spread(releaseS), samples: releaseS },
    promoteToSwitchMs: { ...spread(switchMs), samples: switchMs },
  };
}

/** SIZE applications: apply → all stable, then a restart with the fleet stable. */
async function fleet(paths: ClusterPaths, sys: System, tag: string) {
  const ns = `${tag}-fleet`;
  createNamespace(ns);
  let ctl = await sys.start(ns, `${tag}-fleet-1`);
  const cpuStart = cpuSeconds(ctl.pid);
  const items = Array.from({ length: SIZE }, (_, i) => sys.objects(`app-${i}`, "app:v1")).flat();
  // The Services a Rollout needs exist before it, as a user's would: the timer measures the workloads.
  await apply(
    ns,
    items.filter((o) => o.kind === "Service"),
  );
  const t0 = Date.now();
  await apply(
    ns,
    items.filter((o) => o.kind !== "Service"),
  );
  const appliedS = (Date.now() - t0) / 1000;
  await waitFor(`${SIZE} stable`, () => sys.stableCount(ns) === SIZE, 3_600_000);
  const convergedAt = Date.now();
  const allStableS = (convergedAt - t0) / 1000;
  const cpuToConvergeS = cpuSeconds(ctl.pid) - cpuStart;
  await sleep(5000);
  const convergedRssMiB = rssMiB(ctl.pid);
  log(
    `${sys.name}: ${SIZE} stable after ${allStableS.toFixed(1)} s (applied in ${appliedS.toFixed(1)} s), ${convergedRssMiB} MiB`,
  );
  // Before the restart: the first process's queued writes done (none for 15 s).
  const settle = await waitQuiet(paths.auditLog, sys.user, convergedAt, 15_000, 600_000);
  await ctl.stop();
  const since = Date.now();
  ctl = await sys.start(ns, `${tag}-fleet-2`);
  const syncedS = (Date.now() - since) / 1000;
  // Quiet for 30 s after the caches synced (every object is reconciled once from fresh caches).
  const restart = await waitQuiet(
    paths.auditLog,
    sys.user,
    since,
    Math.max(30_000, syncedS * 1000 + 15_000),
    900_000,
  );
  const restartRssMiB = rssMiB(ctl.pid);
  log(
    `${sys.name}: restart: ${restart.writes} writes, the last after ${restart.lastWriteS.toFixed(1)} s; ${restartRssMiB} MiB`,
  );
  // "Once quiet" comes at different times for the two (a controller that writes 1,000 Events on a
  // restart goes quiet later), and a runtime gives memory back some time after a burst: the same
  // moment for both, too.
  await sleep(Math.max(0, since + RESTART_LATE_S * 1000 - Date.now()));
  const restartLateRssMiB = rssMiB(ctl.pid);
  // (Later than RESTART_LATE_S only if the restart took longer to go quiet: the log says when.)
  log(
    `${sys.name}: ${((Date.now() - since) / 1000).toFixed(0)} s after the restart: ${restartLateRssMiB} MiB`,
  );
  await deleteNamespace(ns);
  await ctl.stop();
  return {
    appliedS,
    allStableS,
    cpuToConvergeS: Number(cpuToConvergeS.toFixed(1)),
    convergedRssMiB,
    writesAfterAllStable: settle.writes,
    restart: { cachesSyncedS: syncedS, ...restart, rssMiB: restartRssMiB, lateRssMiB: restartLateRssMiB },
  };
}

async function measure(paths: ClusterPaths, sys: System, tag: string) {
  const loadStart = loadAverage();
  const one = await oneApp(paths, sys, tag);
  const many = await fleet(paths, sys, tag);
  return { system: sys.name, ...one, fleet: many, loadAverage: { start: loadStart, end: loadAverage() } };
}

type Result = Awaited<ReturnType<typeof measure>>;

function table(argo: Result, ours: Result): string {
  const r = (a: number, b: number) => (a === 0 ? (b === 0 ? "–" : "∞") : (b / a).toFixed(2));
  const f1 = (n: number) => n.toFixed(1);
  const sp = (s: { median: number; min: number; max: number }, fmt: (n: number) => string, u: string) =>
    `${fmt(s.median)} ${u} (${fmt(s.min)}–${fmt(s.max)})`;
  const rows: [string, string, string, string][] = [
    [
      `${SIZE} applications (1 replica, ready delay 0): apply → all Stable / Healthy`,
      `${f1(argo.fleet.allStableS)} s`,
      `${f1(ours.fleet.allStableS)} s`,
      r(argo.fleet.allStableS, ours.fleet.allStableS),
    ],
    [
      "end of the apply (server-side, 200 per kubectl apply, 5 at once; Argo's Services created before the timer) → all stable",
      `${f1(argo.fleet.allStableS - argo.fleet.appliedS)} s`,
      `${f1(ours.fleet.allStableS - ours.fleet.appliedS)} s`,
      r(argo.fleet.allStableS - argo.fleet.appliedS, ours.fleet.allStableS - ours.fleet.appliedS),
    ],
    [
      "controller CPU seconds, apply → all stable",
      f1(argo.fleet.cpuToConvergeS),
      f1(ours.fleet.cpuToConvergeS),
      r(argo.fleet.cpuToConvergeS, ours.fleet.cpuToConvergeS),
    ],
    [
      `RSS when the ${SIZE} converged`,
      `${argo.fleet.convergedRssMiB} MiB`,
      `${ours.fleet.convergedRssMiB} MiB`,
      r(argo.fleet.convergedRssMiB, ours.fleet.convergedRssMiB),
    ],
    [
      "writes after all stable (until 15 s quiet)",
      String(argo.fleet.writesAfterAllStable),
      String(ours.fleet.writesAfterAllStable),
      "–",
    ],
    [
      `restart with the ${SIZE} stable: writes (Events included); time to the last write`,
      `${argo.fleet.restart.writes}; ${f1(argo.fleet.restart.lastWriteS)} s`,
      `${ours.fleet.restart.writes}; ${f1(ours.fleet.restart.lastWriteS)} s`,
      "–",
    ],
    [
      "restart: writes by verb and resource",
      JSON.stringify(argo.fleet.restart.writesBy),
      JSON.stringify(ours.fleet.restart.writesBy),
      "–",
    ],
    [
      "RSS after that restart",
      `${argo.fleet.restart.rssMiB} MiB`,
      `${ours.fleet.restart.rssMiB} MiB`,
      r(argo.fleet.restart.rssMiB, ours.fleet.restart.rssMiB),
    ],
    [
      `RSS ${RESTART_LATE_S} s after that restart`,
      `${argo.fleet.restart.lateRssMiB} MiB`,
      `${ours.fleet.restart.lateRssMiB} MiB`,
      r(argo.fleet.restart.lateRssMiB, ours.fleet.restart.lateRssMiB),
    ],
    [
      "idle RSS, one application",
      `${argo.idleRssMiB} MiB`,
      `${ours.idleRssMiB} MiB`,
      r(argo.idleRssMiB, ours.idleRssMiB),
    ],
    [
      `new revision → preview ready, back-to-back releases, median (min–max), n=${RELEASES}`,
      sp(argo.releaseS, f1, "s"),
      sp(ours.releaseS, f1, "s"),
      r(argo.releaseS.median, ours.releaseS.median),
    ],
    [
      `promote → switch, server side, median (min–max), n=${RELEASES}`,
      sp(argo.promoteToSwitchMs, (n) => n.toFixed(0), "ms"),
      sp(ours.promoteToSwitchMs, (n) => n.toFixed(0), "ms"),
      r(argo.promoteToSwitchMs.median, ours.promoteToSwitchMs.median),
    ],
    [
      "load average, start / end of its turn",
      `${argo.loadAverage.start[0]} / ${argo.loadAverage.end[0]}`,
      `${ours.loadAverage.start[0]} / ${ours.loadAverage.end[0]}`,
      "–",
    ],
  ];
  return [
    `| figure | ${argo.system} | ${ours.system} | ratio (ours / Argo) |`,
    "|---|---|---|---|",
    ...rows.map((c) => `| ${c.join(" | ")} |`),
  ].join("\n");
}

async function main(): Promise<void> {
  const nodes = Math.max(3, Math.ceil((SIZE * 2) / PODS_PER_NODE));
  const paths = await startCluster(dir, { nodes, log });
  kubeconfig = paths.kubeconfig;
  k(["apply", "--server-side", "-f", join(repo, "deploy/crd/")]);
  const ours = await measure(paths, bluegreenOperator(paths, k, ENTRY), "bgo");
  // Built by `make argo-rollouts` before this starts; run by hand, it may still be building.
  const built = () =>
    ["rollouts-controller", "kubectl-argo-rollouts", "../crds/rollout-crd.yaml"].every((f) =>
      existsSync(join(anchorBin(), f)),
    );
  await waitFor("Argo Rollouts built (make argo-rollouts)", built, 1_800_000, 5000);
  const argo = await measure(paths, argoRollouts(paths, k), "argo");
  const result = {
    date: new Date().toISOString(),
    size: SIZE,
    releases: RELEASES,
    operator: ENTRY,
    machine: { cpus: cpus().length, node: process.version },
    controlPlane: {
      kwokNodes: nodes,
      podsPerNode: PODS_PER_NODE,
      podReadyDelay: "0s",
      terminationGracePeriodSeconds: 30,
    },
    argo,
    ours,
  };
  mkdirSync(join(repo, "bench/results"), { recursive: true });
  const out = join(repo, `bench/results/compare-${SIZE}.json`);
  writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`);
  console.log(`\n${table(argo, ours)}\n\nwritten to ${out}`);
}

await runBench(dir, main);
