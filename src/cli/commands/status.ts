/**
 * `status NAME [--timeout]`, for CI/CD pipelines: follows the BGD until the revision its spec asks for is
 * Stable (exit 0), Aborted or Degraded (exit 1), or the timeout passes (exit 2), printing a line each time
 * the phase or message changes.
 */
import { watchBgd } from "../fetch.ts";
import { abortAnnotation, type BgdView, bgdView, condition, statusIsCurrent } from "../objects.ts";
import type { Session } from "../session.ts";
import { humanDuration } from "../style.ts";
import type { Outcome } from "./actions.ts";

export const EXIT_STABLE = 0;
export const EXIT_FAILED = 1;
export const EXIT_TIMEOUT = 2;

export type Verdict =
  | { readonly done: false; readonly line: string }
  | { readonly done: true; readonly exitCode: number; readonly line: string };

/** Pure: is this status final for the spec as it is now, and what to print. */
export function judge(b: BgdView, namespaceFlag = ""): Verdict {
  const s = b.status;
  const phase = s.phase ?? "Pending";
  const line = `${phase}${s.message ? `: ${s.message}` : ""}`;
  // An older generation's status says nothing about the spec now (e.g. "Stable" just after `set image`).
  if (!statusIsCurrent(b)) {
    return {
      done: false,
      line: `Waiting for the operator to observe generation ${b.generation} (status is from ${s.observedGeneration ?? "none"})`,
    };
  }
  const revisionLive = b.desiredRevision === undefined || s.activeRevision === b.desiredRevision;
  if (phase === "Stable" && revisionLive) return { done: true, exitCode: EXIT_STABLE, line };
  // "Aborted" lingers in the status after `retry` until the operator reacts; the annotation is the truth.
  if (phase === "Aborted" && abortAnnotation(b) !== undefined)
    return { done: true, exitCode: EXIT_FAILED, line };
  if (phase === "Degraded") return { done: true, exitCode: EXIT_FAILED, line };
  const degraded = condition(b, "Degraded");
  if (degraded?.status === "True" && degraded.reason === "ProgressDeadlineExceeded") {
    return { done: true, exitCode: EXIT_FAILED, line: `${phase}: ${degraded.message}` };
  }
  if (phase === "AwaitingPromotion")
    return { done: false, line: `${line} (or: kubectl bluegreen promote ${b.name}${namespaceFlag})` };
  return { done: false, line };
}

export interface StatusOptions {
  readonly timeoutMs: number;
  readonly write: (line: string) => void;
}

export async function status(s: Session, name: string, o: StatusOptions): Promise<Outcome> {
  const timeout = o.timeoutMs > 0 ? AbortSignal.timeout(o.timeoutMs) : undefined;
  const stop = new AbortController();
  const signal = timeout !== undefined ? AbortSignal.any([timeout, stop.signal]) : stop.signal;
  let last = "";
  let lastView: BgdView | undefined;
  try {
    for await (const obj of watchBgd(s, name, signal)) {
      const b = bgdView(obj);
      lastView = b;
      const v = judge(b, s.namespaceFlag);
      if (v.done) {
        const verb = v.exitCode === EXIT_STABLE ? "is" : "failed:";
        return { message: `${s.namespace}/${name} ${verb} ${v.line}`, exitCode: v.exitCode };
      }
      if (v.line !== last) o.write(v.line);
      last = v.line;
    }
  } finally {
    stop.abort();
  }
  const still = lastView !== undefined ? ` (still ${lastView.status.phase ?? "without a status"})` : "";
  return {
    message: `error: timed out after ${humanDuration(o.timeoutMs)} waiting for ${s.namespace}/${name} to become Stable${still}`,
    exitCode: EXIT_TIMEOUT,
  };
}
