/**
 * The planner: a pure function from what the cluster shows (Observed) and the time to the writes
 * that move a BlueGreenDeployment one step on. It never reads the clock, never does I/O and never
 * imports the client; every decision is taken from the cluster's current state, so the operator
 * can be killed between any two writes and finish correctly on restart.
 */
import { planPodMetadata } from "./podmeta.ts";
import { deploymentName, parsePodTemplate } from "./render.ts";
import { planAborted, planPaused, planRollout } from "./rollout.ts";
import { routeAllToActive, routeAtHome, routeProblem } from "./route.ts";
import { classify, liveColor, settingsOf } from "./situation.ts";
import { finish } from "./status.ts";
import { planFirstDeploy, planSteady } from "./steady.ts";
import type { Step } from "./step.ts";
import { type Action, COLORS, type Decision, HANDBACK_FINALIZER, type Observed, type Plan } from "./types.ts";
import { renderAction } from "./writes.ts";

export { classify, liveColor, runsDesired, type Situation } from "./situation.ts";
export { sameJson } from "./status.ts";

/**
 * `instance` names the operator's host in the Events it records. Every action comes with its whole
 * write (writes.ts), so the executor takes no decision of its own.
 */
export function plan(o: Observed, now: number, instance = ""): Plan {
  const d = decide(o, now);
  const ctx = { owner: { name: o.name, namespace: o.namespace, uid: o.uid }, now, instance };
  return {
    actions: d.actions.map((a) => ({ ...a, write: renderAction(o, ctx, a) })),
    requeueAfterMs: d.requeueAfterMs,
  };
}

function decide(o: Observed, now: number): Decision {
  if (o.deleting === true) return planDeletion(o);
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
    gates: o.status.gates,
  };
  const adopted = o.activeService.adopted === true;
  if (adopted && !o.activeService.exists) {
    // A Service the user named must exist: we never create it, and without it there is
    // nothing to switch. Deployments wait too, so nothing runs that cannot be served.
    step.phase = "Degraded";
    step.message = `Service ${o.spec.service?.name} named in spec.service.name does not exist in ${o.namespace}: create it, or remove spec.service.name to let the operator create one`;
    step.conditions.push({
      type: "Degraded",
      status: "True",
      reason: "ServiceNotFound",
      message: step.message,
    });
    return finish(o, s, now, step);
  }
  const routeTrouble = routeProblem(o);
  if (routeTrouble !== undefined) {
    // Like a missing adopted Service: the route is the user's, we never create or repair its rules,
    // and a release that cannot be routed does not start (nor does any traffic move).
    step.phase = "Degraded";
    step.message = routeTrouble;
    step.conditions.push({
      type: "Degraded",
      status: "True",
      reason: "HTTPRouteNotUsable",
      message: routeTrouble,
    });
    return finish(o, s, now, step);
  }
  // An adopted Service gets its selector back, a route its weights, before the BGD may go.
  if ((adopted || o.route !== undefined) && !(o.finalizers ?? []).includes(HANDBACK_FINALIZER)) {
    step.actions.push({ type: "AddFinalizer" });
  }
  if (o.route !== undefined && !o.route.adopted) step.actions.push({ type: "AdoptRoute" });
  switch (situation.kind) {
    case "FirstDeploy":
      routeAllToActive(o, step, "first deployment: the route sends to the active Service");
      planFirstDeploy(o, s, now, situation.color, step);
      break;
    case "Steady":
      planSteady(o, s, now, situation.active, step);
      // An abort of the live revision is a rollback only while a color that served before is warm.
      if (o.annotations.abort === o.desired.revision)
        step.message += `; the abort of live revision ${o.desired.revision} cannot roll back: no color that served before is warm (kubectl bluegreen rollback edits the spec instead)`;
      break;
    case "Rollout":
      planRollout(o, s, now, situation.active, situation.idle, step);
      break;
    case "Aborted":
      planAborted(o, s, now, situation.active, situation.idle, step, situation.switchBack === true);
      break;
    case "Paused":
      planPaused(o, s, situation.active, situation.idle, step);
      break;
    default: {
      const never: never = situation;
      throw new Error(`unhandled situation ${JSON.stringify(never)}`);
    }
  }
  // Reverting a hand edit comes first: whatever else this step writes assumes our spec.
  step.actions.unshift(...planDrift(o, step.actions));
  step.actions.push(...planPodMetadata(o, step.activeColor, step.previewColor));
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

/**
 * Deployments we own whose spec someone else changed (kubectl edit / set image / rollout pause...):
 * their spec no longer hashes to what the API server stored after our last write. Replicas are not
 * part of it: the steps scale each color to what it should run anyway.
 */
function planDrift(o: Observed, planned: readonly Action[]): Action[] {
  const actions: Action[] = [];
  for (const c of COLORS) {
    const dep = o.colors[c];
    if (dep?.specHash === undefined || dep.specHash === dep.recordedSpecHash) continue;
    // A new template for this color is written anyway (and its hash recorded with it).
    if (planned.some((a) => a.type === "ApplyDeployment" && a.color === c)) continue;
    if (
      dep.recordedSpecHash === undefined ||
      dep.revision === undefined ||
      parsePodTemplate(dep.userTemplate) === undefined
    ) {
      // Written by an operator that recorded no hash, or its template annotation was edited too:
      // nothing to restore from, so what it is now becomes the reference.
      actions.push({ type: "RecordDeploymentSpec", color: c, hash: dep.specHash });
      continue;
    }
    const name = deploymentName(o.name, c);
    actions.push(
      { type: "RepairDeployment", color: c, revision: dep.revision, reason: "edited outside the operator" },
      {
        type: "Event",
        eventType: "Warning",
        reason: "DriftReverted",
        message: `Deployment ${name} was changed outside the operator; its spec is back to revision ${dep.revision}. Change the BlueGreenDeployment instead`,
      },
    );
  }
  return actions;
}

/**
 * A BGD being deleted: everything it owns goes with it through owner references; an adopted
 * Service is not ours, so it gets its original selector back first, then our finalizer goes.
 */
function planDeletion(o: Observed): Decision {
  if (!(o.finalizers ?? []).includes(HANDBACK_FINALIZER)) return { actions: [], requeueAfterMs: undefined };
  const actions: Action[] = [];
  const svc = o.activeService;
  // Only while it still carries our marks: a second pass (a stale cache after the first) must
  // not "hand back" a selector that is already the user's.
  const ours =
    svc.originalSelector !== undefined || svc.selectorColor === "blue" || svc.selectorColor === "green";
  if (svc.adopted === true && svc.exists && ours) actions.push({ type: "HandBackService" });
  const route = o.route;
  if (route?.exists === true && (route.adopted || !routeAtHome(route)))
    actions.push({ type: "HandBackRoute" });
  actions.push({ type: "RemoveFinalizer" });
  return { actions, requeueAfterMs: undefined };
}
