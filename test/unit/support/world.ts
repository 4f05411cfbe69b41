/**
 * A pure simulated cluster for property tests of the planner: what the planner reads (two
 * Deployments, the active and preview Services with lagging EndpointSlices, the BlueGreenDeployment's
 * spec, annotations and status, the clock) and what its actions do to it. No I/O, no timers: every
 * function takes a World and returns a new one.
 *
 * The model follows the real objects where the planner's safety depends on them:
 * - a Deployment's `rolledOut` needs the Deployment controller to have observed the last write;
 * - a new template replaces every pod at once, so readiness starts again from zero;
 * - EndpointSlices lag: a Service's ready-endpoint counts change only when the EndpointSlice
 *   controller catches up (deleted pods drop out at once, a pod that stops being ready does not);
 * - pods of a "broken" image never become ready.
 */
import type { BlueGreenDeploymentSpec, BlueGreenDeploymentStatus } from "../../../src/api/schema.ts";
import { plan } from "../../../src/bluegreen/plan.ts";
import type { Action, Color, ColorState, Observed, Plan } from "../../../src/bluegreen/types.ts";
import { desiredOf, NAME, NAMESPACE, specOf, T0, UID } from "./observed.ts";

export const BOTH: readonly Color[] = ["blue", "green"];

/** The knobs of spec the simulations turn (the rest keeps its defaults). */
export interface SimSpec {
  readonly image: string;
  readonly replicas: number;
  readonly previewReplicas: number | undefined;
  readonly previewEnabled: boolean;
  readonly mode: "Manual" | "Auto";
  readonly delaySeconds: number;
  readonly scaleDownDelaySeconds: number;
  readonly abortScaleDownDelaySeconds: number;
  readonly progressDeadlineSeconds: number;
  readonly abortOnProgressDeadline: boolean;
  readonly paused: boolean;
}

export interface SimDeployment {
  readonly canonical: string;
  readonly revision: string;
  readonly image: string;
  readonly replicas: number;
  readonly generation: number;
  readonly observedGeneration: number;
  /** Ready pods of the current template (never more than replicas). */
  readonly readyPods: number;
  /** Pods that fail their readiness probe until they recover (a crash loop, a dependency down). */
  readonly failing: number;
  /** The bluegreen.io/scale-down-at annotation as written ("" or absent: none). */
  readonly scaleDownAt: string | undefined;
}

export interface SimService {
  readonly exists: boolean;
  readonly selector: Color | undefined;
  readonly upToDate: boolean;
  /** What the EndpointSlices say, which lags behind the pods. */
  readonly endpoints: Readonly<Record<Color, number>>;
}

export interface World {
  readonly now: number;
  readonly generation: number;
  readonly spec: SimSpec;
  readonly annotations: { readonly promote?: string; readonly abort?: string; readonly paused: boolean };
  readonly status: BlueGreenDeploymentStatus;
  readonly deployments: Readonly<Partial<Record<Color, SimDeployment>>>;
  readonly active: SimService;
  readonly preview: SimService;
  /** Images whose pods never become ready. */
  readonly broken: readonly string[];
}

export const DEFAULT_SIM_SPEC: SimSpec = {
  image: "app:v1",
  replicas: 3,
  previewReplicas: undefined,
  previewEnabled: true,
  mode: "Manual",
  delaySeconds: 0,
  scaleDownDelaySeconds: 30,
  abortScaleDownDelaySeconds: 30,
  progressDeadlineSeconds: 600,
  abortOnProgressDeadline: true,
  paused: false,
};

const noService: SimService = {
  exists: false,
  selector: undefined,
  upToDate: false,
  endpoints: { blue: 0, green: 0 },
};

export function newWorld(spec: Partial<SimSpec> = {}, now = T0): World {
  return {
    now,
    generation: 1,
    spec: { ...DEFAULT_SIM_SPEC, ...spec },
    annotations: { paused: false },
    status: {},
    deployments: {},
    active: noService,
    preview: noService,
    broken: [],
  };
}

