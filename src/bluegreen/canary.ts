/**
 * The weighted canary steps (spec.strategy.canary) between a ready preview and the switch, pure. Where the
 * steps stand lives in status.rollout.canary (the step index, its weight, when it began), so a restart resumes
 * the same step; the weight itself is read back from the route, the truth about where requests go.
 *
 * - setWeight N: one write of the route's weights (N to the preview Service, 100-N to the active one); the step
 *   is done once the route (the cache) shows it.
 * - pause {durationSeconds}: holds the weight that long (the clock stops while the BGD is paused and restarts
 *   with the resume). pause {}: holds it until `kubectl bluegreen promote` names this revision and step
 *   (bluegreen.io/promote-step=<revision>:<step>).
 * - After the last step: the switch, when the prePromotion gates have passed and the switch is approved
 *   (bluegreen.io/promote=<revision>, or Auto after delaySeconds counted from the end of the last step): one
 *   route write sends every request to the new color through the preview Service, and the active Service's
 *   selector follows in the same plan; once the active Service's endpoints are the new color only, the weights
 *   return to active 100 / preview 0 (steady.ts), which changes no request's destination.
 */
import { ANNOTATION_PROMOTE, ANNOTATION_PROMOTE_STEP } from "../api/labels.ts";
import type { GateVerdict } from "./gates/rollout-gates.ts";
import { previewShare } from "./route.ts";
import { iso, parseTime, type Settings } from "./situation.ts";
import { type Rollout, type Step, switchActive } from "./step.ts";
import type { Color, Observed } from "./types.ts";

export type CanaryProgress = NonNullable<Rollout["canary"]>;

/** The steps of this BGD, when it has a route to carry them; else none (the plain switch). */
export function canarySteps(o: Observed) {
  if (o.route === undefined) return [];
  return o.spec.strategy?.canary?.steps ?? [];
}

/** The approval annotation value that lets the pause at `step` of `revision` go on. */
export const stepApproval = (revision: string, step: number): string => `${revision}:${step}`;

/**
 * Moves the steps on as far as the cluster and the clock allow, then, after the last one, switches.
 * `gate` is the prePromotion gates' verdict: they run through the canary (started with the ready preview,
 * measuring the traffic each step sends to it) and the switch waits for them; a failure was handled by the
 * caller (traffic back to the live color, revision aborted).
 */
export function planCanary(
  o: Observed,
  s: Settings,
  now: number,
  active: Color,
  idle: Color,
  step: Step,
  rollout: Rollout,
  gate: GateVerdict,
): void {
  const steps = canarySteps(o);
  const rev = o.desired.revision;
  const share = o.route !== undefined ? previewShare(o.route) : undefined;
  const n = steps.length;
  let c: CanaryProgress = rollout.canary ?? { step: 0, weight: 0, stepStartedAt: iso(now) };
  const label = (i: number) => `canary step ${Math.min(i + 1, n)}/${n}`;
  const hold = (phase: Step["phase"], message: string) => {
    rollout.canary = c;
    step.phase = phase;
    step.message = message;
  };
  // A route write only ever follows a status that names its step: a reconcile that moved the step on records
  // that first (and looks again at once), so an operator killed between the route write and the status write
  // finds the route at the weight its status names, and resumes the step instead of undoing it.
  let advanced = false;
  const recordFirst = (what: string) => {
    hold("Progressing", what);
    step.requeueAt.push(now);
  };
  while (c.step < n) {
    const st = steps[c.step];
    if (st?.setWeight !== undefined) {
      if (share !== st.setWeight && advanced) {
        recordFirst(`${capital(label(c.step))}: ${st.setWeight}% of requests to ${idle} next`);
        return;
      }
      if (share !== st.setWeight) {
        step.actions.push({ type: "SetRouteWeights", preview: st.setWeight, reason: label(c.step) });
        step.actions.push({
          type: "Event",
          eventType: "Normal",
          reason: "CanaryWeight",
          message: `${capital(label(c.step))}: ${st.setWeight}% of requests to ${idle} (revision ${rev}), ${100 - st.setWeight}% to ${active}`,
        });
        c = { ...c, weight: st.setWeight };
        hold("Progressing", `${capital(label(c.step))}: setting ${st.setWeight}% of requests to ${idle}`);
        return;
      }
      c = { step: c.step + 1, weight: st.setWeight, stepStartedAt: iso(now) };
      advanced = true;
      continue;
    }
    const since = parseTime(c.stepStartedAt);
    if (since === undefined) c = { ...c, stepStartedAt: iso(now) };
    const from = since ?? now;
    const seconds = st?.pause?.durationSeconds;
    if (seconds !== undefined) {
      const until = from + seconds * 1000;
      if (now < until) {
        step.requeueAt.push(until);
        hold("Progressing", `${capital(label(c.step))}: holding ${c.weight}% on ${idle} until ${iso(until)}`);
        return;
      }
    } else if (o.annotations.promoteStep !== stepApproval(rev, c.step)) {
      hold(
        "AwaitingPromotion",
        `${capital(label(c.step))}: holding ${c.weight}% of requests on ${idle} (revision ${rev}); go on with: kubectl bluegreen promote ${o.name} -n ${o.namespace} (or annotate ${ANNOTATION_PROMOTE_STEP}=${stepApproval(rev, c.step)})`,
      );
      return;
    }
    c = { step: c.step + 1, weight: c.weight, stepStartedAt: iso(now) };
    advanced = true;
  }
  rollout.canary = c;
  // Every step is done; the gates that run through the canary decide, then the approval.
  if (gate === "blocked") {
    step.phase = "Progressing";
    step.message = `Canary steps done at ${c.weight}% on ${idle}; ${step.message}`;
    return;
  }
  const doneAt = parseTime(c.stepStartedAt) ?? now;
  const approved = s.autoPromote
    ? now >= doneAt + s.promotionDelayMs
    : o.annotations.promote === rev || rollout.promotedAt !== undefined;
  if (!approved) {
    step.phase = "AwaitingPromotion";
    if (s.autoPromote) {
      step.requeueAt.push(doneAt + s.promotionDelayMs);
      step.message = `Canary steps done at ${c.weight}% on ${idle} (revision ${rev}); switching automatically at ${iso(doneAt + s.promotionDelayMs)}`;
    } else {
      step.message = `Canary steps done at ${c.weight}% on ${idle} (revision ${rev}); approve the switch with: kubectl bluegreen promote ${o.name} -n ${o.namespace} (or annotate ${ANNOTATION_PROMOTE}=${rev})`;
    }
    return;
  }
  if (advanced && share !== 100) {
    recordFirst(`Canary steps done at ${c.weight}% on ${idle}; switching`);
    return;
  }
  if (rollout.promotedAt === undefined) rollout.promotedAt = iso(now);
  // The switch: every request to the new color in one route write, the selector following in this plan.
  if (share !== 100) step.actions.push({ type: "SetRouteWeights", preview: 100, reason: "switch" });
  switchActive(
    o,
    s,
    now,
    active,
    idle,
    step,
    s.autoPromote
      ? "automatic promotion after the canary steps"
      : "promotion approved after the canary steps",
    s.autoPromote ? "AutoPromotion" : "Approval",
  );
}

const capital = (t: string): string => t.charAt(0).toUpperCase() + t.slice(1);
