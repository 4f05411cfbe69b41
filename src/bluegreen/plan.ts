/**
 * The planner: a pure function from what the cluster shows (Observed) and the time to the writes
 * that move a BlueGreenDeployment one step on. It never reads the clock, never does I/O and never
 * imports the client; every decision is taken from the cluster's current state, so the operator
 * can be killed between any two writes and finish correctly on restart.
 */
import { planAborted, planPaused, planRollout } from "./rollout.ts";
import { classify, liveColor, settingsOf } from "./situation.ts";
import { finish } from "./status.ts";
import { planFirstDeploy, planSteady } from "./steady.ts";
import type { Step } from "./step.ts";
import type { Observed, Plan } from "./types.ts";

export { classify, liveColor, runsDesired, type Situation } from "./situation.ts";
export { sameJson } from "./status.ts";

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
