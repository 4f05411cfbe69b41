/**
 * The whole reconcile without a cluster: the real observe → plan → execute (makeReconciler) against an
 * in-memory store that applies the writes the planner rendered (support/memory-api.ts), around a
 * simulated Deployment controller, pods and EndpointSlices (support/sim-cluster.ts). Caches lag
 * behind the store per kind, writes fail with 409 or 503, and the operator crashes between two writes
 * (a new process starts with fresh caches and no memory). After every step the invariants hold; at
 * the end, given time and an approval, the rollout finishes and a further reconcile writes nothing.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  ANNOTATION_ABORT,
  ANNOTATION_PAUSED,
  LABEL_COLOR,
  LABEL_REVISION,
  servicePath,
} from "../../src/api/labels.ts";
import { Crash, type Fault, MemoryApi, type Snapshot } from "./support/memory-api.ts";
import { NAMESPACE, rev, statusProblem, T0 } from "./support/observed.ts";
import {
  ACTIVE,
  annotate,
  applySpec,
  approve,
  bgdAt,
  COLORS,
  type Color,
  depAt,
  deploymentController,
  endpointsCatchUp,
  isPaused,
  KINDS,
  liveColor,
  newOperator,
  newSnapshot,
  PREVIEW,
  podBecomesReady,
  podFails,
  replicasOf,
  settle,
  statusOf,
  templateOf,
} from "./support/sim-cluster.ts";

interface Knobs {
  readonly replicas: number;
  readonly previewReplicas: number | undefined;
  readonly previewEnabled: boolean;
  readonly auto: boolean;
  readonly delaySeconds: number;
  readonly scaleDownDelaySeconds: number;
  readonly progressDeadlineSeconds: number;
}

type Command =
  | { readonly k: "controller"; readonly color: Color }
  | { readonly k: "podReady"; readonly color: Color }
  | { readonly k: "podFails"; readonly color: Color }
  | { readonly k: "endpoints"; readonly svc: string }
  | { readonly k: "settle" }
  | { readonly k: "sync"; readonly kind: string }
  | { readonly k: "newImage"; readonly broken: boolean }
  | { readonly k: "replicas"; readonly n: number }
  | { readonly k: "promote" }
  | { readonly k: "abort" }
  | { readonly k: "pause"; readonly how: "spec" | "annotation" }
  | { readonly k: "resume" }
  | { readonly k: "mode"; readonly auto: boolean }
  | { readonly k: "tick"; readonly seconds: number }
  | { readonly k: "timer" }
  | { readonly k: "reconcile"; readonly fault?: Fault; readonly after: number }
  /** Rounds of: the cluster and the caches catch up, the operator reconciles (a brisk rollout). */
  | { readonly k: "run"; readonly rounds: number };

const color = fc.constantFrom<Color>("blue", "green");
const commandArb: fc.Arbitrary<Command> = fc.oneof(
  { weight: 6, arbitrary: color.map((c) => ({ k: "controller", color: c }) as const) },
  { weight: 8, arbitrary: color.map((c) => ({ k: "podReady", color: c }) as const) },
  { weight: 2, arbitrary: color.map((c) => ({ k: "podFails", color: c }) as const) },
  { weight: 4, arbitrary: fc.constantFrom(ACTIVE, PREVIEW).map((svc) => ({ k: "endpoints", svc }) as const) },
  { weight: 6, arbitrary: fc.constant({ k: "settle" } as const) },
  {
    weight: 10,
    arbitrary: fc.constantFrom(...KINDS, "all", "all").map((kind) => ({ k: "sync", kind }) as const),
  },
  { weight: 14, arbitrary: fc.integer({ min: 1, max: 6 }).map((rounds) => ({ k: "run", rounds }) as const) },
  { weight: 6, arbitrary: fc.nat(3).map((n) => ({ k: "newImage", broken: n === 0 }) as const) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 3 }).map((n) => ({ k: "replicas", n }) as const) },
  { weight: 5, arbitrary: fc.constant({ k: "promote" } as const) },
  { weight: 4, arbitrary: fc.constant({ k: "abort" } as const) },
  {
    weight: 4,
    arbitrary: fc.constantFrom("spec", "annotation").map((how) => ({ k: "pause", how }) as const),
  },
  { weight: 2, arbitrary: fc.constant({ k: "resume" } as const) },
  { weight: 1, arbitrary: fc.boolean().map((auto) => ({ k: "mode", auto }) as const) },
  {
    weight: 3,
    arbitrary: fc.constantFrom(1, 10, 31, 700).map((seconds) => ({ k: "tick", seconds }) as const),
  },
  { weight: 3, arbitrary: fc.constant({ k: "timer" } as const) },
  {
    weight: 20,
    arbitrary: fc
      .record({
        fault: fc.option(fc.constantFrom<Fault>("conflict", "unavailable", "crash"), {
          nil: undefined,
          freq: 3,
        }),
        after: fc.nat(4),
      })
      .map(
        ({ fault, after }) => ({ k: "reconcile", after, ...(fault !== undefined ? { fault } : {}) }) as const,
      ),
  },
);

