/**
 * promote, abort, retry, pause, resume, rollback --keep-spec: each reads the BGD, decides from its status whether the action
 * makes sense now (and says why not), then writes one annotation — the same one a person would set with
 * `kubectl annotate` (retry of Inconclusive gate checks: a conditional JSON patch of status.gates instead). The decisions are pure (`decide*`), so the dashboard shows the same reasons on its
 * disabled buttons that the plugin prints, and acts through these same functions.
 */
import {
  ANNOTATION_ABORT,
  ANNOTATION_PAUSED,
  ANNOTATION_PROMOTE,
  ANNOTATION_PROMOTE_STEP,
} from "../../api/labels.ts";
import { colorDeployments, getBgdView } from "../fetch.ts";
import { annotate, forgetInconclusiveGates } from "../mutate.ts";
import {
  abortAnnotation,
  type BgdView,
  type DeploymentView,
  deploymentView,
  describeStep,
  pausedByAnnotation,
  promoteAnnotation,
  statusIsCurrent,
} from "../objects.ts";
import { CliError, type Session } from "../session.ts";

export const ref = (name: string): string => `bluegreendeployment.bluegreen.io/${name}`;

/**
 * What an action would do to the BGD as read: write (naming the revision it concerns), nothing because it
 * is already done, or refuse with the reason. Messages carry no "error: " prefix.
 */
export type Verdict =
  | {
      readonly kind: "write";
      readonly revision: string | undefined;
      /** promote: the canary pause (0-based step) this approval lets go on, rather than the switch. */
      readonly step?: number;
    }
  | { readonly kind: "done"; readonly message: string }
  | { readonly kind: "refuse"; readonly message: string };

const write = (revision: string | undefined): Verdict => ({ kind: "write", revision });
const done = (message: string): Verdict => ({ kind: "done", message });
const refuse = (message: string): Verdict => ({ kind: "refuse", message });

/** Refuses to act on a status the operator wrote for an older spec: it would describe another revision. */
function staleStatus(b: BgdView, action: string): Verdict | undefined {
  if (statusIsCurrent(b)) return undefined;
  return refuse(
    `cannot ${action} ${b.name} yet: its spec is at generation ${b.generation} but the operator has only reported on ${b.status.observedGeneration ?? "none"} (is the operator running?)`,
  );
}

const describePhase = (b: BgdView): string =>
  `${b.status.phase ?? "without a status"}${b.status.message ? ` (${b.status.message})` : ""}`;

/**
 * Promotion approves exactly the revision now in preview. With `expected` (the revision a person saw), a
 * preview that has moved on to another revision is refused rather than approved.
 */
export function decidePromote(b: BgdView, expected?: string): Verdict {
  const stale = staleStatus(b, "promote");
  if (stale !== undefined) return stale;
  const rev = b.status.previewRevision;
  const approved = promoteAnnotation(b);
  if (expected !== undefined && rev !== expected) {
    return refuse(
      `revision ${expected} is no longer in preview (${rev !== undefined ? `revision ${rev} is` : "nothing is"}): nothing was approved`,
    );
  }
  if ((b.status.phase === "Promoting" || b.status.phase === "Verifying") && approved !== undefined) {
    return done(`${ref(b.name)} revision ${approved} is already approved: ${describePhase(b)}`);
  }
  if (b.status.phase !== "AwaitingPromotion" || rev === undefined) {
    const why =
      b.status.phase === "Paused"
        ? `; it is paused: resume it first (kubectl bluegreen resume ${b.name})`
        : "";
    return refuse(`nothing awaits promotion: ${b.name} is ${describePhase(b)}${why}`);
  }
  // A canary holding at a pause without a duration: this promote lets that one step go on (the switch after
  // the last step is approved by a promote of its own).
  const c = b.status.canary;
  const at = c !== undefined ? b.canarySteps[c.step] : undefined;
  if (c !== undefined && at?.pause !== undefined && at.pause.durationSeconds === undefined) {
    if (b.annotations[ANNOTATION_PROMOTE_STEP] === `${rev}:${c.step}`)
      return done(`${ref(b.name)} canary step ${c.step + 1} of revision ${rev} is already promoted`);
    return { kind: "write", revision: rev, step: c.step };
  }
  return write(rev);
}

/** The revision being rolled out: the one the spec asks for, as the operator computes it. */
export function rolloutRevision(b: BgdView): string | undefined {
  return b.desiredRevision ?? b.status.rolloutRevision ?? b.status.previewRevision;
}

