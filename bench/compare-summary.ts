/**
 * Medians over repeated `make bench-compare` runs: each figure per system as the median of the runs
 * with their range, and the ratio of the medians with the range of the per-run ratios (a ratio taken
 * within one run compares two turns on the same machine state, so its spread says more than the
 * absolute figures' spread). The release and switch latencies pool every sample of every run.
 *
 *   node bench/compare-summary.ts run1.json run2.json run3.json   (copies of bench/results/compare-N.json)
 */
import { readFileSync } from "node:fs";
import { spread } from "./common.ts";

interface Spread {
  readonly samples: readonly number[];
}
interface Side {
  readonly system: string;
  readonly idleRssMiB: number;
  readonly releaseS: Spread;
  readonly promoteToSwitchMs: Spread;
  readonly fleet: {
    readonly appliedS: number;
    readonly allStableS: number;
    readonly cpuToConvergeS: number;
    readonly convergedRssMiB: number;
    readonly writesAfterAllStable: number;
    readonly restart: {
      readonly writes: number;
      readonly lastWriteS: number;
      readonly rssMiB: number;
      /** Runs before BENCH_RESTART_LATE_S existed have none. */
      readonly lateRssMiB?: number;
    };
  };
}
interface Run {
  readonly date: string;
  readonly size: number;
  readonly argo: Side;
  readonly ours: Side;
}

const median = (xs: readonly number[]) => spread(xs).median;
const range = (xs: readonly number[], f: (n: number) => string) => {
  const { median, min, max } = spread(xs);
  return `${f(median)} (${f(min)}–${f(max)})`;
};

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error("usage: node bench/compare-summary.ts <compare-N.json>...");
  process.exit(2);
}
const runs = files.map((f) => JSON.parse(readFileSync(f, "utf8")) as Run);
const sizes = new Set(runs.map((r) => r.size));
if (sizes.size !== 1) throw new Error(`runs of different sizes: ${[...sizes].join(", ")}`);

const f1 = (n: number) => n.toFixed(1);
const f2 = (n: number) => n.toFixed(2);
const f0 = (n: number) => n.toFixed(0);
type Pick = (s: Side) => number;
const perRun: Array<[string, Pick, (n: number) => string, string]> = [
  ["apply → all Stable / Healthy", (s) => s.fleet.allStableS, f1, "s"],
  ["end of the apply → all stable", (s) => s.fleet.allStableS - s.fleet.appliedS, f1, "s"],
  ["controller CPU seconds, apply → all stable", (s) => s.fleet.cpuToConvergeS, f1, ""],
  ["RSS when the fleet converged", (s) => s.fleet.convergedRssMiB, f1, "MiB"],
  ["writes after all stable (until 15 s quiet)", (s) => s.fleet.writesAfterAllStable, f0, ""],
  ["restart with the fleet stable: writes, Events included", (s) => s.fleet.restart.writes, f0, ""],
  ["restart: time to the last write", (s) => s.fleet.restart.lastWriteS, f1, "s"],
  ["RSS after that restart", (s) => s.fleet.restart.rssMiB, f1, "MiB"],
  [
    "RSS BENCH_RESTART_LATE_S (default 90 s) after that restart (the runs that sampled it)",
    (s) => s.fleet.restart.lateRssMiB ?? Number.NaN,
    f1,
    "MiB",
  ],
  ["idle RSS, one application", (s) => s.idleRssMiB, f1, "MiB"],
];
const pooled: Array<[string, (s: Side) => readonly number[], (n: number) => string, string]> = [
  ["new revision → preview ready, back-to-back (all samples)", (s) => s.releaseS.samples, f1, "s"],
  ["promote → switch, server side (all samples)", (s) => s.promoteToSwitchMs.samples, f0, "ms"],
];

const unit = (u: string) => (u === "" ? "" : ` ${u}`);
const rows: string[][] = [];
for (const [name, pick, f, u] of perRun) {
  const a = runs.map((r) => pick(r.argo)).filter(Number.isFinite);
  const o = runs.map((r) => pick(r.ours)).filter(Number.isFinite);
  if (a.length === 0 || o.length === 0) continue;
  const ratios = runs.map((r) => pick(r.ours) / pick(r.argo)).filter(Number.isFinite);
  rows.push([
    name,
    `${range(a, f)}${unit(u)}`,
    `${range(o, f)}${unit(u)}`,
    median(a) > 0 && median(o) > 0
      ? `${f2(median(o) / median(a))} (runs ${f2(spread(ratios).min)}–${f2(spread(ratios).max)})`
      : "–",
  ]);
}
for (const [name, pick, f, u] of pooled) {
  const a = runs.flatMap((r) => pick(r.argo));
  const o = runs.flatMap((r) => pick(r.ours));
  rows.push([
    `${name}, n=${a.length} / ${o.length}`,
    `${range(a, f)}${unit(u)}`,
    `${range(o, f)}${unit(u)}`,
    f2(median(o) / median(a)),
  ]);
}
const [first] = runs;
console.log(
  `${runs.length} runs of ${first?.size} applications: ${runs.map((r) => r.date).join(", ")}; median (min–max) over the runs\n`,
);
console.log(
  `| figure | ${first?.argo.system} | ${first?.ours.system} | ratio of medians (ours / Argo; per-run ratios) |`,
);
console.log("|---|---|---|---|");
for (const r of rows) console.log(`| ${r.join(" | ")} |`);
