/** Plans when no color is live yet (first deployment) and when the live color runs the desired revision. */

import { runGatePoint } from "./gates/rollout-gates.ts";
import { routeAllToActive, routeAtHome } from "./route.ts";
import { iso, parseTime, readyAt, runsDesired, type Settings } from "./situation.ts";
import { deadline, pointPreviewAt, recordSwitch, type Step, scaleLive } from "./step.ts";
import { COLORS, type Color, type ColorState, type Observed, otherColor } from "./types.ts";

export function planFirstDeploy(o: Observed, s: Settings, now: number, color: Color, step: Step): void {
  const dep = o.colors[color];
  const rollout = step.rollout?.revision === o.desired.revision ? step.rollout : undefined;
  step.rollout = rollout ?? { revision: o.desired.revision, startedAt: iso(now) };
  // The active Service exists but selects no color of ours (a hand edit): give the traffic back
  // to the color that was serving — never to an unapproved preview, and without rewriting any
  // template, since one of them may be the live one.
  if (o.activeService.exists) {
    const serving = COLORS.map((c) => o.colors[c])
      .filter((d): d is ColorState => d !== undefined && d.replicas > 0 && readyAt(d, d.replicas))
      .sort((a, b) => b.readyPods - a.readyPods);
    // What our status last called live; else the revision last switched to; else the desired one.
    const lastSwitched = o.status.history?.[0]?.revision;
    const back =
      serving.find((d) => d.color === o.status.activeColor) ??
      serving.find((d) => lastSwitched !== undefined && d.revision === lastSwitched) ??
      serving.find((d) => runsDesired(o, d)) ??
      serving[0];
    if (back !== undefined) {
      step.actions.push({
        type: "ApplyService",
        role: "active",
        color: back.color,
        reason: "restore the active Service selector",
        repair: true,
      });
      step.phase = "Progressing";
      step.message = `Restoring the active Service selector to ${back.color}`;
      return;
    }
  }
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

export function planSteady(o: Observed, s: Settings, now: number, active: Color, step: Step): void {
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
  // After a canary's switch the route still sends everything through the preview Service (to this color):
  // back to active 100 / preview 0 once the active Service's endpoints are this color's only, so no request
  // changes its destination. (A switch back below moves the weights at once.)
  const routeHome = o.route === undefined || !o.route.exists || routeAtHome(o.route);
  if (
    !routeHome &&
    allReady &&
    o.activeEndpoints[idle] === 0 &&
    (o.previewService === undefined || o.previewService.selectorColor === active)
  )
    routeAllToActive(o, step, `the active Service's endpoints are ${active}'s only`);

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
        routeAllToActive(o, step, "switch back: promoted color never became ready");
        step.actions.push({
          type: "Event",
          eventType: "Warning",
          reason: "SwitchedBack",
          message: `Revision ${o.desired.revision} on ${active} did not become ready within ${s.progressDeadlineMs / 1000}s after the switch; active Service back on ${idle}`,
        });
        step.activeColor = idle;
        step.phase = "Aborted";
        step.message = `Switched back to ${idle}: revision ${o.desired.revision} on ${active} never became ready after the switch`;
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
    // postPromotion gates check live traffic while the old color stays warm (its scale-down waits for them);
    // a failure switches back to it at once.
    const post = runGatePoint(o, now, "postPromotion", { active, preview: undefined }, step);
    if (post === "failed") {
      if (readyAt(old, old.replicas) && old.readyPods >= s.replicas) {
        step.actions.unshift({
          type: "ApplyService",
          role: "active",
          color: idle,
          reason: "postPromotion gate failed",
        });
        routeAllToActive(o, step, "switch back: postPromotion gate failed");
        step.actions.push({
          type: "Event",
          eventType: "Warning",
          reason: "SwitchedBack",
          message: `Active Service back on ${idle}: ${step.message}`,
        });
        step.activeColor = idle;
        step.message = `Switched back to ${idle}: ${step.message}`;
      }
      return;
    }
    if (post === "blocked") {
      step.phase = "Verifying";
      return;
    }
    const at = old.scaleDownAt;
    // A color that never served (a preview left by a revert mid-rollout) has nothing to drain.
    const served = step.history.some((h) => h.revision === old.revision);
    if (typeof at !== "number" && s.scaleDownDelayMs > 0 && served) {
      // No deadline (the operator died between the switch and its deadline write) or an unreadable
      // one: the full delay starts now. Scaling down at once would drop the connections still
      // draining from the old color and the requests kube-proxy still sends it in the moment after
      // the switch (seen under kill -9 right after a switch: a refused request), and end the
      // instant-rollback window early.
      const fresh = now + s.scaleDownDelayMs;
      step.actions.push({ type: "SetScaleDownDeadline", color: idle, at: iso(fresh) });
      step.requeueAt.push(fresh);
      step.message = `Serving revision ${o.desired.revision} from ${active}; ${idle} scales down at ${iso(fresh)}`;
    } else if (typeof at === "number" && at > now) {
      step.requeueAt.push(at);
      step.message = `Serving revision ${o.desired.revision} from ${active}; ${idle} scales down at ${iso(at)}`;
    } else {
      // Deadline passed (or scaleDownDelaySeconds is 0): scale down now.
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
