/**
 * A job check as data: the Job it runs (rendered here, created by the executor) and how its outcome is read
 * back from the Job's status. Pure. The Job's name is deterministic per BGD, check and revision, and creating
 * an existing one is success, so a check never runs its Job twice for a revision — an operator killed while
 * the Job runs finds it by name after the restart and waits for it.
 */
import { createHash } from "node:crypto";
import type { GatePoint } from "../../api/gate-rules.ts";
import { MAX_LOG_TAIL } from "../../api/gate-status.ts";
import type { JobCheck } from "../../api/gates.ts";
import type { Outcome } from "./measurement.ts";

export const LABEL_GATE = "bluegreen.io/gate";

export interface JobOwner {
  readonly name: string;
  readonly namespace: string;
  readonly uid: string;
}

const MAX_NAME = 63;

/** `<bgd>-<check>-<revision>`; past 63 characters, a prefix and a hash of the whole (still unique, still stable). */
export function jobName(bgd: string, check: string, revision: string): string {
  const full = `${bgd}-${check}-${revision}`;
  if (full.length <= MAX_NAME) return full;
  const hash = createHash("sha256").update(full).digest("hex").slice(0, 10);
  return `${full.slice(0, MAX_NAME - hash.length - 1).replace(/-+$/, "")}-${hash}`;
}

type Obj = Record<string, unknown>;
const isObj = (x: unknown): x is Obj => typeof x === "object" && x !== null && !Array.isArray(x);

export interface JobContext {
  readonly owner: JobOwner;
  readonly check: string;
  readonly point: GatePoint;
  readonly revision: string;
  readonly failureLimit: number;
  readonly timeoutSeconds: number;
}

/**
 * The batch/v1 Job for one revision. The user's JobSpec is kept as written; what they leave out gets the check's
 * meaning: backoffLimit = failureLimit, activeDeadlineSeconds = timeoutSeconds, restartPolicy Never. Each
 * container learns which rollout it serves through BLUEGREEN_* variables.
 */
export function renderJob(check: JobCheck, ctx: JobContext): Obj {
  const { owner } = ctx;
  const spec = structuredClone(check.spec) as Obj;
  const template = isObj(spec.template) ? spec.template : {};
  const podSpec = isObj(template.spec) ? template.spec : {};
  const env = [
    { name: "BLUEGREEN_NAME", value: owner.name },
    { name: "BLUEGREEN_NAMESPACE", value: owner.namespace },
    { name: "BLUEGREEN_REVISION", value: ctx.revision },
    { name: "BLUEGREEN_GATE", value: ctx.check },
    { name: "BLUEGREEN_POINT", value: ctx.point },
  ];
  const containers = (Array.isArray(podSpec.containers) ? podSpec.containers : []).map((c: unknown) => {
    const container = isObj(c) ? c : {};
    const own = Array.isArray(container.env) ? (container.env as unknown[]) : [];
    const ownNames = new Set(own.map((e) => (isObj(e) ? e.name : undefined)));
    return { ...container, env: [...env.filter((e) => !ownNames.has(e.name)), ...own] };
  });
  const labels = {
    "app.kubernetes.io/managed-by": "bluegreen-operator",
    "bluegreen.io/name": owner.name,
    [LABEL_GATE]: ctx.check,
    "bluegreen.io/revision": ctx.revision,
  };
  const templateMeta = isObj(template.metadata) ? template.metadata : {};
  return {
    apiVersion: "batch/v1",
    kind: "Job",
    metadata: {
      name: jobName(owner.name, ctx.check, ctx.revision),
      namespace: owner.namespace,
      labels,
      ownerReferences: [
        {
          apiVersion: "bluegreen.io/v1",
          kind: "BlueGreenDeployment",
          name: owner.name,
          uid: owner.uid,
          controller: true,
          blockOwnerDeletion: true,
        },
      ],
    },
    spec: {
      ...spec,
      backoffLimit: typeof spec.backoffLimit === "number" ? spec.backoffLimit : ctx.failureLimit,
      activeDeadlineSeconds:
        typeof spec.activeDeadlineSeconds === "number" ? spec.activeDeadlineSeconds : ctx.timeoutSeconds,
      template: {
        ...template,
        // Not bluegreen.io/name: the Job's pods are no color's pods and must never be counted as one.
        metadata: {
          ...templateMeta,
          labels: { ...(isObj(templateMeta.labels) ? templateMeta.labels : {}), [LABEL_GATE]: ctx.check },
        },
        spec: { restartPolicy: "Never", ...podSpec, containers },
      },
    },
  };
}