export function bgdSpec(w: World): BlueGreenDeploymentSpec {
  const s = w.spec;
  return specOf({
    replicas: s.replicas,
    image: s.image,
    preview: {
      enabled: s.previewEnabled,
      ...(s.previewReplicas !== undefined ? { replicas: s.previewReplicas } : {}),
    },
    strategy: {
      promotion: s.mode === "Auto" ? { mode: "Auto", delaySeconds: s.delaySeconds } : { mode: "Manual" },
      scaleDownDelaySeconds: s.scaleDownDelaySeconds,
      abortScaleDownDelaySeconds: s.abortScaleDownDelaySeconds,
      progressDeadlineSeconds: s.progressDeadlineSeconds,
      abortOnProgressDeadline: s.abortOnProgressDeadline,
    },
    paused: s.paused,
  });
}

export const desiredRevision = (w: World): string => desiredOf(bgdSpec(w)).revision;

function parseDeadline(v: string | undefined): number | "invalid" | undefined {
  if (v === undefined || v === "") return undefined;
  const t = Date.parse(v);
  return Number.isNaN(t) ? "invalid" : t;
}

export const rolledOut = (d: SimDeployment): boolean =>
  d.observedGeneration >= d.generation && d.readyPods >= d.replicas;

/** What observe() would hand the planner if the informer caches held this world. */
export function observedOf(w: World): Observed {
  const spec = bgdSpec(w);
  const colors: Partial<Record<Color, ColorState>> = {};
  const pods: { name: string; color: Color; ready: boolean }[] = [];
  for (const c of BOTH) {
    const d = w.deployments[c];
    if (d === undefined) continue;
    colors[c] = {
      color: c,
      revision: d.revision,
      userTemplate: d.canonical,
      image: d.image,
      replicas: d.replicas,
      rolledOut: rolledOut(d),
      readyPods: d.readyPods,
      // A new template replaces every pod at once in this world: no ready pod of another revision stays.
      staleReadyPods: 0,
      scaleDownAt: parseDeadline(d.scaleDownAt),
    };
    for (let i = 0; i < d.replicas; i++)
      pods.push({ name: `${NAME}-${c}-${i}`, color: c, ready: i < d.readyPods });
  }
  const service = (s: SimService) => ({
    exists: s.exists,
    selectorColor: s.selector,
    upToDate: s.exists && s.selector !== undefined && s.upToDate,
  });
  return {
    name: NAME,
    namespace: NAMESPACE,
    uid: UID,
    generation: w.generation,
    spec,
    status: w.status,
    annotations: { promote: w.annotations.promote, abort: w.annotations.abort, paused: w.annotations.paused },
    desired: desiredOf(spec),
    colors,
    activeService: service(w.active),
    previewService: w.spec.previewEnabled ? service(w.preview) : undefined,
    activeEndpoints: { ...w.active.endpoints },
    previewEndpoints: w.spec.previewEnabled ? { ...w.preview.endpoints } : { blue: 0, green: 0 },
    pods: pods.slice(0, 40),
  };
}

// ---------------------------------------------------------------------------------------------------------
// The planner's actions

function withDeployment(w: World, c: Color, d: SimDeployment | undefined): World {
  const deployments = { ...w.deployments };
  if (d === undefined) delete deployments[c];
  else deployments[c] = d;
  return { ...w, deployments };
}

/** Pods that are gone are gone from the EndpointSlices too (observe only counts pods it still sees). */
function dropGonePods(w: World, c: Color, remaining: number): World {
  const clamp = (s: SimService): SimService =>
    s.endpoints[c] > remaining ? { ...s, endpoints: { ...s.endpoints, [c]: remaining } } : s;
  return { ...w, active: clamp(w.active), preview: clamp(w.preview) };
}

function resize(w: World, c: Color, d: SimDeployment, replicas: number): World {
  if (d.replicas === replicas) return w;
  const next = {
    ...d,
    replicas,
    generation: d.generation + 1,
    readyPods: Math.min(d.readyPods, replicas),
    failing: Math.min(d.failing, replicas),
  };
  return dropGonePods(withDeployment(w, c, next), c, replicas);
}

