/** Plans while a new revision is on its way: rolling out, aborted, or paused. */

import { canarySteps, planCanary } from "./canary.ts";
import { runGatePoint } from "./gates/rollout-gates.ts";
import { routeAllToActive } from "./route.ts";
import { iso, parseTime, podsReadyAt, readyAt, runsDesired, type Settings } from "./situation.ts";
import {
  deadline,
  pointPreviewAt,
  previewReady,
  type Rollout,
  type Step,
  scaleLive,
  switchActive,
} from "./step.ts";
import type { Color, Observed } from "./types.ts";

const hasPrePromotionGates = (o: Observed): boolean => (o.spec.gates?.prePromotion ?? []).length > 0;

export function planRollout(
  o: Observed,
  s: Settings,
  now: number,
  active: Color,
  idle: Color,
  step: Step,
): void {
  scaleLive(o, s, active, step);
  const dep = o.colors[idle];
  const rev = o.desired.revision;
  const inHistory = step.history.some((h) => h.revision === rev);
  // A revision that served before is known good: a rollback to it skips the canary steps, as it skips the approval.
  const canary = canarySteps(o).length > 0 && !inHistory;
  // Traffic reaches the new color through the route only during this revision's canary steps, which begin
  // once the preview Service selects the new color running the desired revision: before that (the preview
  // about to be pointed at it), and for a new revision pushed mid-canary (its pods about to be replaced), the
  // route goes back to the live color first. Judged from the cluster alone, so a crash between a weight
  // write and its status write resumes the step instead of starting over.
  const canaryMayRun = canary && runsDesired(o, o.colors[idle]) && o.previewService?.selectorColor === idle;
  if (!canaryMayRun) routeAllToActive(o, step, `no canary step of revision ${rev} in progress`);

  // Fast rollback: the revision was promoted before and still runs warm — switch back now, with
  // no pause and no re-run of anything (Argo Rollouts #780).
  if (inHistory && runsDesired(o, dep) && readyAt(dep, dep.replicas) && dep.replicas >= s.replicas) {
    switchActive(o, s, now, active, idle, step, "rollback to a warm color", "Rollback");
    return;
  }

  if (!runsDesired(o, dep)) {
    // preRollout gates (migrations) pass before the new template is written: a failure leaves no new pod.
    if ((o.spec.gates?.preRollout ?? []).length > 0) {
      if (step.rollout?.revision !== rev) step.rollout = { revision: rev, startedAt: iso(now) };
      const pre = runGatePoint(o, now, "preRollout", { active, preview: undefined }, step);
      if (pre === "failed") return;
      if (pre === "blocked") {
        step.phase = "Progressing";
        return;
      }
    }
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
  // Resumed after a pause (or status lost): the deadline counts from now.
  if (rollout.startedAt === undefined) rollout.startedAt = iso(now);
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
  const asked =
    o.annotations.promote === rev
      ? "approval"
      : rollout.promotedAt !== undefined
        ? "approval"
        : inHistory
          ? "rollback"
          : // With canary steps the automatic delay counts from the end of the last step (canary.ts).
            !canary &&
              s.autoPromote &&
              now >= (readySince ?? now) + s.promotionDelayMs &&
              previewReady(o, s, idle, dep)
            ? "auto"
            : undefined;
  // prePromotion gates judge the preview at its preview size: until they have passed for this rollout
  // (promotedAt is only ever set after they did), no approval — annotation, automatic or rollback —
  // scales the preview to full size or counts as given. With Auto and no delay the preview would
  // otherwise be approved the moment it is ready, before a single measurement.
  const heldByGates = asked !== undefined && rollout.promotedAt === undefined && hasPrePromotionGates(o);
  let approvedBy = heldByGates ? undefined : asked;
  const approved = approvedBy !== undefined;
  if (approved && rollout.promotedAt === undefined) rollout.promotedAt = iso(now);
  // Canary steps send user traffic to the new color before the switch: it takes it at full size, so any
  // weight (and the switch) is safe at once; the same pods as a blue-green promotion, only earlier.
  const want = approved || canary ? s.replicas : s.previewReplicas;
  if (dep.replicas !== want) {
    // A new target size is a new start for the deadline.
    rollout.progressedAt = iso(now);
    step.actions.push({
      type: "ScaleDeployment",
      color: idle,
      replicas: want,
      reason: approved
        ? "promotion: full size before the switch"
        : canary
          ? "canary: full size before any traffic"
          : "preview size",
    });
  }
  const previewBehind =
    s.previewEnabled &&
    o.previewService !== undefined &&
    (o.previewService.selectorColor !== idle || !o.previewService.upToDate);
  // Only with every new pod ready does the preview Service point at the new color (Argo #2641): as soon
  // as the pods say so, without waiting for the Deployment's status to follow them (a kcm round trip),
  // since what a Service selecting this color reaches is then exactly the new revision's ready pods.
  // Promotion still waits for the Deployment to say it rolled out.
  if (previewBehind && (readyAt(dep, want) || podsReadyAt(dep, want))) {
    pointPreviewAt(o, s, idle, step, "new color ready");
    step.phase = approved ? "Promoting" : "Progressing";
    step.message = `Pointing the preview Service at ${idle} (revision ${rev})`;
    return;
  }
  // A preview awaiting a manual approval counts as ready once its pods say so, as the retarget above
  // does: prePromotion gates and a person judge the new revision's ready pods through the preview
  // Service, and the EndpointSlices below must show them. An approved rollout waits for the Deployment
  // to say it rolled out at full size before the switch, and so does automatic promotion (it would
  // otherwise write AwaitingPromotion only to promote on the Deployment's next status: one more write).
  const earlyPreview = !approved && !s.autoPromote && podsReadyAt(dep, want);
  if (!readyAt(dep, want) && !earlyPreview) {
    const since = Math.max(
      parseTime(approved ? rollout.promotedAt : rollout.startedAt) ?? now,
      parseTime(rollout.progressedAt) ?? Number.NEGATIVE_INFINITY,
    );
    step.phase = approved ? "Promoting" : "Progressing";
    step.message = `Waiting for ${idle} (revision ${rev}) to be ready (${dep.readyPods}/${want})`;
    deadline(o, s, now, step, since, s.abortOnDeadline);
    return;
  }
  if (s.previewEnabled && o.previewService !== undefined) {
    if (o.previewEndpoints[idle] < want) {
      step.phase = approved ? "Promoting" : "Progressing";
      step.message = `Waiting for ${idle} endpoints behind the preview Service (${o.previewEndpoints[idle]}/${want})`;
      // Every pod is ready: only the EndpointSlices lag. Past the deadline that is worth a Degraded
      // condition, but not an abort of a revision that did become ready in time.
      deadline(o, s, now, step, parseTime(approved ? rollout.promotedAt : rollout.startedAt) ?? now, false);
      return;
    }
  }
  // prePromotion gates look at the ready preview; neither an approval nor the automatic delay promotes
  // before all passed, and a failure aborts with traffic never moved.
  const gate = runGatePoint(o, now, "prePromotion", { active, preview: idle }, step);
  if (gate === "failed") {
    // At any canary step: every request back to the live color, in one route write before anything else.
    routeAllToActive(o, step, "prePromotion gate failed");
    return;
  }
  // With canary steps the gates run through them, measuring the traffic each step sends to the new color;
  // the switch waits for them (canary.ts).
  if (canary) {
    planCanary(o, s, now, active, idle, step, rollout, gate);
    return;
  }
  if (gate === "blocked") {
    step.phase = "Progressing";
    return;
  }
  if (heldByGates) {
    // The gates passed: the approval that waited for them counts from now.
    approvedBy = asked;
    rollout.promotedAt = iso(now);
    if (readySince === undefined) rollout.previewReadySince = iso(now);
    if (dep.replicas !== s.replicas || !readyAt(dep, s.replicas)) {
      if (dep.replicas !== s.replicas) {
        rollout.progressedAt = iso(now);
        step.actions.push({
          type: "ScaleDeployment",
          color: idle,
          replicas: s.replicas,
          reason: "promotion: full size before the switch",
        });
      }
      step.phase = "Promoting";
      step.message = `Waiting for ${idle} (revision ${rev}) to be ready (${dep.readyPods}/${s.replicas})`;
      return;
    }
  }
  if (approvedBy === undefined) {
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
    // The approval left over from an earlier rollout names a revision that was promoted then: it is
    // spent, not a mistake, so it earns no warning (else every second rollout would show one).
    const spent = stale === o.colors[active]?.revision || step.history.some((h) => h.revision === stale);
    if (stale !== undefined && stale !== rev && !spent) {
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

/**
 * Degraded reasons that say more than "a person aborted it" (reason Aborted): the aborts the operator
 * makes itself, and a rollback by abort of the live revision.
 */
const KEPT_CAUSES = new Set(["ProgressDeadlineExceeded", "SwitchedBack", "RolledBack", "GateFailed"]);

export function planAborted(
  o: Observed,
  s: Settings,
  now: number,
  active: Color,
  idle: Color,
  step: Step,
  switchBack = false,
): void {
  if (switchBack) {
    rollBack(o, s, now, active, idle, step);
    return;
  }
  scaleLive(o, s, active, step);
  routeAllToActive(o, step, "rollout aborted");
  pointPreviewAt(o, s, active, step, "rollout aborted");
  step.rollout = undefined;
  step.phase = "Aborted";
  step.message = `Revision ${o.desired.revision} aborted; ${active} keeps serving revision ${o.colors[active]?.revision ?? "unknown"}. Retry with: kubectl annotate bgd ${o.name} -n ${o.namespace} bluegreen.io/abort-`;
  // Why it was aborted outlives the reconcile that aborted it: that one wrote the cause (the progress
  // deadline, a switch back) in the Degraded condition, naming the revision; keep it while it stays aborted.
  const cause = o.status.conditions?.find(
    (c) =>
      c.type === "Degraded" &&
      c.status === "True" &&
      KEPT_CAUSES.has(c.reason) &&
      c.message.includes(o.desired.revision),
  );
  // A rollback's message says why traffic is where it is; keep saying it while it lasts.
  if (cause?.reason === "RolledBack") step.message = cause.message;
  step.conditions.push(
    cause !== undefined
      ? { type: "Degraded", status: "True", reason: cause.reason, message: cause.message }
      : { type: "Degraded", status: "True", reason: "Aborted", message: step.message },
  );
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

/**
 * The revision the spec asks for is live on `from` and was aborted: a rollback that never edits the
 * spec (GitOps owns it). One selector write puts traffic back on `to`, which runs the revision that
 * served before and is still warm (classify checked); from then on the Aborted situation keeps it
 * there until the spec moves on to another revision, which clears the abort.
 */
function rollBack(o: Observed, s: Settings, now: number, to: Color, from: Color, step: Step): void {
  const back = o.colors[to]?.revision ?? "unknown";
  routeAllToActive(o, step, "rollback: live revision aborted");
  step.actions.push({
    type: "ApplyService",
    role: "active",
    color: to,
    reason: "rollback: live revision aborted",
  });
  pointPreviewAt(o, s, to, step, "rollback: live revision aborted");
  // A fresh deadline, whatever the color carried from an earlier retirement: it was serving a moment ago.
  if (s.abortScaleDownDelayMs > 0) {
    step.actions.push({ type: "SetScaleDownDeadline", color: from, at: iso(now + s.abortScaleDownDelayMs) });
    step.requeueAt.push(now + s.abortScaleDownDelayMs);
  }
  step.activeColor = to;
  step.previewColor = undefined;
  step.rollout = undefined;
  step.phase = "Aborted";
  step.message = `Rolled back: revision ${o.desired.revision} was aborted while live on ${from}; ${to} serves revision ${back} again, until the spec moves on to another revision (the spec was not changed)`;
  step.conditions.push({ type: "Degraded", status: "True", reason: "RolledBack", message: step.message });
  step.actions.push({
    type: "Event",
    eventType: "Warning",
    reason: "RolledBack",
    message: `Active Service switched back from ${from} to ${to} (revision ${back}): revision ${o.desired.revision} aborted while live`,
  });
}

export function planPaused(o: Observed, s: Settings, active: Color, idle: Color, step: Step): void {
  scaleLive(o, s, active, step);
  // A pause stops the clocks: the auto-promotion delay and the progress deadline start again
  // from the resume (time spent paused is nobody's failure). An approval given by annotation
  // still holds after the resume; an automatic one is re-earned.
  // The canary keeps its step and weight (the route is left as it is: a pause freezes the split too).
  if (step.rollout !== undefined) {
    const c = step.rollout.canary;
    step.rollout = {
      revision: o.desired.revision,
      ...(c !== undefined && step.rollout.revision === o.desired.revision
        ? { canary: { step: c.step, weight: c.weight } }
        : {}),
    };
  }
  step.previewColor = o.colors[idle] !== undefined && runsDesired(o, o.colors[idle]) ? idle : undefined;
  step.phase = "Paused";
  step.message = `Rollout of revision ${o.desired.revision} paused; ${active} keeps serving`;
}
