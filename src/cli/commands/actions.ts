/**
 * promote, abort, retry, pause, resume: each reads the BGD, decides from its status whether the action
 * makes sense now (and says why not), then writes one annotation — the same one a person would set with
 * `kubectl annotate`.
 */
import { ANNOTATION_ABORT, ANNOTATION_PAUSED, ANNOTATION_PROMOTE } from "../../api/labels.ts";
import { getBgdView } from "../fetch.ts";
import { annotate } from "../mutate.ts";
import {
  abortAnnotation,
  type BgdView,
  pausedByAnnotation,
  promoteAnnotation,
  statusIsCurrent,
} from "../objects.ts";
import { CliError, type Session } from "../session.ts";

export const ref = (name: string): string => `bluegreendeployment.bluegreen.io/${name}`;

/** Refuses to act on a status the operator wrote for an older spec: it would describe another revision. */
function requireCurrentStatus(b: BgdView, action: string): void {
  if (statusIsCurrent(b)) return;
  throw new CliError(
    `error: cannot ${action} ${b.name} yet: its spec is at generation ${b.generation} but the operator has only reported on ${b.status.observedGeneration ?? "none"} (is the operator running?)`,
  );
}

const describePhase = (b: BgdView): string =>
  `${b.status.phase ?? "without a status"}${b.status.message ? ` (${b.status.message})` : ""}`;

export interface Outcome {
  readonly message: string;
  readonly exitCode: number;
}

/** The promotion approves exactly the revision now in preview; a newer revision is never approved by it. */
export async function promote(s: Session, name: string): Promise<Outcome> {
  const { view: b } = await getBgdView(s, name);
  requireCurrentStatus(b, "promote");
  const rev = b.status.previewRevision;
  const approved = promoteAnnotation(b);
  if ((b.status.phase === "Promoting" || b.status.phase === "Verifying") && approved !== undefined) {
    return {
      message: `${ref(name)} revision ${approved} is already approved: ${describePhase(b)}`,
      exitCode: 0,
    };
  }
  if (b.status.phase !== "AwaitingPromotion" || rev === undefined) {
    const why =
      b.status.phase === "Paused" ? `; it is paused: resume it first (kubectl bluegreen resume ${name})` : "";
    throw new CliError(`error: nothing awaits promotion: ${name} is ${describePhase(b)}${why}`);
  }
  await annotate(s, name, { [ANNOTATION_PROMOTE]: rev });
  const from = b.status.activeColor ?? "the active color";
  const to = b.status.previewColor ?? "the preview color";
  return {
    message: `${ref(name)} promoted: revision ${rev} (${b.status.previewImage ?? "?"}) approved; traffic switches from ${from} to ${to} once ${to} runs at full size`,
    exitCode: 0,
  };
}

/** The revision being rolled out: the one the spec asks for, as the operator computes it. */
function rolloutRevision(b: BgdView): string | undefined {
  return b.desiredRevision ?? b.status.rolloutRevision ?? b.status.previewRevision;
}

export async function abort(s: Session, name: string): Promise<Outcome> {
  const { view: b } = await getBgdView(s, name);
  const rev = rolloutRevision(b);
  if (rev === undefined) throw new CliError(`error: cannot tell which revision ${name} is rolling out`);
  if (abortAnnotation(b) === rev)
    return { message: `${ref(name)} revision ${rev} is already aborted`, exitCode: 0 };
  if (statusIsCurrent(b) && b.status.activeRevision === rev && b.status.activeColor !== undefined) {
    throw new CliError(
      `error: nothing to abort: revision ${rev} already serves traffic from ${b.status.activeColor}; to go back use: kubectl bluegreen rollback ${name}${s.namespaceFlag}`,
    );
  }
  await annotate(s, name, { [ANNOTATION_ABORT]: rev });
  const active = b.status.activeColor;
  const keeps =
    active !== undefined ? `; ${active} keeps serving revision ${b.status.activeRevision ?? "?"}` : "";
  return { message: `${ref(name)} aborted: revision ${rev} will not be promoted${keeps}`, exitCode: 0 };
}

export async function retry(s: Session, name: string): Promise<Outcome> {
  const { view: b } = await getBgdView(s, name);
  const aborted = abortAnnotation(b);
  if (aborted === undefined)
    throw new CliError(`error: nothing to retry: ${name} is not aborted (${describePhase(b)})`);
  await annotate(s, name, { [ANNOTATION_ABORT]: null });
  const rev = rolloutRevision(b);
  const what =
    rev === aborted
      ? `revision ${rev} rolls out again`
      : `revision ${aborted} was aborted; ${rev ?? "the spec"} rolls out`;
  return { message: `${ref(name)} retried: ${what}`, exitCode: 0 };
}

export async function pause(s: Session, name: string): Promise<Outcome> {
  const { view: b } = await getBgdView(s, name);
  if (pausedByAnnotation(b)) return { message: `${ref(name)} is already paused`, exitCode: 0 };
  await annotate(s, name, { [ANNOTATION_PAUSED]: "true" });
  return {
    message: `${ref(name)} paused: a rollout stays where it is (traffic unchanged) until: kubectl bluegreen resume ${name}${s.namespaceFlag}`,
    exitCode: 0,
  };
}

export async function resume(s: Session, name: string): Promise<Outcome> {
  const { view: b } = await getBgdView(s, name);
  const byAnnotation = pausedByAnnotation(b);
  if (byAnnotation) await annotate(s, name, { [ANNOTATION_PAUSED]: null });
  if (b.specPaused) {
    throw new CliError(
      `error: ${name} is paused by spec.paused in its manifest: set it to false there (or: kubectl patch bgd ${name}${s.namespaceFlag} --type=merge -p '{"spec":{"paused":false}}')`,
    );
  }
  if (!byAnnotation) return { message: `${ref(name)} is not paused`, exitCode: 0 };
  return { message: `${ref(name)} resumed`, exitCode: 0 };
}