const knobsArb: fc.Arbitrary<Knobs> = fc.record({
  replicas: fc.oneof(
    { weight: 1, arbitrary: fc.constant(0) },
    { weight: 5, arbitrary: fc.integer({ min: 1, max: 3 }) },
  ),
  previewReplicas: fc.option(fc.constant(1), { nil: undefined, freq: 3 }),
  previewEnabled: fc.boolean(),
  auto: fc.boolean(),
  delaySeconds: fc.constantFrom(0, 30),
  scaleDownDelaySeconds: fc.constantFrom(0, 30),
  progressDeadlineSeconds: fc.constantFrom(60, 600),
});

/** One run: the store, the operator's caches and process, and what the user last applied. */
interface Run {
  readonly api: MemoryApi;
  snap: Snapshot;
  reconcile: (key: string) => Promise<{ requeueAfterMs?: number }>;
  now: number;
  requeueAfterMs: number | undefined;
  knobs: Knobs;
  replicas: number;
  image: string;
  images: number;
  paused: boolean;
  /** In the final stretch (finish): not counted as reached by the random commands. */
  finishing: boolean;
  readonly broken: Set<string>;
  readonly trace: string[];
}

const KEY = `${NAMESPACE}/app`;

function specOf(r: Run): Record<string, unknown> {
  const k = r.knobs;
  return {
    replicas: r.replicas,
    image: r.image,
    preview: {
      enabled: k.previewEnabled,
      ...(k.previewReplicas !== undefined ? { replicas: k.previewReplicas } : {}),
    },
    strategy: {
      promotion: k.auto ? { mode: "Auto", delaySeconds: k.delaySeconds } : { mode: "Manual" },
      scaleDownDelaySeconds: k.scaleDownDelaySeconds,
      abortScaleDownDelaySeconds: k.scaleDownDelaySeconds,
      progressDeadlineSeconds: k.progressDeadlineSeconds,
    },
    paused: r.paused,
  };
}

function startRun(knobs: Knobs): Run {
  const api = new MemoryApi();
  const r = {
    api,
    now: T0,
    requeueAfterMs: undefined,
    knobs,
    replicas: knobs.replicas,
    image: "app:v1",
    images: 1,
    paused: false,
    finishing: false,
    broken: new Set<string>(),
    trace: [],
  } as unknown as Run;
  applySpec(api, specOf(r));
  r.snap = newSnapshot(api);
  r.reconcile = newOperator(api, r.snap, () => r.now);
  return r;
}

function fail(r: Run, message: string): never {
  assert.fail(`${message}\n--- trace ---\n${r.trace.slice(-30).join("\n")}`);
}

/** spec.preview.replicas, capped at spec.replicas, at least 1 (0 with replicas 0): as the docs say. */
function previewSize(spec: { replicas?: number; preview?: { replicas?: number } } | undefined): number {
  const replicas = spec?.replicas ?? 1;
  return replicas === 0 ? 0 : Math.max(1, Math.min(replicas, spec?.preview?.replicas ?? replicas));
}

/** What the runs reached, so a generator that never gets anywhere fails instead of passing vacuously. */
const reached = new Map<string, number>();
const count = (what: string) => reached.set(what, (reached.get(what) ?? 0) + 1);

