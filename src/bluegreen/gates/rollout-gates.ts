/**
 * A gate point inside a rollout step: runs the pure gate step (plan-gates.ts) with what Observed holds, puts
 * its records on the step (status.gates), its work in actions, and says whether the rollout may go on. A
 * failed check aborts the revision the way the progress deadline does: traffic stays where it is, the cause
 * stays in the Degraded condition (reason GateFailed, naming the revision) and in status.gates.
 */
import type { GatePoint } from "../../api/gate-rules.ts";
import { activeServiceName, previewServiceName } from "../../api/labels.ts";
import type { Step } from "../step.ts";
import type { Color, Observed } from "../types.ts";
import { planGates } from "./plan-gates.ts";

export type GateVerdict = "passed" | "blocked" | "failed";

const NO_GATES = { result: () => undefined, jobs: new Map<string, unknown>() };

export function runGatePoint(
  o: Observed,
  now: number,
  point: GatePoint,
  colors: { readonly active: Color | undefined; readonly preview: Color | undefined },
  step: Step,
): GateVerdict {
  const checks = o.spec.gates?.[point] ?? [];
  if (checks.length === 0) return "passed";
  const rev = o.desired.revision;
  const observed = o.gates ?? { ...NO_GATES, activeServiceIP: undefined, previewServiceIP: undefined };
  const g = planGates({
    point,
    checks,
    revision: rev,
    owner: { name: o.name, namespace: o.namespace, uid: o.uid },
    context: {
      name: o.name,
      namespace: o.namespace,
      activeColor: colors.active,
      previewColor: colors.preview,
      activeRevision: colors.active !== undefined ? o.colors[colors.active]?.revision : undefined,
      previewRevision: rev,
      activeService: activeServiceName(o.name, o.spec),
      previewService: o.spec.preview.enabled ? previewServiceName(o.name, o.spec) : undefined,
      activeServiceIP: observed.activeServiceIP,
      previewServiceIP: observed.previewServiceIP,
      servicePort: o.spec.service.port,
    },
    records: o.status.gates ?? [],
    results: observed.result,
    jobs: observed.jobs,
    nowMs: now,
  });
  step.gates = g.records;
  for (const id of g.recorded) step.actions.push({ type: "ForgetMeasurement", id });
  if (g.createJob !== undefined) {
    const name = (g.createJob.metadata as { name: string }).name;
    step.actions.push({ type: "CreateJob", name, job: g.createJob });
  }
  if (g.measure !== undefined) step.actions.push({ type: "RunMeasurement", work: g.measure });
  if (g.requeueAtMs !== undefined) step.requeueAt.push(g.requeueAtMs);

  const p = g.progress;
  switch (p.kind) {
    case "passed":
      return "passed";
    case "failed": {
      // After the switch the caller moves traffic back; before it, traffic never moved.
      const outcome = point === "postPromotion" ? "aborted" : "aborted, traffic unchanged";
      const message = `Revision ${rev}: ${point} gate ${p.check} failed: ${p.message}; ${outcome}`;
      step.conditions.push({ type: "Degraded", status: "True", reason: "GateFailed", message });
      step.phase = "Aborted";
      step.message = message;
      step.actions.push({ type: "MarkAborted", revision: rev });
      step.actions.push({ type: "Event", eventType: "Warning", reason: "GateFailed", message });
      return "failed";
    }
    case "inconclusive":
      step.message = `Revision ${rev}: ${point} gate ${p.check} is inconclusive (${p.message}); abort, or fix and retry`;
      step.conditions.push({
        type: "Degraded",
        status: "True",
        reason: "GateInconclusive",
        message: step.message,
      });
      return "blocked";
    default: {
      const record = g.records.find((r) => r.name === p.check && r.point === point);
      step.message = `Revision ${rev}: waiting for ${point} gate ${p.check}${record !== undefined ? ` (${record.message})` : ""}`;
      return "blocked";
    }
  }
}