/** Abort names the revision rolling out; with `expected`, a rollout that moved on is refused. */
export function decideAbort(b: BgdView, namespaceFlag: string, expected?: string): Verdict {
  const rev = rolloutRevision(b);
  if (rev === undefined) return refuse(`cannot tell which revision ${b.name} is rolling out`);
  if (expected !== undefined && rev !== expected)
    return refuse(`revision ${expected} is no longer rolling out (revision ${rev} is): nothing was aborted`);
  if (abortAnnotation(b) === rev) return done(`${ref(b.name)} revision ${rev} is already aborted`);
  if (statusIsCurrent(b) && b.status.activeRevision === rev && b.status.activeColor !== undefined) {
    return refuse(
      `nothing to abort: revision ${rev} already serves traffic from ${b.status.activeColor}; to go back use: kubectl bluegreen rollback ${b.name}${namespaceFlag} (edits the spec) or --keep-spec (leaves the spec to GitOps)`,
    );
  }
  return write(rev);
}

/**
 * A rollback that leaves the spec alone: the abort annotation on the revision that is live, which the
 * operator honours only while the other color runs a revision that served before and is warm (full
 * size, every pod ready). `write` names the live revision; `to` is the color traffic goes back to.
 */
export function decideRollbackKeepSpec(
  b: BgdView,
  deployments: readonly DeploymentView[],
  namespaceFlag: string,
): Verdict & { readonly to?: DeploymentView } {
  const stale = staleStatus(b, "roll back");
  if (stale !== undefined) return stale;
  const rev = b.desiredRevision;
  const live = b.status.activeColor;
  const aborted = abortAnnotation(b);
  if (rev !== undefined && aborted === rev && b.status.phase === "Aborted" && b.status.activeRevision !== rev)
    return done(`${ref(b.name)} revision ${rev} is already rolled back: ${describePhase(b)}`);
  if (rev === undefined || live === undefined || b.status.activeRevision !== rev) {
    return refuse(
      `nothing live to roll back: revision ${rev ?? "?"} is not what serves (${describePhase(b)}); to stop a rollout use: kubectl bluegreen abort ${b.name}${namespaceFlag}`,
    );
  }
  const to = deployments.find(
    (d) =>
      d.color !== undefined &&
      d.color !== live &&
      d.revision !== undefined &&
      d.revision !== rev &&
      b.status.history.some((h) => h.revision === d.revision),
  );
  if (to === undefined || to.replicas < b.replicas || to.readyReplicas < b.replicas || b.replicas === 0) {
    const what =
      to === undefined
        ? "no other color holds a revision that served before"
        : `${to.color} (revision ${to.revision}) is not warm (${to.readyReplicas}/${b.replicas} ready)`;
    return refuse(
      `cannot roll back ${b.name} without editing the spec: ${what}; use: kubectl bluegreen rollback ${b.name}${namespaceFlag} (edits the spec)`,
    );
  }
  return { kind: "write", revision: rev, to };
}

/** The checks of the revision rolling out that ended Inconclusive: they hold the rollout for a person. */
export function inconclusiveGates(b: BgdView): string[] {
  const rev = rolloutRevision(b);
  return b.status.gates
    .filter((g) => g.result === "Inconclusive" && g.revision !== undefined && g.revision === rev)
    .map((g) => g.name);
}

/**
 * Retry undoes an abort (the same revision rolls out again) or, with no abort, re-runs the Inconclusive gate
 * checks that hold the revision rolling out. `write` names the aborted revision, or the one whose checks re-run.
 */
export function decideRetry(b: BgdView): Verdict {
  const aborted = abortAnnotation(b);
  if (aborted !== undefined) return write(aborted);
  const held = inconclusiveGates(b);
  if (held.length > 0) return write(rolloutRevision(b));
  return refuse(
    `nothing to retry: ${b.name} is not aborted and no gate check is Inconclusive (${describePhase(b)})`,
  );
}

export function decidePause(b: BgdView): Verdict {
  if (pausedByAnnotation(b)) return done(`${ref(b.name)} is already paused`);
  return write(undefined);
}

export function decideResume(b: BgdView, namespaceFlag: string): Verdict {
  if (b.specPaused) {
    return refuse(
      `${b.name} is paused by spec.paused in its manifest: set it to false there (or: kubectl patch bgd ${b.name}${namespaceFlag} --type=merge -p '{"spec":{"paused":false}}')`,
    );
  }
  if (!pausedByAnnotation(b)) return done(`${ref(b.name)} is not paused`);
  return write(undefined);
}

export interface Outcome {
  readonly message: string;
  readonly exitCode: number;
}

/** The revision a `write` verdict names; a `done` becomes the outcome, a `refuse` a CliError. */
function settle(v: Verdict): { revision: string | undefined; step?: number } | Outcome {
  if (v.kind === "refuse") throw new CliError(`error: ${v.message}`);
  if (v.kind === "done") return { message: v.message, exitCode: 0 };
  return { revision: v.revision, ...(v.step !== undefined ? { step: v.step } : {}) };
}

const isOutcome = (x: { revision: string | undefined } | Outcome): x is Outcome => "exitCode" in x;