/** Judges each write against the store and the caches the reconcile planned from. */
function watchWrites(r: Run): void {
  r.api.onWrite = (_verb, path, body) => {
    const cachedBgd = r.snap.get(bgdAt);
    const live = liveColor(r.api);
    for (const c of COLORS) {
      // The live color's template is never rewritten.
      if (path === depAt(c) && c === live && (body as { kind?: string }).kind === "Deployment")
        fail(r, `applied a new template to the live color ${c}`);
    }
    if (path === `${bgdAt}/status`) {
      // The preview runs at its size while it waits for the promotion: the status that says so is
      // written after every other write of the plan.
      const st = (body as { status?: { phase?: string; previewColor?: Color } }).status;
      // Phases are counted as written too: a reconcile that switches writes Verifying and, when the
      // endpoints have caught up, requeues at once and ends Stable, so the stored phase alone rarely shows it.
      if (!r.finishing && st?.phase !== undefined) count(`phase ${st.phase}`);
      if (st?.phase !== "AwaitingPromotion" || st.previewColor === undefined) return;
      count("awaiting promotion checked");
      const size = replicasOf(r.api.get(depAt(st.previewColor)));
      const want = previewSize(cachedBgd?.spec as { replicas?: number; preview?: { replicas?: number } });
      if (size !== want)
        fail(r, `awaiting promotion with ${st.previewColor} at ${size} replicas, preview size ${want}`);
      return;
    }
    if (path !== servicePath(NAMESPACE, ACTIVE) || Array.isArray(body)) return;
    const to = (body as { spec?: { selector?: Record<string, string | null> } }).spec?.selector?.[
      LABEL_COLOR
    ];
    if ((to !== "blue" && to !== "green") || live === undefined || to === live) return;
    // A switch from one live color to the other.
    count("switch");
    const revision = templateOf(r.api.get(depAt(to))).revision;
    if (isPaused(cachedBgd)) fail(r, `switched to ${to} while the rollout was paused`);
    if (revision !== undefined && cachedBgd?.metadata.annotations?.[ANNOTATION_ABORT] === revision)
      fail(r, `switched to ${to}, whose revision ${revision} was aborted`);
    const ready = r.snap
      .list("pods", NAMESPACE, LABEL_COLOR, to)
      .filter((p) => p.metadata.labels?.[LABEL_REVISION] === revision)
      .filter((p) => JSON.stringify(p.status).includes('"Ready","status":"True"')).length;
    const wanted = Number((cachedBgd?.spec as { replicas?: number } | undefined)?.replicas ?? 1);
    if (ready < wanted) fail(r, `switched to ${to} with ${ready}/${wanted} ready pods`);
    const st = (cachedBgd?.status ?? {}) as {
      rollout?: { previewReadySince?: string; promotedAt?: string };
      history?: { revision: string }[];
    };
    const approved =
      cachedBgd?.metadata.annotations?.["bluegreen.io/promote"] === revision ||
      st.rollout?.promotedAt !== undefined ||
      (st.history ?? []).some((h) => h.revision === revision);
    if (!approved) {
      count("automatic switch");
      // Only automatic promotion is left, and it honours its delay from the time the preview was ready.
      const strategy = (
        cachedBgd?.spec as { strategy?: { promotion?: { mode?: string; delaySeconds?: number } } }
      )?.strategy;
      if (strategy?.promotion?.mode !== "Auto") fail(r, `switched to ${to} without an approval`);
      const delay = (strategy.promotion.delaySeconds ?? 0) * 1000;
      const since = Date.parse(st.rollout?.previewReadySince ?? "");
      if (delay > 0 && !(since + delay <= r.now))
        fail(r, `promoted automatically before its delay: ready since ${st.rollout?.previewReadySince}`);
    }
  };
}

async function reconcileOnce(r: Run, fault: Fault | undefined, after: number): Promise<void> {
  r.api.faults = fault === undefined ? [] : [...Array<undefined>(after).fill(undefined), fault];
  try {
    const res = await r.reconcile(KEY);
    r.requeueAfterMs = res.requeueAfterMs;
  } catch (err) {
    if (fault === undefined || r.api.faults.length > 0) fail(r, `reconcile failed: ${String(err)}`);
    if (err instanceof Crash) {
      // A new process: its informers list afresh, and it remembers nothing.
      r.snap = newSnapshot(r.api);
      r.reconcile = newOperator(r.api, r.snap, () => r.now);
    }
  } finally {
    // Counted when the fault was met (a plan with fewer writes never reaches it).
    if (fault !== undefined && r.api.faults.length === 0) count(`fault ${fault}`);
    r.api.faults = [];
  }
  const status = statusOf(r.api);
  if (!r.finishing) count(`phase ${String(status.phase)}`);
  const problem = statusProblem(status);
  if (problem !== undefined) fail(r, `stored status the schema refuses: ${problem}`);
}

