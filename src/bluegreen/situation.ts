/**
 * Where a BlueGreenDeployment stands, classified from the cluster alone, and the settings the
 * planner reads from its spec (defaults applied). Pure.
 */
import { DEFAULTS } from "../api/labels.ts";
import { COLORS, type Color, type ColorState, type Observed, otherColor } from "./types.ts";

/** Where a BlueGreenDeployment stands, derived from the cluster alone. One variant per situation. */
export type Situation =
  /** No color is live yet (first deployment, or the active Service lost its selector). */
  | { readonly kind: "FirstDeploy"; readonly color: Color }
  /** The live color runs the desired revision; the other color is idle or retiring. */
  | { readonly kind: "Steady"; readonly active: Color }
  /** A new revision is going to the idle color while the live color keeps serving. */
  | { readonly kind: "Rollout"; readonly active: Color; readonly idle: Color }
  /**
   * The desired revision was aborted (by a person or the deadline): traffic stays on `active`, the idle
   * color retires. With `switchBack`, the aborted revision is the one live on `idle` (a rollback that
   * leaves the spec alone) and `active` is the warm color that served before: the one extra write is
   * the active Service's selector going back to it.
   */
  | { readonly kind: "Aborted"; readonly active: Color; readonly idle: Color; readonly switchBack?: true }
  /** A rollout is frozen by spec.paused or the bluegreen.io/paused annotation. */
  | { readonly kind: "Paused"; readonly active: Color; readonly idle: Color };

export interface Settings {
  readonly replicas: number;
  readonly previewEnabled: boolean;
  readonly previewReplicas: number;
  readonly autoPromote: boolean;
  readonly promotionDelayMs: number;
  readonly scaleDownDelayMs: number;
  readonly abortScaleDownDelayMs: number;
  readonly progressDeadlineMs: number;
  readonly abortOnDeadline: boolean;
  readonly paused: boolean;
}

export function settingsOf(o: Observed): Settings {
  const s = o.spec;
  const replicas = s.replicas ?? DEFAULTS.replicas;
  // A preview never runs more pods than the full size (and at least one, so there is something to look at).
  const previewReplicas = Math.min(replicas, s.preview?.replicas ?? replicas);
  return {
    replicas,
    previewEnabled: s.preview?.enabled ?? DEFAULTS.previewEnabled,
    previewReplicas: replicas === 0 ? 0 : Math.max(1, previewReplicas),
    autoPromote: s.strategy?.promotion?.mode === "Auto",
    promotionDelayMs: (s.strategy?.promotion?.delaySeconds ?? DEFAULTS.promotionDelaySeconds) * 1000,
    scaleDownDelayMs: (s.strategy?.scaleDownDelaySeconds ?? DEFAULTS.scaleDownDelaySeconds) * 1000,
    abortScaleDownDelayMs:
      (s.strategy?.abortScaleDownDelaySeconds ?? DEFAULTS.abortScaleDownDelaySeconds) * 1000,
    progressDeadlineMs: (s.strategy?.progressDeadlineSeconds ?? DEFAULTS.progressDeadlineSeconds) * 1000,
    abortOnDeadline: s.strategy?.abortOnProgressDeadline ?? DEFAULTS.abortOnProgressDeadline,
    paused: (s.paused ?? DEFAULTS.paused) || o.annotations.paused,
  };
}

export function runsDesired(o: Observed, c: ColorState | undefined): c is ColorState {
  if (c === undefined) return false;
  // The user's template, not a hash, is the identity: a new way of hashing never redeploys.
  if (c.userTemplate !== undefined) return c.userTemplate === o.desired.canonical;
  return c.revision === o.desired.revision;
}

/** Ready at `replicas`: the Deployment settled on our last write and that many pods are Ready. */
export function readyAt(c: ColorState | undefined, replicas: number): boolean {
  return c !== undefined && c.replicas === replicas && c.rolledOut && c.readyPods >= replicas;
}

/**
 * Every pod of the new revision is Ready and no Ready pod of another revision is left in the color,
 * whether or not the Deployment controller has said so yet (its status follows the pods by a round
 * trip): what a Service selecting this color would send to is exactly the new revision's pods.
 */
export function podsReadyAt(c: ColorState | undefined, replicas: number): boolean {
  return c !== undefined && c.replicas === replicas && c.readyPods >= replicas && c.staleReadyPods === 0;
}

/** The live color is what the active Service selects — the cluster, not our status, is the truth. */
export function liveColor(o: Observed): Color | undefined {
  const sel = o.activeService.selectorColor;
  if (sel === "blue" || sel === "green") return o.colors[sel] !== undefined ? sel : undefined;
  return undefined;
}

export function classify(o: Observed, s: Settings = settingsOf(o)): Situation {
  const active = liveColor(o);
  if (active === undefined) return { kind: "FirstDeploy", color: firstColor(o) };
  const idle = otherColor(active);
  if (runsDesired(o, o.colors[active])) {
    if (o.annotations.abort === o.desired.revision && warmPrevious(o, s, idle))
      return { kind: "Aborted", active: idle, idle: active, switchBack: true };
    return { kind: "Steady", active };
  }
  if (o.annotations.abort === o.desired.revision) return { kind: "Aborted", active, idle };
  if (s.paused) return { kind: "Paused", active, idle };
  return { kind: "Rollout", active, idle };
}

/**
 * A color traffic may go back to without an approval: it runs a revision that served before (in the
 * history: never an aborted preview nobody approved) and is still at full size with every pod ready.
 */
export function warmPrevious(o: Observed, s: Settings, c: Color): boolean {
  const dep = o.colors[c];
  if (dep?.revision === undefined) return false;
  // Not a type guard here: its false branch would narrow dep away.
  const desired: boolean = runsDesired(o, dep);
  if (desired) return false;
  const served = (o.status.history ?? []).some((h) => h.revision === dep.revision);
  return served && dep.replicas >= s.replicas && readyAt(dep, dep.replicas) && s.replicas > 0;
}

/**
 * With no live color, prefer one that already runs the desired revision, then the color our
 * status last reported (a person broke the selector: restore it), then blue.
 */
export function firstColor(o: Observed): Color {
  for (const c of COLORS) if (runsDesired(o, o.colors[c])) return c;
  const last = o.status.activeColor;
  if ((last === "blue" || last === "green") && o.colors[last] !== undefined) return last;
  return "blue";
}

export const parseTime = (t: string | undefined): number | undefined => {
  if (t === undefined) return undefined;
  const v = Date.parse(t);
  return Number.isNaN(v) ? undefined : v;
};
export const iso = (ms: number): string => new Date(ms).toISOString();