const condition = (job: Obj, type: string): Obj | undefined => {
  const status = isObj(job.status) ? job.status : {};
  const conditions = Array.isArray(status.conditions) ? status.conditions : [];
  return conditions.find((c): c is Obj => isObj(c) && c.type === type && c.status === "True");
};

/** What the executor could read of a failed Job's log: its text, or why there is none. */
export type JobLog = { readonly tail: string } | { readonly unavailable: string };

/** How many lines the executor asks the API for (the record keeps at most MAX_LOG_TAIL characters of them). */
export const LOG_TAIL_LINES = 40;

/**
 * A pod log as status keeps it: colour codes and carriage returns out, at most `max` characters from its end,
 * cut at a line start when one falls inside the kept part (a half line reads as a different error).
 */
export function logTailOf(log: string, max = MAX_LOG_TAIL): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: ANSI escape sequences are what is removed.
  const clean = log.replace(/\x1b\[[0-9;]*[A-Za-z]/g, "").replace(/\r\n?/g, "\n");
  if (clean.length <= max) return clean;
  const kept = clean.slice(-max);
  if (clean[clean.length - max - 1] === "\n") return kept;
  const lineStart = kept.indexOf("\n");
  return lineStart >= 0 && lineStart < kept.length - 1 ? kept.slice(lineStart + 1) : kept;
}

/** The name of the Job's last failed pod (the one whose log explains the verdict), if one is left. */
export function lastFailedPod(pods: readonly unknown[]): string | undefined {
  const failed = pods.filter(isObj).filter((p) => isObj(p.status) && p.status.phase === "Failed");
  const started = (p: Obj) => {
    const meta = isObj(p.metadata) ? p.metadata : {};
    return typeof meta.creationTimestamp === "string" ? meta.creationTimestamp : "";
  };
  const last = failed.sort((a, b) => started(a).localeCompare(started(b))).at(-1);
  const name = isObj(last?.metadata) ? last.metadata.name : undefined;
  return typeof name === "string" ? name : undefined;
}

/**
 * The Job's outcome once it finished (Complete or Failed; FailureTarget and SuccessCriteriaMet precede them
 * while pods still terminate), undefined while it runs. A failure carries the failed pod's log tail when the
 * executor could read it, and says plainly that there is none, and why, when it could not (a node that serves
 * no logs, a pod already gone): the verdict is the Job's either way.
 */
export function jobOutcome(job: unknown, log?: JobLog): Outcome | undefined {
  if (!isObj(job)) return undefined;
  if (condition(job, "Complete") !== undefined) return { phase: "Successful", value: "Complete" };
  const failed = condition(job, "Failed");
  if (failed === undefined) return undefined;
  const reason = typeof failed.reason === "string" ? failed.reason : "Failed";
  const tail = log !== undefined && "tail" in log ? logTailOf(log.tail) : undefined;
  const noLog =
    log === undefined
      ? undefined
      : "unavailable" in log
        ? `no log available (${log.unavailable})`
        : tail === ""
          ? "the pod's log is empty"
          : undefined;
  const message = [typeof failed.message === "string" ? failed.message : undefined, noLog]
    .filter((m) => m !== undefined)
    .join("; ");
  return {
    phase: "Failed",
    value: reason,
    ...(message !== "" ? { message } : {}),
    ...(tail !== undefined && tail !== "" ? { logTail: tail } : {}),
  };
}
