/**
 * The outcomes in which nothing moves: a spec the schema could not catch (stored before a rule
 * existed) and a write the API server refused for good. They are plans like any other, written by
 * the one executor; their status keeps everything it said before and replaces only Degraded.
 */
import type { BlueGreenDeploymentStatus } from "../api/schema.ts";
import { type Condition, type ConditionInput, setConditions } from "./conditions.ts";
import type { Owner } from "./render.ts";
import { iso } from "./situation.ts";
import { sameJson } from "./status.ts";
import type { Plan } from "./types.ts";
import { type Bookkeeping, renderBookkeeping } from "./writes.ts";

/** What a refusal needs to know of the BGD: its raw status and generation, not a parsed spec. */
export interface Refused {
  readonly owner: Owner;
  readonly generation: number;
  readonly status: BlueGreenDeploymentStatus;
  readonly message: string;
}

/** `previous` with one condition set (its transition time kept when its status did not change). */
export function withCondition(
  previous: readonly Condition[] | undefined,
  c: ConditionInput,
  now: string,
  generation: number,
): Condition[] {
  const others = (previous ?? []).filter((p) => p.type !== c.type);
  return [...others, ...setConditions(previous, [c], now, generation)];
}

function degraded(
  r: Refused,
  reason: string,
  status: BlueGreenDeploymentStatus,
  now: number,
  instance: string,
): Plan {
  if (sameJson(r.status, status)) return { actions: [], requeueAfterMs: undefined };
  const ctx = { owner: r.owner, now, instance };
  const actions: Bookkeeping[] = [
    { type: "UpdateStatus", status },
    { type: "Event", eventType: "Warning", reason, message: r.message },
  ];
  return {
    actions: actions.map((a) => ({ ...a, write: renderBookkeeping(ctx, a) })),
    requeueAfterMs: undefined,
  };
}

const conditionsOf = (s: BlueGreenDeploymentStatus) => s.conditions as readonly Condition[] | undefined;

/** An invalid spec: say so in a condition, move nothing, do not retry until the object changes. */
export function planInvalidSpec(r: Refused, now: number, instance = ""): Plan {
  const degradedCondition = {
    type: "Degraded",
    status: "True",
    reason: "InvalidSpec",
    message: r.message,
  } as const;
  return degraded(
    r,
    "InvalidSpec",
    {
      ...r.status,
      observedGeneration: r.generation,
      phase: "Degraded",
      message: r.message,
      conditions: withCondition(conditionsOf(r.status), degradedCondition, iso(now), r.generation),
    },
    now,
    instance,
  );
}

/** The API server refused an object we rendered (400/422): retrying the same plan cannot help. */
export function planRefused(r: Refused, now: number, instance = ""): Plan {
  const degradedCondition = {
    type: "Degraded",
    status: "True",
    reason: "RejectedByAPIServer",
    message: r.message,
  } as const;
  return degraded(
    r,
    "RejectedByAPIServer",
    {
      ...r.status,
      message: r.message,
      conditions: withCondition(conditionsOf(r.status), degradedCondition, iso(now), r.generation),
    },
    now,
    instance,
  );
}
