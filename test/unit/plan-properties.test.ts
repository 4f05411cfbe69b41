/**
 * Properties of the planner over random event orders and operator crashes, in a simulated cluster
 * (support/world.ts). A run is a list of commands: the cluster making progress, a person changing the
 * BlueGreenDeployment, time passing, the operator reconciling — or dying part-way through a plan.
 * After every step the invariants of DESIGN.md ("The rollout") must hold.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import type { Action, Color, Observed } from "../../src/bluegreen/types.ts";
import { describeWrite, rev, statusProblem } from "./support/observed.ts";
import {
  annotate,
  controllerObserves,
  describeWorld,
  desiredRevision,
  editSpec,
  endpointsCatchUp,
  healEverything,
  newWorld,
  podBecomesReady,
  podFails,
  podRecovers,
  reconcile,
  rolledOut,
  type SimSpec,
  settleCluster,
  type World,
} from "./support/world.ts";

type Command =
  | { readonly k: "podReady"; readonly color: Color }
  | { readonly k: "podFails"; readonly color: Color }
  | { readonly k: "podRecovers"; readonly color: Color }
  | { readonly k: "controller"; readonly color: Color }
  | { readonly k: "endpoints"; readonly role: "active" | "preview" }
  /** The cluster catches up on everything at once (controllers, every pod that can be ready, slices). */
  | { readonly k: "settle" }
  | { readonly k: "newImage"; readonly broken: boolean }
  | { readonly k: "reapply"; readonly back: number }
  /** Re-apply the image the active Service serves (a revert mid-rollout). */
  | { readonly k: "revert" }
  | { readonly k: "replicas"; readonly n: number }
  | { readonly k: "previewReplicas"; readonly n: number | undefined }
  | { readonly k: "promote"; readonly what: "desired" | "statusPreview" }
  | { readonly k: "promoteStale"; readonly back: number }
  | { readonly k: "abort" }
  | { readonly k: "retry" }
  | { readonly k: "pause"; readonly how: "spec" | "annotation" }
  | { readonly k: "resume" }
  | { readonly k: "auto"; readonly delaySeconds: number }
  | { readonly k: "manual" }
  | { readonly k: "tick"; readonly seconds: number }
  | { readonly k: "timer" }
  | { readonly k: "reconcile" }
  /** Several rounds of: the cluster catches up, the operator reconciles (a rollout moving briskly). */
  | { readonly k: "run"; readonly rounds: number }
  | { readonly k: "crash"; readonly keep: number };

const color = fc.constantFrom<Color>("blue", "green");
const on = <T>(arbitrary: fc.Arbitrary<T>, cmd: (t: T) => Command) => arbitrary.map(cmd);
const k = (cmd: Command) => fc.constant(cmd);

/**
 * Relative weights: mostly the operator and the cluster moving, now and then a person acting. In a
 * "flaky" cluster pods fail more often and the cluster is slower to catch up, so the states in which
 * the live color is short of ready pods last long enough for people and timers to act in them.
 */