/** What execute() does with one action; `o` is the Observed the plan was made from (it renders from it). */
export function applyAction(w: World, a: Action, o: Observed): World {
  switch (a.type) {
    case "ApplyDeployment": {
      const old = w.deployments[a.color];
      const d = o.desired;
      if (old === undefined) {
        const created: SimDeployment = {
          canonical: d.canonical,
          revision: d.revision,
          image: d.image,
          replicas: a.replicas,
          generation: 1,
          observedGeneration: 0,
          readyPods: 0,
          failing: 0,
          scaleDownAt: undefined,
        };
        return withDeployment(w, a.color, created);
      }
      const templateChanged = old.canonical !== d.canonical;
      const changed = templateChanged || old.replicas !== a.replicas;
      const next: SimDeployment = {
        canonical: d.canonical,
        revision: d.revision,
        image: d.image,
        replicas: a.replicas,
        generation: changed ? old.generation + 1 : old.generation,
        observedGeneration: old.observedGeneration,
        readyPods: templateChanged ? 0 : Math.min(old.readyPods, a.replicas),
        failing: templateChanged ? 0 : old.failing,
        // The rendered Deployment always carries an empty scale-down-at: a deadline belongs to a retired revision.
        scaleDownAt: "",
      };
      return dropGonePods(withDeployment(w, a.color, next), a.color, templateChanged ? 0 : a.replicas);
    }
    case "ScaleDeployment": {
      const d = w.deployments[a.color];
      // A merge patch of a missing Deployment is a 404: the executor stops, nothing changes.
      return d === undefined ? w : resize(w, a.color, d, a.replicas);
    }
    case "SetScaleDownDeadline": {
      const d = w.deployments[a.color];
      return d === undefined ? w : withDeployment(w, a.color, { ...d, scaleDownAt: a.at });
    }
    case "ApplyService": {
      const s = a.role === "active" ? w.active : w.preview;
      const next: SimService = { ...s, exists: true, selector: a.color, upToDate: true };
      return a.role === "active" ? { ...w, active: next } : { ...w, preview: next };
    }
    case "MarkAborted":
      return { ...w, annotations: { ...w.annotations, abort: a.revision } };
    // The simulated world has no adopted Service (a user-made Service is not modelled).
    // Nor hand edits of Deployments: spec hashes are not modelled (planDrift has its own tests).
    case "RepairDeployment":
    case "RecordDeploymentSpec":
    case "PatchPodMetadata":
    case "AddFinalizer":
    case "RemoveFinalizer":
    case "HandBackService":
    // Nor an HTTPRoute: the canary planner has its own table and property tests (plan-canary*.test.ts).
    case "AdoptRoute":
    case "SetRouteWeights":
    case "HandBackRoute":
      return w;
    case "ClearAborted": {
      const { abort: _cleared, ...rest } = w.annotations;
      return { ...w, annotations: rest };
    }
    case "UpdateStatus":
      return { ...w, status: structuredClone(a.status) };
    case "Event":
    case "CreateJob":
    case "RunMeasurement":
    case "ForgetMeasurement":
      return w;
  }
}

export interface Reconciled {
  readonly world: World;
  readonly observed: Observed;
  readonly plan: Plan;
  /** How many of the plan's actions were carried out (all of them unless the operator crashed). */
  readonly executed: number;
}

/**
 * One reconcile: observe, plan, execute. With `crashAfter`, the operator dies after that many actions
 * and the rest of the plan is lost. `beforeAction` sees the world as it is just before each write.
 */
export function reconcile(
  w: World,
  opts: { crashAfter?: number; beforeAction?: (w: World, a: Action, o: Observed) => void } = {},
): Reconciled {
  const o = observedOf(w);
  const p = plan(o, w.now);
  const n = Math.min(p.actions.length, opts.crashAfter ?? p.actions.length);
  let world = w;
  for (const a of p.actions.slice(0, n)) {
    opts.beforeAction?.(world, a, o);
    world = applyAction(world, a, o);
  }
  return { world, observed: o, plan: p, executed: n };
}

// ---------------------------------------------------------------------------------------------------------
// The rest of the cluster

/** One more pod of this color becomes Ready (only once the Deployment controller has seen the last write). */
export function podBecomesReady(w: World, c: Color): World {
  const d = w.deployments[c];
  if (d === undefined || d.observedGeneration < d.generation) return w;
  if (d.readyPods >= d.replicas - d.failing || w.broken.includes(d.image)) return w;
  return withDeployment(w, c, { ...d, readyPods: d.readyPods + 1 });
}

