/**
 * The planner: a pure function from what the cluster shows (Observed) and the time to the writes
 * that move a BlueGreenDeployment one step on. It never reads the clock, never does I/O and never
 * imports the client; every decision is taken from the cluster's current state, so the operator
 * can be killed between any two writes and finish correctly on restart.
 */
import type { BlueGreenDeploymentStatus } from "../api/schema.ts";
import type { TRIGGERS } from "../api/status.ts";
import { type ConditionInput, setConditions } from "./conditions.ts";
import {
  type Action,
  COLORS,
  type Color,
  type ColorState,
  type Observed,
  otherColor,
  type Plan,
} from "./types.ts";

/** Where a BlueGreenDeployment stands, derived from the cluster alone. One variant per situation. */
export type Situation =
  /** No color is live yet (first deployment, or the active Service lost its selector). */
  | { readonly kind: "FirstDeploy"; readonly color: Color }
  /** The live color runs the desired revision; the other color is idle or retiring. */
  | { readonly kind: "Steady"; readonly active: Color }
  /** A new revision is going to the idle color while the live color keeps serving. */
  | { readonly kind: "Rollout"; readonly active: Color; readonly idle: Color }
  /** The desired revision was aborted (by a person or the deadline): traffic stays, the idle color retires. */
  | { readonly kind: "Aborted"; readonly active: Color; readonly idle: Color }
  /** A rollout is frozen by spec.paused or the bluegreen.io/paused annotation. */
  | { readonly kind: "Paused"; readonly active: Color; readonly idle: Color };