const commandsIn = (cluster: "brisk" | "flaky"): fc.Arbitrary<Command> => {
  const flaky = cluster === "flaky";
  return fc.oneof(
    { weight: 6, arbitrary: on(color, (c) => ({ k: "podReady", color: c })) },
    { weight: flaky ? 8 : 2, arbitrary: on(color, (c) => ({ k: "podFails", color: c })) },
    { weight: flaky ? 4 : 4, arbitrary: on(color, (c) => ({ k: "podRecovers", color: c })) },
    { weight: 8, arbitrary: on(color, (c) => ({ k: "controller", color: c })) },
    { weight: 8, arbitrary: on(fc.constantFrom("active", "preview"), (role) => ({ k: "endpoints", role })) },
    { weight: flaky ? 2 : 10, arbitrary: k({ k: "settle" }) },
    // One new image in four never gets a ready pod (a bad release).
    { weight: 6, arbitrary: on(fc.nat(3), (n) => ({ k: "newImage", broken: n === 0 })) },
    { weight: 2, arbitrary: on(fc.nat(4), (back) => ({ k: "reapply", back })) },
    { weight: 3, arbitrary: k({ k: "revert" }) },
    { weight: 2, arbitrary: on(fc.integer({ min: 1, max: 4 }), (n) => ({ k: "replicas", n })) },
    {
      weight: 1,
      arbitrary: on(fc.option(fc.integer({ min: 1, max: 3 }), { nil: undefined }), (n) => ({
        k: "previewReplicas",
        n,
      })),
    },
    {
      weight: 8,
      arbitrary: on(fc.constantFrom("desired", "statusPreview"), (what) => ({ k: "promote", what })),
    },
    { weight: 2, arbitrary: on(fc.nat(4), (back) => ({ k: "promoteStale", back })) },
    { weight: 2, arbitrary: k({ k: "abort" }) },
    { weight: 1, arbitrary: k({ k: "retry" }) },
    { weight: 2, arbitrary: on(fc.constantFrom("spec", "annotation"), (how) => ({ k: "pause", how })) },
    { weight: 3, arbitrary: k({ k: "resume" }) },
    { weight: 1, arbitrary: on(fc.constantFrom(0, 30), (delaySeconds) => ({ k: "auto", delaySeconds })) },
    { weight: 1, arbitrary: k({ k: "manual" }) },
    { weight: 4, arbitrary: on(fc.constantFrom(1, 10, 31, 61, 700), (seconds) => ({ k: "tick", seconds })) },
    { weight: 4, arbitrary: k({ k: "timer" }) },
    { weight: 30, arbitrary: k({ k: "reconcile" }) },
    { weight: 10, arbitrary: on(fc.integer({ min: 1, max: 6 }), (rounds) => ({ k: "run", rounds })) },
    { weight: 8, arbitrary: on(fc.nat(6), (keep) => ({ k: "crash", keep })) },
  );
};

/** A run's commands, in a brisk or a flaky cluster. */
const commandsArb = (maxLength: number, minLength = 0): fc.Arbitrary<readonly Command[]> =>
  fc
    .constantFrom<"brisk" | "flaky">("brisk", "flaky")
    .chain((cluster) => fc.array(commandsIn(cluster), { minLength, maxLength, size: "medium" }));

const specArb: fc.Arbitrary<SimSpec> = fc.record({
  image: fc.constant("app:v1"),
  replicas: fc.integer({ min: 1, max: 4 }),
  previewReplicas: fc.option(fc.integer({ min: 1, max: 3 }), { nil: undefined }),
  previewEnabled: fc.boolean(),
  mode: fc.constantFrom("Manual", "Auto"),
  delaySeconds: fc.constantFrom(0, 30),
  scaleDownDelaySeconds: fc.constantFrom(0, 30, 3600),
  abortScaleDownDelaySeconds: fc.constantFrom(0, 30),
  progressDeadlineSeconds: fc.constantFrom(5, 60, 600),
  abortOnProgressDeadline: fc.boolean(),
  paused: fc.constant(false),
});

/** What a run remembers beside the world, to judge the planner's writes. */
interface Checks {
  /** (d), strictly: a reconcile that wrote only status/events is followed by one with no cluster write. */
  readonly strictRest: boolean;
  /** A deadline abort only hits a revision that had progressDeadlineSeconds to become ready, and is not ready. */
  readonly fairDeadline: boolean;
}
const CORE: Checks = { strictRest: false, fairDeadline: false };

interface Run {
  world: World;
  readonly checks: Checks;
  /** Every image the user applied, oldest first. */
  readonly images: string[];
  nextImage: number;
  requeueAfterMs: number | undefined;
  /** Revisions the active Service has selected at some point (a switch back to one is a rollback). */
  readonly everActive: Set<string>;
  /** Revisions a person approved, or that were desired while promotion was Auto. */
  readonly grants: Set<string>;
  /**
   * The last time each color made progress the operator could see: its template was written, or a
   * reconcile observed it fully ready. A scale-up or a pod restart of a ready color therefore starts a
   * fresh deadline; a resize of a color that never became ready does not.
   */
  readonly progressAt: Partial<Record<Color, number>>;
  readonly trace: string[];
}

/** What the runs reached, so a generator that never gets anywhere fails instead of passing vacuously. */
const reached = new Map<string, number>();
const count = (what: string) => reached.set(what, (reached.get(what) ?? 0) + 1);

function startRun(spec: SimSpec, checks: Checks): Run {
  const world = newWorld({ ...spec, delaySeconds: spec.mode === "Auto" ? spec.delaySeconds : 0 });
  return {
    world,
    checks,
    images: [spec.image],
    nextImage: 2,
    requeueAfterMs: undefined,
    everActive: new Set(),
    grants: new Set(),
    progressAt: {},
    trace: [describeWorld(world)],
  };
}

