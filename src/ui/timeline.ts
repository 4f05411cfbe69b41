/**
 * The timeline of the latest rollout, from what the operator leaves behind: the times in its status
 * (`status.rollout`) and the Events it records at each transition. Pure: a function of the objects read.
 */
import { arr, type Json, rec, str } from "../cli/objects.ts";
import type { EventRow, TimelineMark } from "./view.ts";

/** Event reasons the operator records, and the step of a rollout each one marks. */
const STAGE_OF_EVENT: Readonly<Record<string, { stage: string; tone: "ok" | "warn" }>> = {
  Initializing: { stage: "template written", tone: "ok" },
  Deploying: { stage: "template written", tone: "ok" },
  AwaitingPromotion: { stage: "preview ready", tone: "ok" },
  Promoting: { stage: "approved", tone: "ok" },
  Switched: { stage: "switched", tone: "ok" },
  Stable: { stage: "verified", tone: "ok" },
  ScaledDown: { stage: "scaled down", tone: "ok" },
  Paused: { stage: "paused", tone: "warn" },
  Aborted: { stage: "aborted", tone: "warn" },
  SwitchedBack: { stage: "switched back", tone: "warn" },
  Degraded: { stage: "degraded", tone: "warn" },
};

/** Events that mark the start of a rollout: the first deployment, or a new template on the idle color. */
const STARTS = new Set(["Initializing", "Deploying"]);

const ORDER = [
  "template written",
  "preview ready",
  "paused",
  "approved",
  "switched",
  "switched back",
  "verified",
  "aborted",
  "degraded",
  "scaled down",
];
const order = (stage: string): number => ORDER.indexOf(stage);

/** The revision an Event's message is about ("Deploying revision X", "Revision X ready", "(revision X, …)"). */
const revisionIn = (message: string | undefined): string | undefined =>
  /\b[Rr]evision ([0-9a-f]{10})\b/.exec(message ?? "")?.[1];

const ms = (t: string | undefined): number => (t === undefined ? Number.NaN : Date.parse(t));

/**
 * Marks of the rollout in progress or last finished, from when it started, in time order. Status times
 * fill in steps whose Events have expired (Events live an hour by default; the status keeps the times).
 */
export function rolloutTimeline(bgd: Json, events: readonly EventRow[]): TimelineMark[] {
  const rollout = rec(rec(bgd.status).rollout);
  const revision = str(rollout.revision);
  const fromStatus: TimelineMark[] = [];
  const add = (stage: string, time: string | undefined) => {
    if (time !== undefined && Number.isFinite(ms(time)))
      fromStatus.push({ stage, time, detail: `revision ${revision ?? "?"}`, tone: "ok" });
  };
  add("template written", str(rollout.startedAt));
  add("preview ready", str(rollout.previewReadySince));
  // The planner sets rollout.promotedAt when it first sees the approval (or the auto-promotion), before
  // the scale-up; the switch itself is the history entry of the revision.
  add("approved", str(rollout.promotedAt));
  const entry = arr(rec(bgd.status).history)
    .map(rec)
    .find((h) => h.revision === revision);
  add("switched", str(entry?.promotedAt));

  // The latest rollout began at the latest template write either source knows of (the status may still
  // describe an older rollout, and Events expire).
  const starts = [
    ms(str(rollout.startedAt)),
    ...events.filter((e) => STARTS.has(e.reason)).map((e) => ms(e.time)),
  ].filter(Number.isFinite);
  const start = starts.length > 0 ? Math.max(...starts) : Number.NaN;
  const latestStart = events.filter((e) => STARTS.has(e.reason)).sort((a, b) => ms(b.time) - ms(a.time))[0];
  const current = revision ?? revisionIn(latestStart?.message);
  const fromEvents: TimelineMark[] = [];
  for (const e of events) {
    const s = STAGE_OF_EVENT[e.reason];
    if (s === undefined || e.time === undefined) continue;
    // Only this rollout's steps (events are recorded with second precision, the status with more), and
    // not those of a revision it superseded within that second.
    if (Number.isFinite(start) && ms(e.time) < start - 1000) continue;
    const about = revisionIn(e.message);
    if (current !== undefined && about !== undefined && about !== current && e.reason !== "ScaledDown")
      continue;
    fromEvents.push({ stage: s.stage, time: e.time, detail: e.message, tone: s.tone });
  }
  const seen = new Set(fromEvents.map((m) => m.stage));
  const inRollout = (m: TimelineMark) => !Number.isFinite(start) || ms(m.time) >= start - 1000;
  const marks = [...fromEvents, ...fromStatus.filter((m) => !seen.has(m.stage) && inRollout(m))];
  // Steps recorded within the same second keep the order a rollout goes through.
  return marks.sort((a, b) => ms(a.time) - ms(b.time) || order(a.stage) - order(b.stage));
}