interface Settings {
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

function settingsOf(o: Observed): Settings {
  const s = o.spec;
  const replicas = s.replicas ?? 1;
  // A preview never runs more pods than the full size (and at least one, so there is something to look at).
  const previewReplicas = Math.min(replicas, s.preview?.replicas ?? replicas);
  return {
    replicas,
    previewEnabled: s.preview?.enabled ?? true,
    previewReplicas: replicas === 0 ? 0 : Math.max(1, previewReplicas),
    autoPromote: s.strategy?.promotion?.mode === "Auto",
    promotionDelayMs: (s.strategy?.promotion?.delaySeconds ?? 0) * 1000,
    scaleDownDelayMs: (s.strategy?.scaleDownDelaySeconds ?? 30) * 1000,
    abortScaleDownDelayMs: (s.strategy?.abortScaleDownDelaySeconds ?? 30) * 1000,
    progressDeadlineMs: (s.strategy?.progressDeadlineSeconds ?? 600) * 1000,
    abortOnDeadline: s.strategy?.abortOnProgressDeadline ?? true,
    paused: (s.paused ?? false) || o.annotations.paused,
  };
}

export function runsDesired(o: Observed, c: ColorState | undefined): c is ColorState {
  if (c === undefined) return false;
  // The user's template, not a hash, is the identity: a new way of hashing never redeploys.
  if (c.userTemplate !== undefined) return c.userTemplate === o.desired.canonical;
  return c.revision === o.desired.revision;
}

/** Ready at `replicas`: the Deployment settled on our last write and that many pods are Ready. */
function readyAt(c: ColorState | undefined, replicas: number): boolean {
  return c !== undefined && c.replicas === replicas && c.rolledOut && c.readyPods >= replicas;
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
  if (runsDesired(o, o.colors[active])) return { kind: "Steady", active };
  const idle = otherColor(active);
  if (o.annotations.abort === o.desired.revision) return { kind: "Aborted", active, idle };
  if (s.paused) return { kind: "Paused", active, idle };
  return { kind: "Rollout", active, idle };
}

/**
 * With no live color, prefer one that already runs the desired revision, then the color our
 * status last reported (a person broke the selector: restore it), then blue.
 */
function firstColor(o: Observed): Color {
  for (const c of COLORS) if (runsDesired(o, o.colors[c])) return c;
  const last = o.status.activeColor;
  if ((last === "blue" || last === "green") && o.colors[last] !== undefined) return last;
  return "blue";
}

const parseTime = (t: string | undefined): number | undefined => {
  if (t === undefined) return undefined;
  const v = Date.parse(t);
  return Number.isNaN(v) ? undefined : v;
};
const iso = (ms: number): string => new Date(ms).toISOString();

type Phase = NonNullable<BlueGreenDeploymentStatus["phase"]>;
type Rollout = NonNullable<BlueGreenDeploymentStatus["rollout"]>;
type History = NonNullable<BlueGreenDeploymentStatus["history"]>;

/** The parts of a plan each situation decides; the status around them is built once, below. */
interface Step {
  phase: Phase;
  message: string;
  actions: Action[];
  conditions: ConditionInput[];
  requeueAt: number[];
  rollout: Rollout | undefined;
  history: History;
  activeColor: Color | undefined;
  previewColor: Color | undefined;
}

export function plan(o: Observed, now: number): Plan {
  const s = settingsOf(o);
  const situation = classify(o, s);
  const step: Step = {
    phase: "Progressing",
    message: "",
    actions: [],
    conditions: [],
    requeueAt: [],
    rollout: o.status.rollout,
    history: [...(o.status.history ?? [])],
    activeColor: liveColor(o),
    previewColor: undefined,
  };
  switch (situation.kind) {
    case "FirstDeploy":
      planFirstDeploy(o, s, now, situation.color, step);
      break;
    case "Steady":
      planSteady(o, s, now, situation.active, step);
      break;
    case "Rollout":
      planRollout(o, s, now, situation.active, situation.idle, step);
      break;
    case "Aborted":
      planAborted(o, s, now, situation.active, situation.idle, step);
      break;
    case "Paused":
      planPaused(o, s, situation.active, situation.idle, step);
      break;
    default: {
      const never: never = situation;
      throw new Error(`unhandled situation ${JSON.stringify(never)}`);
    }
  }
  // An abort stops the rollout of one revision; once the spec has moved on, it is cleared so that
  // applying that revision again later rolls it out instead of aborting it on sight.
  const abort = o.annotations.abort;
  if (
    abort !== undefined &&
    abort !== o.desired.revision &&
    !step.actions.some((a) => a.type === "MarkAborted")
  ) {
    step.actions.push({ type: "ClearAborted", revision: abort });
  }
  return finish(o, s, now, step);
}

function planFirstDeploy(o: Observed, s: Settings, now: number, color: Color, step: Step): void {
  const dep = o.colors[color];
  const rollout = step.rollout?.revision === o.desired.revision ? step.rollout : undefined;
  step.rollout = rollout ?? { revision: o.desired.revision, startedAt: iso(now) };
  if (!runsDesired(o, dep)) {
    step.actions.push({
      type: "ApplyDeployment",
      color,
      replicas: s.replicas,
      revision: o.desired.revision,
      reason: "first deployment",
    });
    step.phase = "Initializing";
    step.message = `Deploying revision ${o.desired.revision} (${o.desired.image}) to ${color}`;
    return;
  }
  if (dep.replicas !== s.replicas) {
    step.actions.push({ type: "ScaleDeployment", color, replicas: s.replicas, reason: "first deployment" });
  }
  if (!readyAt(dep, s.replicas)) {
    step.phase = "Initializing";
    step.message = `Waiting for ${color} to be ready (${dep.readyPods}/${s.replicas})`;
    deadline(o, s, now, step, parseTime(step.rollout.startedAt) ?? now, false);
    return;
  }
  // Every pod is ready: point the Service at them. This is the first moment traffic flows.
  step.actions.push({ type: "ApplyService", role: "active", color, reason: "first deployment ready" });
  if (s.previewEnabled)
    step.actions.push({ type: "ApplyService", role: "preview", color, reason: "first deployment" });
  step.actions.push({
    type: "Event",
    eventType: "Normal",
    reason: "Switched",
    message: `Active Service now selects ${color} (revision ${o.desired.revision}, ${o.desired.image})`,
  });
  recordSwitch(o, now, step, color, undefined, "FirstDeployment");
  step.phase = "Stable";
  step.message = `Serving revision ${o.desired.revision} from ${color}`;
}

type Trigger = (typeof TRIGGERS)[number];

function recordSwitch(
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
  const limit = Math.max(1, o.spec.revisionHistoryLimit ?? 10);
  step.history = [entry, ...step.history.filter((h) => h.revision !== o.desired.revision)].slice(0, limit);
  step.activeColor = to;
  step.rollout = undefined;
}

/** Keeps the live color at spec.replicas (kubectl scale, HPA) without touching its template. */
function scaleLive(o: Observed, s: Settings, active: Color, step: Step): void {
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

function pointPreviewAt(o: Observed, s: Settings, color: Color, step: Step, reason: string): void {
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

function planSteady(o: Observed, s: Settings, now: number, active: Color, step: Step): void {
  scaleLive(o, s, active, step);
  pointPreviewAt(o, s, active, step, "no rollout in progress");
  step.rollout = undefined;
  const live = o.colors[active];
  const idle = otherColor(active);
  const old = o.colors[idle];
  // A crash between the switch and the status write loses the history entry. Record it now, or the
  // verification deadline below would count from every reconcile anew and never switch back.
  if (!step.history.some((h) => h.revision === o.desired.revision))
    recordSwitch(o, now, step, active, undefined, "Recorded");
  const allReady =
    live !== undefined && live.readyPods >= s.replicas && o.activeEndpoints[active] >= s.replicas;
  step.previewColor = undefined;

  if (old !== undefined && old.replicas > 0) {
    if (!allReady) {
      // Just switched: the old color stays at full size until the new one is verified behind the
      // active Service, so a failure can switch back at once (Flagger #1898).
      const entry = step.history.find((h) => h.revision === o.desired.revision);
      const switchedAt = parseTime(entry?.promotedAt) ?? now;
      // Only back to what served before: after a revert mid-rollout the other color holds a preview
      // nobody approved, and a flaky live pod must not hand it the traffic. A short
      // revisionHistoryLimit may have dropped the previous revision; the color we switched from
      // then still carries the very deadline that switch wrote, unless a later rollout (or an
      // abort of it) rewrote it.
      const servedBefore =
        step.history.some((h) => h.revision === old.revision) ||
        (entry?.switchedFrom === idle && old.scaleDownAt === switchedAt + s.scaleDownDelayMs);
      if (
        servedBefore &&
        now >= switchedAt + s.progressDeadlineMs &&
        readyAt(old, old.replicas) &&
        old.readyPods >= s.replicas
      ) {
        step.actions.push({
          type: "ApplyService",
          role: "active",
          color: idle,
          reason: "promoted color never became ready",
        });
        step.actions.push({ type: "MarkAborted", revision: o.desired.revision });
        step.actions.push({
          type: "Event",
          eventType: "Warning",
          reason: "SwitchedBack",
          message: `Revision ${o.desired.revision} on ${active} did not become ready within ${s.progressDeadlineMs / 1000}s after the switch; active Service back on ${idle}`,
        });
        step.activeColor = idle;
        step.phase = "Aborted";
        step.message = `Switched back to ${idle}: ${active} never became ready`;
        step.conditions.push({
          type: "Degraded",
          status: "True",
          reason: "SwitchedBack",
          message: step.message,
        });
        return;
      }
      step.phase = "Verifying";
      step.message = `Waiting for ${active} endpoints behind the active Service (${o.activeEndpoints[active]}/${s.replicas}); ${idle} kept warm`;
      step.requeueAt.push(switchedAt + s.progressDeadlineMs);
      return;
    }
    const at = old.scaleDownAt;
    if (typeof at === "number" && at > now) {
      step.requeueAt.push(at);
      step.message = `Serving revision ${o.desired.revision} from ${active}; ${idle} scales down at ${iso(at)}`;
    } else {
      // Deadline passed, or lost/unreadable: scaling down now is the documented meaning.
      step.actions.push({
        type: "ScaleDeployment",
        color: idle,
        replicas: 0,
        reason: "scale-down delay elapsed",
      });
      step.actions.push({
        type: "Event",
        eventType: "Normal",
        reason: "ScaledDown",
        message: `Scaled down ${idle} (revision ${old.revision ?? "unknown"})`,
      });
      step.message = `Serving revision ${o.desired.revision} from ${active}`;
    }
    step.phase = "Stable";
    return;
  }
  if (!allReady) {
    step.phase = "Progressing";
    step.message = `Waiting for ${active} to be ready (${Math.min(live?.readyPods ?? 0, o.activeEndpoints[active])}/${s.replicas})`;
    return;
  }
  step.phase = "Stable";
  step.message = `Serving revision ${o.desired.revision} from ${active}`;
}

function planRollout(o: Observed, s: Settings, now: number, active: Color, idle: Color, step: Step): void {
  scaleLive(o, s, active, step);
  const dep = o.colors[idle];
  const rev = o.desired.revision;
  const inHistory = step.history.some((h) => h.revision === rev);

  // Fast rollback: the revision was promoted before and still runs warm — switch back now, with
  // no pause and no re-run of anything (Argo Rollouts #780).
  if (inHistory && runsDesired(o, dep) && readyAt(dep, dep.replicas) && dep.replicas >= s.replicas) {
    switchActive(o, s, now, active, idle, step, "rollback to a warm color", "Rollback");
    return;
  }

  if (!runsDesired(o, dep)) {
    step.actions.push({
      type: "ApplyDeployment",
      color: idle,
      replicas: s.previewReplicas,
      revision: rev,
      reason: "new revision",
    });
    step.actions.push({
      type: "Event",
      eventType: "Normal",
      reason: "Deploying",
      message: `Deploying revision ${rev} (${o.desired.image}) to ${idle} at ${s.previewReplicas} replicas; ${active} keeps serving`,
    });
    step.rollout = { revision: rev, startedAt: iso(now) };
    step.phase = "Progressing";
    step.message = `Deploying revision ${rev} to ${idle}`;
    step.previewColor = idle;
    return;
  }
  const rollout: Rollout =
    step.rollout?.revision === rev ? { ...step.rollout } : { revision: rev, startedAt: iso(now) };
  step.rollout = rollout;
  step.previewColor = idle;

  // Progress is any change of the new color's ready or desired pod count since our last status:
  // the deadline counts from there, so a preview that was ready and is resized (HPA) or loses a
  // pod (a node drain) after a long wait for approval gets a full deadline again (Argo #1268, #2931).
  // Without a previous count to compare with, the rollout's start (or approval) is the reference.
  const seen = o.status.colors?.[idle];
  if (
    seen !== undefined &&
    (seen.readyReplicas !== dep.readyPods || seen.replicas !== dep.replicas || seen.revision !== dep.revision)
  ) {
    rollout.progressedAt = iso(now);
  }
  const readySince = parseTime(rollout.previewReadySince);
  const approvedBy =
    o.annotations.promote === rev
      ? "approval"
      : rollout.promotedAt !== undefined
        ? "approval"
        : inHistory
          ? "rollback"
          : s.autoPromote && now >= (readySince ?? now) + s.promotionDelayMs && previewReady(o, s, idle, dep)
            ? "auto"
            : undefined;
  const approved = approvedBy !== undefined;
  if (approved && rollout.promotedAt === undefined) rollout.promotedAt = iso(now);
  const want = approved ? s.replicas : s.previewReplicas;
  if (dep.replicas !== want) {
    // A new target size is a new start for the deadline.
    rollout.progressedAt = iso(now);
    step.actions.push({
      type: "ScaleDeployment",
      color: idle,
      replicas: want,
      reason: approved ? "promotion: full size before the switch" : "preview size",
    });
  }
  if (!readyAt(dep, want)) {
    const since = Math.max(
      parseTime(approved ? rollout.promotedAt : rollout.startedAt) ?? now,
      parseTime(rollout.progressedAt) ?? Number.NEGATIVE_INFINITY,
    );
    step.phase = approved ? "Promoting" : "Progressing";
    step.message = `Waiting for ${idle} (revision ${rev}) to be ready (${dep.readyPods}/${want})`;
    deadline(o, s, now, step, since, s.abortOnDeadline);
    return;
  }
  // Only now, with every pod ready, does the preview Service point at the new color (Argo #2641).
  if (s.previewEnabled && o.previewService !== undefined) {
    if (o.previewService.selectorColor !== idle || !o.previewService.upToDate) {
      pointPreviewAt(o, s, idle, step, "new color ready");
      step.phase = approved ? "Promoting" : "Progressing";
      step.message = `Pointing the preview Service at ${idle} (revision ${rev})`;
      return;
    }
    if (o.previewEndpoints[idle] < want) {
      step.phase = approved ? "Promoting" : "Progressing";
      step.message = `Waiting for ${idle} endpoints behind the preview Service (${o.previewEndpoints[idle]}/${want})`;
      // Every pod is ready: only the EndpointSlices lag. Past the deadline that is worth a Degraded
      // condition, but not an abort of a revision that did become ready in time.
      deadline(o, s, now, step, parseTime(approved ? rollout.promotedAt : rollout.startedAt) ?? now, false);
      return;
    }
  }
  if (!approved) {
    if (readySince === undefined) rollout.previewReadySince = iso(now);
    const since = readySince ?? now;
    step.phase = "AwaitingPromotion";
    if (s.autoPromote) {
      step.requeueAt.push(since + s.promotionDelayMs);
      step.message = `Revision ${rev} ready on ${idle}; promoting automatically at ${iso(since + s.promotionDelayMs)}`;
    } else {
      step.message = `Revision ${rev} ready on ${idle}; approve with: kubectl annotate bgd ${o.name} -n ${o.namespace} --overwrite bluegreen.io/promote=${rev}`;
    }
    const stale = o.annotations.promote;
    if (stale !== undefined && stale !== rev) {
      step.conditions.push({
        type: "Promoted",
        status: "False",
        reason: "StaleApproval",
        message: `Approval for revision ${stale} ignored: the revision awaiting promotion is ${rev}`,
      });
    }
    return;
  }
  switchActive(
    o,
    s,
    now,
    active,
    idle,
    step,
    approvedBy === "auto"
      ? "automatic promotion"
      : approvedBy === "rollback"
        ? "rollback"
        : "promotion approved",
    approvedBy === "auto" ? "AutoPromotion" : approvedBy === "rollback" ? "Rollback" : "Approval",
  );
}

/** The preview is ready to look at: every pod ready at the preview size, and its endpoints too. */
function previewReady(o: Observed, s: Settings, idle: Color, dep: ColorState): boolean {
  if (!readyAt(dep, s.previewReplicas) && !readyAt(dep, s.replicas)) return false;
  if (!s.previewEnabled || o.previewService === undefined) return true;
  return (
    o.previewService.selectorColor === idle &&
    o.previewService.upToDate &&
    o.previewEndpoints[idle] >= dep.replicas
  );
}

/** The commit point: one write of the active Service's selector. */
function switchActive(
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
  // between, "no deadline" on a retired color means scale down now (documented).
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
function deadline(o: Observed, s: Settings, now: number, step: Step, since: number, abort: boolean): void {
  const at = since + s.progressDeadlineMs;
  if (now < at) {
    step.requeueAt.push(at);
    return;
  }
  const message = `Revision ${o.desired.revision} not ready within progressDeadlineSeconds (${s.progressDeadlineMs / 1000}s)`;
  step.conditions.push({ type: "Degraded", status: "True", reason: "ProgressDeadlineExceeded", message });
  if (abort) {
    step.actions.push({ type: "MarkAborted", revision: o.desired.revision });
    step.actions.push({
      type: "Event",
      eventType: "Warning",
      reason: "Aborted",
      message: `${message}; aborted, traffic unchanged`,
    });
  }
}

function planAborted(o: Observed, s: Settings, now: number, active: Color, idle: Color, step: Step): void {
  scaleLive(o, s, active, step);
  pointPreviewAt(o, s, active, step, "rollout aborted");
  step.rollout = undefined;
  step.phase = "Aborted";
  step.message = `Revision ${o.desired.revision} aborted; ${active} keeps serving revision ${o.colors[active]?.revision ?? "unknown"}. Retry with: kubectl annotate bgd ${o.name} -n ${o.namespace} bluegreen.io/abort-`;
  step.conditions.push({ type: "Degraded", status: "True", reason: "Aborted", message: step.message });
  const dep = o.colors[idle];
  if (dep === undefined || dep.replicas === 0) return;
  const at = dep.scaleDownAt;
  if (at === undefined && s.abortScaleDownDelayMs > 0) {
    step.actions.push({ type: "SetScaleDownDeadline", color: idle, at: iso(now + s.abortScaleDownDelayMs) });
    step.requeueAt.push(now + s.abortScaleDownDelayMs);
  } else if (typeof at === "number" && at > now) {
    step.requeueAt.push(at);
  } else {
    step.actions.push({ type: "ScaleDeployment", color: idle, replicas: 0, reason: "rollout aborted" });
  }
}

function planPaused(o: Observed, s: Settings, active: Color, idle: Color, step: Step): void {
  scaleLive(o, s, active, step);
  // A pause stops the auto-promotion timer: it starts again from the resume.
  if (step.rollout !== undefined) {
    const { previewReadySince: _stopped, ...rest } = step.rollout;
    step.rollout = rest;
  }
  step.previewColor = o.colors[idle] !== undefined && runsDesired(o, o.colors[idle]) ? idle : undefined;
  step.phase = "Paused";
  step.message = `Rollout of revision ${o.desired.revision} paused; ${active} keeps serving`;
}

function finish(o: Observed, s: Settings, now: number, step: Step): Plan {
  const active = step.activeColor;
  const live = active !== undefined ? o.colors[active] : undefined;
  const colors: Record<string, unknown> = {};
  for (const c of COLORS) {
    const dep = o.colors[c];
    if (dep === undefined) continue;
    const role = c === active ? "active" : c === step.previewColor ? "preview" : "idle";
    colors[c] = {
      revision: dep.revision,
      image: dep.image,
      replicas: dep.replicas,
      readyReplicas: dep.readyPods,
      role,
    };
  }
  const promoted = live !== undefined && runsDesired(o, live);
  const conditions: ConditionInput[] = [
    {
      type: "Available",
      status:
        live !== undefined && live.readyPods >= s.replicas && o.activeEndpoints[live.color] >= s.replicas
          ? "True"
          : "False",
      reason:
        live === undefined
          ? "NoActiveColor"
          : live.readyPods >= s.replicas
            ? "AllReplicasReady"
            : "ReplicasNotReady",
      message:
        live === undefined
          ? "No color is serving yet"
          : `${live.readyPods}/${s.replicas} ready on ${live.color}`,
    },
    {
      type: "Progressing",
      status: step.phase === "Stable" || step.phase === "Aborted" ? "False" : "True",
      reason: step.phase,
      message: step.message,
    },
  ];
  const stale = step.conditions.find((c) => c.type === "Promoted");
  conditions.push(
    stale ?? {
      type: "Promoted",
      status: promoted ? "True" : "False",
      reason: promoted ? "RevisionActive" : "AwaitingPromotion",
      message: promoted
        ? `Revision ${o.desired.revision} is active`
        : `Revision ${o.desired.revision} is not active yet`,
    },
  );
  const degraded = step.conditions.find((c) => c.type === "Degraded");
  conditions.push(degraded ?? { type: "Degraded", status: "False", reason: "Healthy", message: "" });

  const nowIso = iso(now);
  const selector = Object.entries({
    ...o.desired.selector,
    "bluegreen.io/name": o.name,
    ...(active ? { "bluegreen.io/color": active } : {}),
  })
    .map(([k, v]) => `${k}=${v}`)
    .join(",");
  const preview = step.previewColor !== undefined ? o.colors[step.previewColor] : undefined;
  const status = compact({
    observedGeneration: o.generation,
    phase: step.phase,
    message: step.message,
    activeColor: active,
    previewColor: step.previewColor,
    activeRevision: live?.revision,
    previewRevision: preview !== undefined ? o.desired.revision : undefined,
    activeImage: live?.image,
    previewImage: preview?.image,
    replicas: live?.replicas ?? 0,
    readyReplicas: live?.readyPods ?? 0,
    ready: `${live?.readyPods ?? 0}/${s.replicas}`,
    selector,
    colors,
    conditions: setConditions(
      o.status.conditions as Parameters<typeof setConditions>[0],
      conditions,
      nowIso,
      o.generation,
    ),
    rollout: step.rollout,
    history: step.history,
    servingPods: o.pods.filter((p) => p.color === active).slice(0, 20),
  }) as BlueGreenDeploymentStatus;

  const actions = [...step.actions];
  // The status write goes first among the bookkeeping: when our cache was stale it fails with a
  // conflict, and the phase Event below is then not recorded twice.
  if (!sameJson(o.status, status)) actions.push({ type: "UpdateStatus", status });
  if (o.status.phase !== status.phase && status.phase !== undefined) {
    actions.push({
      type: "Event",
      eventType: status.phase === "Aborted" || status.phase === "Degraded" ? "Warning" : "Normal",
      reason: status.phase,
      message: step.message,
    });
  }
  const next = step.requeueAt.filter((t) => t >= now);
  const requeueAfterMs = next.length > 0 ? Math.max(10, Math.min(...next) - now) : undefined;
  return { actions, requeueAfterMs };
}

function compact<T extends Record<string, unknown>>(o: T): T {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) out[k] = v;
  return out as T;
}

/** Deep equality through canonical JSON (key order ignored, undefined dropped). */
export function sameJson(a: unknown, b: unknown): boolean {
  return stable(a) === stable(b);
}
function stable(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) => {
    if (x !== null && typeof x === "object" && !Array.isArray(x)) {
      return Object.fromEntries(
        Object.entries(x as Record<string, unknown>).sort(([p], [q]) => (p < q ? -1 : p > q ? 1 : 0)),
      );
    }
    return x;
  });
}