function fail(run: Run, message: string): never {
  assert.fail(`${message}\n--- trace (oldest first) ---\n${run.trace.slice(-40).join("\n")}`);
}

/** Invariants about one write, judged against the world just before it happens. */
function checkWrite(run: Run, w: World, a: Action, o: Observed): void {
  const live = w.active.selector;
  const want = w.spec.replicas;
  switch (a.type) {
    case "ApplyDeployment":
      // (b) the live color's template is never changed by an update.
      if (a.color === live) fail(run, `(b) ApplyDeployment rewrote the template of the live color ${live}`);
      // A template is written only to change it: replica changes and restarts never redeploy (Argo #4552).
      if (w.deployments[a.color]?.canonical === o.desired.canonical)
        fail(run, `ApplyDeployment of ${a.color}, which already runs the desired template`);
      run.progressAt[a.color] = w.now;
      return;
    case "ScaleDeployment":
      // (b) the live color is never scaled to zero; it only follows spec.replicas.
      if (a.color === live && a.replicas !== want)
        fail(run, `(b) scaled the live color ${live} to ${a.replicas} (spec.replicas ${want})`);
      return;
    case "ApplyService": {
      const target = w.deployments[a.color];
      if (a.role === "preview") {
        // Readiness first (Argo Rollouts #2641): the preview moves to a new color only when all its pods are
        // ready. The pods, not the Deployment's status: that may still lag them (a scale the Deployment
        // controller has not observed yet), and what the Service reaches is the pods. (The model drops a
        // replaced template's pods at once, so every pod it counts runs the color's revision.)
        if (a.color !== live && (target === undefined || target.readyPods < Math.max(1, target.replicas)))
          fail(run, `preview Service pointed at ${a.color} before it was ready`);
        return;
      }
      if (a.color === live) return; // drift repair, same color
      // (a) the commit point: the color gets traffic only with every desired pod ready.
      if (target === undefined || target.replicas < want || target.readyPods < want)
        fail(
          run,
          `(a) switched the active Service to ${a.color} with ${target?.readyPods ?? 0}/${target?.replicas ?? 0} ready, spec.replicas ${want}`,
        );
      if (live !== undefined) {
        count("switch");
        // (c) only an approved revision, or one that was live before (rollback), gets the traffic.
        if (!run.grants.has(target.revision) && !run.everActive.has(target.revision))
          fail(
            run,
            `(c) switched to ${a.color} running ${target.image} (${target.revision}), never approved (approvals: ${[...run.grants].join(",") || "none"}; promote=${o.annotations.promote ?? "-"})`,
          );
      }
      return;
    }
    case "UpdateStatus": {
      // A status the API server refuses, or observe drops, loses the history rollback relies on.
      const problem = statusProblem(a.status);
      if (problem !== undefined) fail(run, `the planner wrote a status the schema refuses: ${problem}`);
      return;
    }
    case "SetScaleDownDeadline":
    case "MarkAborted":
    case "Event":
      return;
  }
}