async function step(r: Run, c: Command): Promise<void> {
  r.trace.push(`${JSON.stringify(c)} live=${liveColor(r.api) ?? "-"} phase=${String(statusOf(r.api).phase)}`);
  const { api } = r;
  switch (c.k) {
    case "controller":
      return deploymentController(api, c.color);
    case "podReady":
      return podBecomesReady(api, c.color, r.broken);
    case "podFails":
      return podFails(api, c.color);
    case "endpoints":
      return endpointsCatchUp(api, c.svc);
    case "settle":
      return settle(api, r.broken);
    case "sync":
      for (const k of c.kind === "all" ? KINDS : [c.kind]) r.snap.sync(k);
      return;
    case "newImage":
      r.image = `app:v${++r.images}`;
      if (c.broken) r.broken.add(r.image);
      return applySpec(api, specOf(r));
    case "replicas":
      r.replicas = c.n;
      return applySpec(api, specOf(r));
    case "promote": {
      const rev = statusOf(api).previewRevision;
      if (typeof rev === "string") approve(api, rev);
      return;
    }
    case "abort":
      // kubectl bluegreen abort: the revision being rolled out (the one the spec asks for).
      return annotate(api, ANNOTATION_ABORT, rev(r.image));
    case "pause":
      if (c.how === "spec") {
        r.paused = true;
        return applySpec(api, specOf(r));
      }
      return annotate(api, ANNOTATION_PAUSED, "true");
    case "resume":
      r.paused = false;
      applySpec(api, specOf(r));
      return annotate(api, ANNOTATION_PAUSED, null);
    case "mode":
      r.knobs = { ...r.knobs, auto: c.auto };
      return applySpec(api, specOf(r));
    case "tick":
      r.now += c.seconds * 1000;
      return;
    case "timer":
      r.now += r.requeueAfterMs ?? 1000;
      return;
    case "reconcile":
      return reconcileOnce(r, c.fault, c.after);
    case "run":
      for (let i = 0; i < c.rounds; i++) {
        settle(api, r.broken);
        for (const k of KINDS) r.snap.sync(k);
        await reconcileOnce(r, undefined, 0);
        r.now += 1000;
      }
      return;
  }
}

/** Given time, healthy pods, fresh caches and an approval, the rollout finishes and then rests. */
async function finish(r: Run): Promise<void> {
  r.finishing = true;
  r.paused = false;
  r.image = `app:v${++r.images}`;
  applySpec(r.api, specOf(r));
  annotate(r.api, ANNOTATION_PAUSED, null);
  for (let i = 0; i < 60; i++) {
    settle(r.api, r.broken);
    for (const k of KINDS) r.snap.sync(k);
    const st = statusOf(r.api);
    if (st.phase === "AwaitingPromotion" && typeof st.previewRevision === "string")
      approve(r.api, st.previewRevision);
    await reconcileOnce(r, undefined, 0);
    r.now += Math.min(r.requeueAfterMs ?? 1000, 600_000);
  }
  const st = statusOf(r.api);
  const live = liveColor(r.api);
  if (st.phase !== "Stable" || live === undefined) fail(r, `did not finish: phase ${String(st.phase)}`);
  const other = live === "blue" ? "green" : "blue";
  if (templateOf(r.api.get(depAt(live))).image !== r.image) fail(r, `${live} does not run ${r.image}`);
  if (replicasOf(r.api.get(depAt(live))) !== r.replicas) fail(r, `${live} is not at ${r.replicas} replicas`);
  // A retired color is eventually scaled down.
  if (r.api.get(depAt(other)) !== undefined && replicasOf(r.api.get(depAt(other))) !== 0)
    fail(r, `the retired color ${other} still runs ${replicasOf(r.api.get(depAt(other)))} replicas`);
  // A reconcile that finds nothing to do writes nothing.
  for (const k of KINDS) r.snap.sync(k);
  const before = r.api.log.length;
  await reconcileOnce(r, undefined, 0);
  if (r.api.log.length !== before)
    fail(r, `a settled reconcile wrote: ${r.api.log.slice(before).join(", ")}`);
}

const params = (n: number) => ({
  numRuns: Number(process.env.PLAN_RUNS ?? n),
  ...(process.env.PLAN_SEED !== undefined ? { seed: Number(process.env.PLAN_SEED) } : {}),
  ...(process.env.PLAN_PATH !== undefined ? { path: process.env.PLAN_PATH } : {}),
});

describe("the whole reconcile (observe → plan → execute) against an in-memory store", () => {
  it("keeps its invariants over stale caches, conflicts, failed writes and crashes, then finishes and rests", async () => {
    await fc.assert(
      fc.asyncProperty(
        knobsArb,
        fc.array(commandArb, { minLength: 5, maxLength: 80 }),
        async (knobs, commands) => {
          const r = startRun(knobs);
          watchWrites(r);
          for (const c of commands) await step(r, c);
          await finish(r);
        },
      ),
      params(200),
    );
  });

  it("those runs reached switches, every phase, and every kind of fault", () => {
    if (process.env.PLAN_STATS !== undefined) console.log(JSON.stringify([...reached]));
    for (const what of [
      "switch",
      "automatic switch",
      "phase AwaitingPromotion",
      "phase Verifying",
      "phase Stable",
      "phase Aborted",
      "phase Paused",
      "awaiting promotion checked",
      "fault conflict",
      "fault unavailable",
      "fault crash",
    ]) {
      assert.ok((reached.get(what) ?? 0) > 0, `no run reached ${what}: ${JSON.stringify([...reached])}`);
    }
  });
});