/**
 * A ready pod of this color starts failing its readiness probe, and keeps failing until it recovers.
 * Its endpoint stays "ready" until the EndpointSlices catch up.
 */
export function podFails(w: World, c: Color): World {
  const d = w.deployments[c];
  if (d === undefined || d.readyPods === 0) return w;
  return withDeployment(w, c, { ...d, readyPods: d.readyPods - 1, failing: d.failing + 1 });
}

/** A failing pod of this color passes its probe again (it becomes Ready at the next progress). */
export function podRecovers(w: World, c: Color): World {
  const d = w.deployments[c];
  if (d === undefined || d.failing === 0) return w;
  return withDeployment(w, c, { ...d, failing: d.failing - 1 });
}

/** Every failing pod recovers and no image is broken any more: whatever runs can become ready. */
export function healEverything(w: World): World {
  let world: World = { ...w, broken: [] };
  for (const c of BOTH) {
    const d = world.deployments[c];
    if (d !== undefined && d.failing > 0) world = withDeployment(world, c, { ...d, failing: 0 });
  }
  return world;
}

export function controllerObserves(w: World, c: Color): World {
  const d = w.deployments[c];
  if (d === undefined || d.observedGeneration === d.generation) return w;
  return withDeployment(w, c, { ...d, observedGeneration: d.generation });
}

/** The EndpointSlice controller brings one Service's slices up to date with its selector and the pods. */
export function endpointsCatchUp(w: World, role: "active" | "preview"): World {
  const s = role === "active" ? w.active : w.preview;
  const endpoints = { blue: 0, green: 0 };
  if (s.exists && s.selector !== undefined) endpoints[s.selector] = w.deployments[s.selector]?.readyPods ?? 0;
  const next = { ...s, endpoints };
  return role === "active" ? { ...w, active: next } : { ...w, preview: next };
}

/** Everything the cluster will do on its own, done: controllers caught up, every pod that can be ready is. */
export function settleCluster(w: World): World {
  let world = w;
  for (const c of BOTH) {
    world = controllerObserves(world, c);
    for (;;) {
      const next = podBecomesReady(world, c);
      if (next === world) break;
      world = next;
    }
  }
  return endpointsCatchUp(endpointsCatchUp(world, "active"), "preview");
}

/** A change of spec (a new generation, as the API server counts them). */
export function editSpec(w: World, change: Partial<SimSpec>): World {
  const spec = { ...w.spec, ...change };
  if (JSON.stringify(spec) === JSON.stringify(w.spec)) return w;
  return { ...w, spec, generation: w.generation + 1 };
}

export function annotate(
  w: World,
  change: {
    readonly promote?: string | undefined;
    readonly abort?: string | undefined;
    readonly paused?: boolean;
  },
): World {
  const merged = { ...w.annotations, ...change };
  const annotations: { promote?: string; abort?: string; paused: boolean } = { paused: merged.paused };
  if (merged.promote !== undefined) annotations.promote = merged.promote;
  if (merged.abort !== undefined) annotations.abort = merged.abort;
  return { ...w, annotations };
}

/** A compact picture of the world for failure messages. */
export function describeWorld(w: World): string {
  const dep = (c: Color) => {
    const d = w.deployments[c];
    if (d === undefined) return `${c}: -`;
    return `${c}: ${d.image} ${d.readyPods}/${d.replicas}${d.failing > 0 ? ` (${d.failing} failing)` : ""}${rolledOut(d) ? "" : " (rolling)"}${d.scaleDownAt ? ` scaleDownAt=${d.scaleDownAt}` : ""}`;
  };
  const svc = (s: SimService) =>
    s.exists ? `${s.selector ?? "none"} ep=${s.endpoints.blue}/${s.endpoints.green}` : "absent";
  return [
    `t=+${(w.now - T0) / 1000}s spec=${JSON.stringify(w.spec)}`,
    `annotations=${JSON.stringify(w.annotations)} phase=${w.status.phase ?? "-"}`,
    `${dep("blue")}; ${dep("green")}; active=${svc(w.active)}; preview=${svc(w.preview)}`,
  ].join("\n");
}