function reconcileRun(run: Run, crashAfter: number | undefined): void {
  const before = run.world;
  if (before.spec.mode === "Auto") run.grants.add(desiredRevision(before));
  const idle = before.active.selector === "blue" ? "green" : "blue";
  const idleProgressAt = run.progressAt[idle];
  for (const c of ["blue", "green"] as const) {
    const d = before.deployments[c];
    if (d !== undefined && rolledOut(d) && d.replicas > 0) run.progressAt[c] = before.now;
  }
  const r = reconcile(before, {
    ...(crashAfter !== undefined ? { crashAfter } : {}),
    beforeAction: (w, a, o) => {
      checkWrite(run, w, a, o);
      run.trace.push(`    ${describeWrite(a) ?? (a.type === "Event" ? `Event ${a.reason}` : a.type)}`);
    },
  });
  run.world = r.world;
  run.requeueAfterMs = r.plan.requeueAfterMs;
  const aborts = r.plan.actions.some((a) => a.type === "MarkAborted");
  const switches = r.plan.actions.some((a) => a.type === "ApplyService" && a.role === "active");
  if (aborts && !switches && before.active.selector !== undefined) count("deadline abort");
  if (r.plan.actions.some((a) => a.type === "Event" && a.reason === "RolledBack"))
    count("rollback without a spec edit");
  if (aborts && !switches && before.active.selector !== undefined && run.checks.fairDeadline) {
    const d = before.deployments[idle];
    if (d !== undefined && rolledOut(d) && d.readyPods > 0)
      fail(
        run,
        `aborted ${desiredRevision(before)} on the deadline while ${idle} is ready (${d.readyPods}/${d.replicas})`,
      );
    // The new color gets progressDeadlineSeconds from its template write, or from the last time it was
    // ready (before a resize), to become ready: never less.
    const deadline = before.spec.progressDeadlineSeconds * 1000;
    if (idleProgressAt !== undefined && before.now < idleProgressAt + deadline)
      fail(
        run,
        `aborted ${desiredRevision(before)} on the deadline ${(before.now - idleProgressAt) / 1000}s after ${idle} last made progress (progressDeadlineSeconds ${deadline / 1000})`,
      );
  }
  if (r.executed < r.plan.actions.length)
    run.trace.push(`    -- crashed, ${r.plan.actions.length - r.executed} lost`);
  if (r.executed === r.plan.actions.length) {
    // After a whole plan, status.activeColor says what the active Service selects.
    const sel = run.world.active.selector;
    const st = run.world.status;
    if (sel !== undefined && st.activeColor !== sel)
      fail(run, `status.activeColor ${st.activeColor} but the active Service selects ${sel}`);
    const live = sel !== undefined ? run.world.deployments[sel] : undefined;
    if (live !== undefined && st.activeRevision !== live.revision)
      fail(run, `status.activeRevision ${st.activeRevision} but ${sel} runs ${live.revision}`);
    // The history names the revision that serves: rollback and the switch back after a failed
    // verification rely on it, even when a crash lost the status write of the switch.
    if (
      live !== undefined &&
      live.canonical === r.observed.desired.canonical &&
      !st.history?.some((h) => h.revision === live.revision)
    )
      fail(run, `status.history lacks the serving revision ${live.revision}`);
    // Stable means: traffic is on the desired revision.
    if (st.phase === "Stable" && live?.canonical !== r.observed.desired.canonical)
      fail(run, `reported Stable while ${sel} runs ${live?.image}, not ${before.spec.image}`);
    if (run.world.status.phase !== undefined) count(`phase ${run.world.status.phase}`);
  }
}

function apply(run: Run, c: Command): void {
  let w = run.world;
  switch (c.k) {
    case "podReady":
      w = podBecomesReady(w, c.color);
      break;
    case "podFails":
      w = podFails(w, c.color);
      break;
    case "podRecovers":
      w = podRecovers(w, c.color);
      break;
    case "controller":
      w = controllerObserves(w, c.color);
      break;
    case "endpoints":
      w = endpointsCatchUp(w, c.role);
      break;
    case "settle":
      w = settleCluster(w);
      break;
    case "newImage": {
      const image = `app:v${run.nextImage++}`;
      run.images.push(image);
      w = editSpec(w, { image });
      if (c.broken) w = { ...w, broken: [...w.broken, image] };
      break;
    }
    case "reapply": {
      const image = run.images[Math.max(0, run.images.length - 2 - c.back)] ?? w.spec.image;
      run.images.push(image);
      w = editSpec(w, { image });
      break;
    }
    case "revert": {
      const live = w.active.selector !== undefined ? w.deployments[w.active.selector] : undefined;
      if (live !== undefined) {
        run.images.push(live.image);
        w = editSpec(w, { image: live.image });
      }
      break;
    }
    case "replicas":
      w = editSpec(w, { replicas: c.n });
      break;
    case "previewReplicas":
      w = editSpec(w, { previewReplicas: c.n });
      break;
    case "promote": {
      const r =
        c.what === "statusPreview" ? (w.status.previewRevision ?? desiredRevision(w)) : desiredRevision(w);
      w = annotate(w, { promote: r });
      run.grants.add(r);
      break;
    }
    case "promoteStale": {
      const others = run.images.map(rev).filter((r) => r !== desiredRevision(w));
      const r = others[others.length - 1 - (c.back % Math.max(1, others.length))];
      if (r !== undefined) {
        w = annotate(w, { promote: r });
        run.grants.add(r);
      }
      break;
    }
    case "abort":
      w = annotate(w, { abort: desiredRevision(w) });
      break;
    case "retry":
      w = annotate(w, { abort: undefined });
      break;
    case "pause":
      w = c.how === "spec" ? editSpec(w, { paused: true }) : annotate(w, { paused: true });
      break;
    case "resume":
      w = annotate(editSpec(w, { paused: false }), { paused: false });
      break;
    case "auto":
      w = editSpec(w, { mode: "Auto", delaySeconds: c.delaySeconds });
      break;
    case "manual":
      w = editSpec(w, { mode: "Manual", delaySeconds: 0 });
      break;
    case "tick":
      w = { ...w, now: w.now + c.seconds * 1000 };
      break;
    case "timer":
      w = { ...w, now: w.now + (run.requeueAfterMs ?? 1000) };
      break;
    case "reconcile":
      run.trace.push(JSON.stringify(c));
      reconcileRun(run, undefined);
      return;
    case "crash":
      run.trace.push(JSON.stringify(c));
      reconcileRun(run, c.keep);
      return;
    case "run":
      run.trace.push(JSON.stringify(c));
      for (let i = 0; i < c.rounds; i++) {
        run.world = settleCluster(run.world);
        reconcileRun(run, undefined);
        checkState(run);
      }
      return;
  }
  run.trace.push(JSON.stringify(c));
  run.world = w;
}

