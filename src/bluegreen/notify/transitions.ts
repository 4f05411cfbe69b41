/**
 * The notifications a status write announces: derived from the stored status and the one just written, so
 * the same transition is never announced twice — a restarted operator starts from the stored status, where
 * the transition is already behind it. Pure.
 */
import type { BlueGreenDeploymentStatus } from "../../api/status.ts";
import { type Notification, type NotificationEvent, notificationId } from "./payload.ts";

export interface Subject {
  readonly name: string;
  readonly namespace: string;
  readonly uid: string;
}

const degradedReason = (s: BlueGreenDeploymentStatus | undefined): string | undefined => {
  const c = s?.conditions?.find((x) => x.type === "Degraded" && x.status === "True");
  return c?.reason;
};

/** In the order they happened within one write (a rollout starts before it waits, a gate fails before the abort). */
export function transitions(
  subject: Subject,
  before: BlueGreenDeploymentStatus | undefined,
  after: BlueGreenDeploymentStatus,
  nowIso: string,
): Notification[] {
  const out: Notification[] = [];
  const revision = after.rollout?.revision ?? after.activeRevision ?? "";
  const add = (event: NotificationEvent, message: string, gate?: Notification["gate"], rev = revision) =>
    out.push({
      id: notificationId(subject.uid, rev, event, gate?.name),
      event,
      time: nowIso,
      bgd: { ...subject },
      revision: rev,
      ...(after.activeColor !== undefined ? { activeColor: after.activeColor } : {}),
      message,
      ...(gate !== undefined ? { gate } : {}),
    });
  const entered = (phase: string) => after.phase === phase && before?.phase !== phase;

  if (after.rollout?.revision !== undefined && after.rollout.revision !== before?.rollout?.revision)
    add("RolloutStarted", `Rolling out revision ${after.rollout.revision}`);
  if (entered("AwaitingPromotion")) add("AwaitingPromotion", after.message ?? "The preview is ready");
  for (const g of after.gates ?? []) {
    if (g.phase !== "Failed") continue;
    const was = before?.gates?.find((x) => x.name === g.name && x.revision === g.revision);
    if (was?.phase !== "Failed")
      add(
        "GateFailed",
        `Gate ${g.name} failed`,
        { name: g.name, point: g.point, message: g.message },
        g.revision,
      );
  }
  const promoted = after.history?.[0];
  // "Recorded": the switch's own status write was lost (a conflict, a crash) and the next reconcile found the
  // revision live; it was this rollout's promotion when the stored status was rolling that revision out (and
  // not when an operator finds a BGD it has no record of).
  if (
    promoted !== undefined &&
    promoted.revision !== before?.history?.[0]?.revision &&
    (promoted.trigger !== "Recorded" || before?.rollout?.revision === promoted.revision)
  ) {
    const rolledBack = promoted.trigger === "Rollback";
    add(
      rolledBack ? "RolledBack" : "Promoted",
      `${rolledBack ? "Rolled back to" : "Promoted"} revision ${promoted.revision}${after.activeColor !== undefined ? ` (${after.activeColor})` : ""}`,
      undefined,
      promoted.revision,
    );
  }
  if (degradedReason(after) === "SwitchedBack" && degradedReason(before) !== "SwitchedBack")
    add("SwitchedBack", after.message ?? "Traffic switched back to the previous color");
  if (entered("Aborted")) add("Aborted", after.message ?? "The rollout was aborted");
  if (entered("Stable") && before?.phase !== undefined)
    add("Completed", after.message ?? "The rollout is complete", undefined, after.activeRevision ?? revision);
  return out;
}
