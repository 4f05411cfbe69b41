/**
 * The pieces every situation's plan is made of: the Step being built, and the small moves shared
 * between situations (scale the live color, point the preview, switch, check the deadline).
 */
import { DEFAULTS } from "../api/labels.ts";
import type { BlueGreenDeploymentStatus } from "../api/schema.ts";
import type { TRIGGERS } from "../api/status.ts";
import type { ConditionInput } from "./conditions.ts";
import { iso, readyAt, type Settings } from "./situation.ts";
import type { Action, Color, ColorState, Observed } from "./types.ts";

export type Phase = NonNullable<BlueGreenDeploymentStatus["phase"]>;
export type Rollout = NonNullable<BlueGreenDeploymentStatus["rollout"]>;
export type History = NonNullable<BlueGreenDeploymentStatus["history"]>;

/** The parts of a plan each situation decides; the status around them is built once, below. */
export interface Step {
  phase: Phase;
  message: string;
  actions: Action[];
  conditions: ConditionInput[];
  requeueAt: number[];
  rollout: Rollout | undefined;
  history: History;
  activeColor: Color | undefined;
  previewColor: Color | undefined;
  /** status.gates to write (the records of the rollout's revision). */
  gates: BlueGreenDeploymentStatus["gates"];
}

export type Trigger = (typeof TRIGGERS)[number];

export function recordSwitch(
  o: Observed,
  now: number,
  step: Step,
  to: Color,
  from: Color | undefined,
  trigger: Trigger,
): void {
  const entry = {
    revision: o.desired.revision,
    image: o.desired.image,
    promotedAt: iso(now),
    ...(from ? { switchedFrom: from } : {}),
    trigger,
  };
  const limit = Math.max(1, o.spec.revisionHistoryLimit ?? DEFAULTS.revisionHistoryLimit);
  step.history = [entry, ...step.history.filter((h) => h.revision !== o.desired.revision)].slice(0, limit);
  step.activeColor = to;
  step.rollout = undefined;
}

/** Keeps the live color at spec.replicas (kubectl scale, HPA) without touching its template. */
export function scaleLive(o: Observed, s: Settings, active: Color, step: Step): void {
  const dep = o.colors[active];
  if (dep !== undefined && dep.replicas !== s.replicas) {
    step.actions.push({
      type: "ScaleDeployment",
      color: active,
      replicas: s.replicas,
      reason: "replicas changed",
    });
  }
  // Someone edited the active Service (ports, type, labels): put our version back, same color.
  if (!o.activeService.upToDate) {
    step.actions.push({
      type: "ApplyService",
      role: "active",
      color: active,
      reason: "active Service drifted",
      repair: true,
    });
  }
}

export function pointPreviewAt(o: Observed, s: Settings, color: Color, step: Step, reason: string): void {
  if (!s.previewEnabled || o.previewService === undefined) return;
  if (o.previewService.selectorColor !== color || !o.previewService.upToDate) {
    // Same color but not up to date: someone edited it.
    const repair = o.previewService.exists && o.previewService.selectorColor === color;
    step.actions.push({
      type: "ApplyService",
      role: "preview",
      color,
      reason,
      ...(repair ? { repair } : {}),
    });
  }
}

/** The preview is ready to look at: every pod ready at the preview size, and its endpoints too. */
export function previewReady(o: Observed, s: Settings, idle: Color, dep: ColorState): boolean {
  if (!readyAt(dep, s.previewReplicas) && !readyAt(dep, s.replicas)) return false;
  if (!s.previewEnabled || o.previewService === undefined) return true;
  return (
    o.previewService.selectorColor === idle &&
    o.previewService.upToDate &&
    o.previewEndpoints[idle] >= dep.replicas
  );
}

/** The commit point: one write of the active Service's selector. */
export function switchActive(
  o: Observed,
  s: Settings,
  now: number,
  from: Color,
  to: Color,
  step: Step,
  why: string,
  trigger: Trigger,
): void {
  step.actions.push({ type: "ApplyService", role: "active", color: to, reason: why });
  // The retiring color's deadline is written right after the switch; if the operator dies in
  // between, a retired color found without a deadline gets one from then (the full delay, documented).
  step.actions.push({ type: "SetScaleDownDeadline", color: from, at: iso(now + s.scaleDownDelayMs) });
  step.actions.push({
    type: "Event",
    eventType: "Normal",
    reason: "Switched",
    message: `Active Service switched from ${from} to ${to} (revision ${o.desired.revision}, ${o.desired.image}): ${why}`,
  });
  recordSwitch(o, now, step, to, from, trigger);
  step.previewColor = undefined;
  step.phase = "Verifying";
  step.message = `Switched to ${to}; verifying its endpoints, ${from} kept warm`;
}

/** Progress deadline: reported as Degraded, and with abortOnProgressDeadline the revision is aborted. */
export function deadline(
  o: Observed,
  s: Settings,
  now: number,
  step: Step,
  since: number,
  abort: boolean,
): void {
  const at = since + s.progressDeadlineMs;
  if (now < at) {
    step.requeueAt.push(at);
    return;
  }
  const late = `Revision ${o.desired.revision} not ready within progressDeadlineSeconds (${s.progressDeadlineMs / 1000}s)`;
  const message = abort ? `${late}; aborted, traffic unchanged` : late;
  step.conditions.push({ type: "Degraded", status: "True", reason: "ProgressDeadlineExceeded", message });
  if (abort) {
    // Reported as what it now is; the next reconcile (planAborted) retires the new color.
    step.phase = "Aborted";
    step.message = message;
    step.actions.push({ type: "MarkAborted", revision: o.desired.revision });
    step.actions.push({ type: "Event", eventType: "Warning", reason: "Aborted", message });
  }
}
