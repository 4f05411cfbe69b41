/** metav1.Condition bookkeeping: a transition time changes only when the status does. */
export interface Condition {
  readonly type: string;
  readonly status: "True" | "False" | "Unknown";
  readonly reason: string;
  readonly message: string;
  readonly lastTransitionTime: string;
  readonly observedGeneration?: number;
}

export type ConditionInput = Omit<Condition, "lastTransitionTime" | "observedGeneration">;

export function setConditions(
  previous: readonly Condition[] | undefined,
  next: readonly ConditionInput[],
  now: string,
  generation: number,
): Condition[] {
  return next.map((c) => {
    const old = previous?.find((p) => p.type === c.type);
    const lastTransitionTime = old !== undefined && old.status === c.status ? old.lastTransitionTime : now;
    return { ...c, lastTransitionTime, observedGeneration: generation };
  });
}