/** `revision`: approve only this revision (what the dashboard showed); refused when the preview moved on. */
export async function promote(s: Session, name: string, revision?: string): Promise<Outcome> {
  const { view: b } = await getBgdView(s, name);
  const v = settle(decidePromote(b, revision));
  if (isOutcome(v)) return v;
  const rev = v.revision ?? "";
  if (v.step !== undefined) {
    await annotate(s, name, { [ANNOTATION_PROMOTE_STEP]: `${rev}:${v.step}` });
    const next = b.canarySteps[v.step + 1];
    return {
      message: `${ref(name)} promoted: canary step ${v.step + 1}/${b.canarySteps.length} of revision ${rev} goes on (next: ${describeStep(next)})`,
      exitCode: 0,
    };
  }
  await annotate(s, name, { [ANNOTATION_PROMOTE]: rev });
  const from = b.status.activeColor ?? "the active color";
  const to = b.status.previewColor ?? "the preview color";
  return {
    message: `${ref(name)} promoted: revision ${rev} (${b.status.previewImage ?? "?"}) approved; traffic switches from ${from} to ${to} once ${to} runs at full size`,
    exitCode: 0,
  };
}

export async function abort(s: Session, name: string, revision?: string): Promise<Outcome> {
  const { view: b } = await getBgdView(s, name);
  const v = settle(decideAbort(b, s.namespaceFlag, revision));
  if (isOutcome(v)) return v;
  const rev = v.revision ?? "";
  await annotate(s, name, { [ANNOTATION_ABORT]: rev });
  const active = b.status.activeColor;
  const keeps =
    active !== undefined ? `; ${active} keeps serving revision ${b.status.activeRevision ?? "?"}` : "";
  return { message: `${ref(name)} aborted: revision ${rev} will not be promoted${keeps}`, exitCode: 0 };
}

/** `rollback --keep-spec`: aborts the live revision; traffic goes back to the warm color, the spec stays. */
export async function rollbackKeepSpec(s: Session, name: string, revision?: string): Promise<Outcome> {
  const { view: b } = await getBgdView(s, name);
  const deployments = (await colorDeployments(s, name)).map(deploymentView);
  const v = decideRollbackKeepSpec(b, deployments, s.namespaceFlag);
  if (v.kind === "write" && revision !== undefined && v.revision !== revision)
    throw new CliError(
      `error: revision ${revision} is no longer live (revision ${v.revision} is): nothing was rolled back`,
    );
  const r = settle(v);
  if (isOutcome(r)) return r;
  const rev = r.revision ?? "";
  await annotate(s, name, { [ANNOTATION_ABORT]: rev });
  const to = v.kind === "write" ? v.to : undefined;
  return {
    message: `${ref(name)} rolled back without editing the spec: live revision ${rev} aborted (annotation ${ANNOTATION_ABORT}); traffic switches from ${b.status.activeColor ?? "?"} back to ${to?.color ?? "?"} (revision ${to?.revision ?? "?"}, still warm) and stays there until the spec moves on to another revision. Undo with: kubectl bluegreen retry ${name}${s.namespaceFlag}`,
    exitCode: 0,
  };
}

export async function retry(s: Session, name: string): Promise<Outcome> {
  const { view: b } = await getBgdView(s, name);
  const v = settle(decideRetry(b));
  if (isOutcome(v)) return v;
  if (abortAnnotation(b) === undefined) {
    const rev = v.revision ?? "";
    const removed = await forgetInconclusiveGates(s, name, rev, inconclusiveGates(b));
    if (removed.length === 0)
      return { message: `${ref(name)}: no gate check is Inconclusive any more`, exitCode: 0 };
    return {
      message: `${ref(name)} retried: gate ${removed.join(", ")} of revision ${rev} ${removed.length === 1 ? "runs" : "run"} again from the first measurement`,
      exitCode: 0,
    };
  }
  const aborted = v.revision;
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
  const v = settle(decidePause(b));
  if (isOutcome(v)) return v;
  await annotate(s, name, { [ANNOTATION_PAUSED]: "true" });
  return {
    message: `${ref(name)} paused: a rollout stays where it is (traffic unchanged) until: kubectl bluegreen resume ${name}${s.namespaceFlag}`,
    exitCode: 0,
  };
}

export async function resume(s: Session, name: string): Promise<Outcome> {
  const { view: b } = await getBgdView(s, name);
  // The annotation goes even when spec.paused also holds the BGD, so only the manifest is left to change.
  if (pausedByAnnotation(b)) await annotate(s, name, { [ANNOTATION_PAUSED]: null });
  const v = settle(decideResume(b, s.namespaceFlag));
  if (isOutcome(v)) return v;
  return { message: `${ref(name)} resumed`, exitCode: 0 };
}