/** Invariants about the state itself, after every step. */
function checkState(run: Run): void {
  const w = run.world;
  const sel = w.active.selector;
  if (sel !== undefined) {
    const d = w.deployments[sel];
    if (d === undefined) fail(run, `the active Service selects ${sel}, which has no Deployment`);
    run.everActive.add(d.revision);
    // (b) the live color is never scaled to zero (spec.replicas is at least 1 in these runs).
    if (d.replicas === 0) fail(run, `the live color ${sel} is scaled to zero`);
  } else if (run.everActive.size > 0) {
    fail(run, "the active Service stopped selecting a color");
  }
}

/**
 * (d) Reconciling a world nobody else touches comes to rest: within a few reconciles the plan is
 * empty, and a plan that wrote only status/events is followed by one with no cluster write.
 */
function checkComesToRest(run: Run): void {
  let w = run.world;
  let statusOnly = false;
  for (let round = 0; round < 5; round++) {
    const r = reconcile(w);
    const clusterWrites = r.plan.actions.map(describeWrite).filter((d) => d !== undefined);
    if (r.plan.actions.length === 0) return;
    if (run.checks.strictRest && statusOnly && clusterWrites.length > 0)
      fail(
        run,
        `(d) after a status-only reconcile, the next one on an unchanged world writes ${clusterWrites.join("; ")}\n${describeWorld(w)}`,
      );
    statusOnly = clusterWrites.length === 0;
    w = r.world;
  }
  const last = reconcile(w).plan.actions.map((a) => describeWrite(a) ?? a.type);
  fail(
    run,
    `(d) an unchanged world never comes to rest; still planning ${last.join("; ")}\n${describeWorld(w)}`,
  );
}

/** Most runs start from a first deployment already serving, so they spend their steps on rollouts. */
const startArb = fc.constantFrom<"empty" | "serving">("empty", "serving", "serving", "serving");
const FIRST_DEPLOYMENT: readonly Command[] = [
  { k: "reconcile" },
  { k: "settle" },
  { k: "reconcile" },
  { k: "settle" },
  { k: "reconcile" },
  { k: "settle" },
  { k: "reconcile" },
];

function runCommands(
  spec: SimSpec,
  start: "empty" | "serving",
  commands: readonly Command[],
  checks: Checks = CORE,
): Run {
  const run = startRun(spec, checks);
  for (const c of start === "serving" ? [...FIRST_DEPLOYMENT, ...commands] : commands) {
    apply(run, c);
    checkState(run);
    checkComesToRest(run);
  }
  return run;
}

const isDone = (w: World): boolean => {
  const sel = w.active.selector;
  const d = sel !== undefined ? w.deployments[sel] : undefined;
  return w.status.phase === "Stable" && d !== undefined && d.revision === desiredRevision(w);
};

/**
 * PLAN_RUNS=5000 for a longer hunt; the default keeps `make test` quick. A failure prints fast-check's
 * seed and path: PLAN_SEED=<seed> PLAN_PATH=<path> replays exactly that counterexample.
 */
const params = (n: number) => ({
  numRuns: Number(process.env.PLAN_RUNS ?? n),
  ...(process.env.PLAN_SEED !== undefined ? { seed: Number(process.env.PLAN_SEED) } : {}),
  ...(process.env.PLAN_PATH !== undefined ? { path: process.env.PLAN_PATH } : {}),
});

/** The safety property over random runs (also what the reach check below explores further). */
const safetyProperty = () =>
  fc.property(specArb, startArb, commandsArb(80, 5), (spec, start, commands) => {
    runCommands(spec, start, commands);
  });

describe("planner properties", () => {
  it("keeps traffic on one ready, approved color and never touches the live color, over any events and crashes", () => {
    fc.assert(safetyProperty(), params(400));
  });

  it("those runs reached every situation, switches and deadline aborts included", () => {
    // A generator that never gets anywhere would make the property above pass without proving anything.
    const wanted = [
      "switch",
      "phase Initializing",
      "phase Progressing",
      "phase AwaitingPromotion",
      "phase Promoting",
      "phase Verifying",
      "phase Stable",
      "phase Aborted",
      "phase Paused",
      "deadline abort",
      "rollback without a spec edit",
    ];
    // The rarest situations (a rollback without a spec edit: ~5 in 400 runs) are sometimes missed by
    // one batch of random runs; a few more batches of the same property (still checked) look for them
    // before the generator is called unable to get there.
    for (let extra = 0; extra < 4 && wanted.some((w) => (reached.get(w) ?? 0) === 0); extra++)
      fc.assert(safetyProperty(), { numRuns: 200 });
    if (process.env.PLAN_STATS !== undefined) console.log(JSON.stringify([...reached]));
    for (const what of wanted)
      assert.ok((reached.get(what) ?? 0) > 0, `no run reached ${what}: ${JSON.stringify([...reached])}`);
  });

  it("a reconcile after one that wrote only status writes nothing to the cluster", () => {
    fc.assert(
      fc.property(specArb, startArb, commandsArb(80, 5), (spec, start, commands) => {
        runCommands(spec, start, commands, { ...CORE, strictRest: true });
      }),
      params(300),
    );
  });

  it("the progress deadline aborts only a revision that is not ready and had its whole deadline", () => {
    fc.assert(
      fc.property(specArb, startArb, commandsArb(80, 5), (spec, start, commands) => {
        runCommands(spec, start, commands, { ...CORE, fairDeadline: true });
      }),
      params(1500),
    );
  });

  it("reaches Stable on the desired revision once its pods can be ready and it is approved (or Auto)", () => {
    fc.assert(
      fc.property(
        specArb,
        startArb,
        commandsArb(60),
        fc.constantFrom("approve", "auto"),
        (spec, start, commands, how) => {
          const run = runCommands(spec, start, commands);
          // From wherever the run left it: a person resumes, retries, and approves; pods can be ready.
          let world = annotate(editSpec(run.world, { paused: false }), { paused: false });
          if (world.annotations.abort === desiredRevision(world))
            world = annotate(world, { abort: undefined });
          world = healEverything(world);
          world =
            how === "auto"
              ? editSpec(world, { mode: "Auto" })
              : annotate(world, { promote: desiredRevision(world) });
          run.grants.add(desiredRevision(world));
          run.world = world;
          run.trace.push(`-- ${how}: resume, retry, approve ${desiredRevision(world)}`);
          let retries = 0;
          for (let step = 0; step < 40; step++) {
            // The deadline may legitimately abort what was slow before the pods could be ready: the
            // person retries, and a fresh attempt must then get through.
            if (run.world.annotations.abort === desiredRevision(run.world)) {
              if (++retries > 2) fail(run, "aborted again after a retry with every pod able to become ready");
              run.world = annotate(run.world, { abort: undefined });
              run.trace.push("-- retry");
            }
            run.world = settleCluster(run.world);
            const before = run.world;
            reconcileRun(run, undefined);
            checkState(run);
            if (isDone(run.world)) {
              count("liveness reached Stable");
              return;
            }
            if (run.world === before) {
              // Nothing was written, so no watch event will come: only the plan's timer can move things on.
              if (run.requeueAfterMs === undefined)
                fail(run, `stalled: nothing to do and no timer\n${describeWorld(run.world)}`);
              run.world = { ...run.world, now: run.world.now + run.requeueAfterMs };
            }
          }
          fail(
            run,
            `not Stable on ${desiredRevision(run.world)} after 40 reconciles\n${describeWorld(run.world)}`,
          );
        },
      ),
      params(200),
    );
  });
});
