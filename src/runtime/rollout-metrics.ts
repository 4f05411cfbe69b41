/**
 * Rollout metrics per BlueGreenDeployment, read from what the API says (the BGD's status), not from
 * what this process believes it did — so they stay right across restarts and leader changes.
 *
 * - Gauges (phase, active color, rollout start) are computed at scrape time from the informer cache;
 *   every replica, standby included, reports the same values.
 * - Counters and the duration histogram count status transitions as the cache sees them. Only the
 *   leader counts (`counting()`), so `sum()` over replicas does not count a switch twice.
 */
import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import type { KubeObject } from "../kube/informer.ts";

/** Rollouts take seconds (fast pods) to hours (manual promotion). */
const DURATION_BUCKETS = [1, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200];

interface StatusView {
  readonly phase: string | undefined;
  readonly activeColor: string | undefined;
  readonly activeRevision: string | undefined;
  readonly rolloutStartedAt: number | undefined;
  /** status.traffic.previewWeight as a share of the route's weights (percent); undefined without a route. */
  readonly canaryWeight: number | undefined;
  /** status.rollout.canary.step: the canary step in progress (0-based). */
  readonly canaryStep: number | undefined;
  readonly history: readonly { readonly revision: string; readonly promotedAt: number | undefined }[];
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

const str = (v: unknown): string | undefined => (typeof v === "string" && v !== "" ? v : undefined);
const time = (v: unknown): number | undefined => {
  const t = typeof v === "string" ? Date.parse(v) : Number.NaN;
  return Number.isNaN(t) ? undefined : t;
};

const shareOf = (t: unknown): number | undefined => {
  if (!isRecord(t) || typeof t.activeWeight !== "number" || typeof t.previewWeight !== "number")
    return undefined;
  const total = t.activeWeight + t.previewWeight;
  return total === 0 ? 0 : Math.round((100 * t.previewWeight) / total);
};

/** The parts of a BGD's status the metrics read; anything malformed reads as absent. */
export function statusView(obj: Readonly<KubeObject>): StatusView {
  const status = isRecord((obj as { status?: unknown }).status)
    ? ((obj as { status: Record<string, unknown> }).status as Record<string, unknown>)
    : {};
  const rollout = isRecord(status.rollout) ? status.rollout : {};
  const history = Array.isArray(status.history) ? status.history : [];
  return {
    phase: str(status.phase),
    activeColor: str(status.activeColor),
    activeRevision: str(status.activeRevision),
    rolloutStartedAt: time(rollout.startedAt),
    canaryWeight: shareOf(status.traffic),
    canaryStep:
      isRecord(rollout.canary) && typeof rollout.canary.step === "number" ? rollout.canary.step : undefined,
    history: history.filter(isRecord).flatMap((h) => {
      const revision = str(h.revision);
      return revision === undefined ? [] : [{ revision, promotedAt: time(h.promotedAt) }];
    }),
  };
}

/** What one status change means for the counters. */
export interface Transition {
  readonly switched: boolean;
  /** The switch went back to a revision that had been active before. */
  readonly rolledBack: boolean;
  readonly aborted: boolean;
  /** Seconds from the rollout's start to its switch, for switches that finish a rollout. */
  readonly rolloutSeconds: number | undefined;
}

/** Compares two statuses of one BGD (pure; unit-tested). */
export function transition(old: StatusView, now: StatusView, nowMs: number): Transition {
  const switched =
    old.activeColor !== undefined && now.activeColor !== undefined && old.activeColor !== now.activeColor;
  const rolledBack =
    switched &&
    now.activeRevision !== undefined &&
    old.history.some((h) => h.revision === now.activeRevision);
  const aborted = old.phase !== "Aborted" && now.phase === "Aborted";
  let rolloutSeconds: number | undefined;
  if (switched && !rolledBack && old.rolloutStartedAt !== undefined) {
    const at = now.history.find((h) => h.revision === now.activeRevision)?.promotedAt ?? nowMs;
    rolloutSeconds = Math.max(0, (at - old.rolloutStartedAt) / 1000);
  }
  return { switched, rolledBack, aborted, rolloutSeconds };
}

export interface RolloutMetricsOptions {
  readonly registry: Registry;
  /** The BGDs in the cache now. */
  readonly list: () => readonly Readonly<KubeObject>[];
  /** Whether this replica counts transitions (it leads, or leader election is off). */
  readonly counting: () => boolean;
  readonly now?: () => number;
}

type Labels = { namespace: string; name: string };

function labelsOf(obj: Readonly<KubeObject> | undefined): Labels | undefined {
  const m = obj?.metadata;
  return m?.name !== undefined && m.namespace !== undefined
    ? { namespace: m.namespace, name: m.name }
    : undefined;
}

export class RolloutMetrics {
  readonly #o: RolloutMetricsOptions;
  readonly #switches: Counter<"namespace" | "name">;
  readonly #rollbacks: Counter<"namespace" | "name">;
  readonly #aborts: Counter<"namespace" | "name">;
  readonly #duration: Histogram<"namespace" | "name">;

  constructor(o: RolloutMetricsOptions) {
    this.#o = o;
    const registers = [o.registry];
    const list = o.list;
    // One series per BGD, read from the informer cache at scrape time: the gauges keep no state of their own.
    // `read` gives the series' extra labels and value, or undefined for no series.
    const perBgd = (
      name: string,
      help: string,
      extraLabels: readonly string[],
      read: (s: StatusView) => [Record<string, string>, number] | undefined,
    ) =>
      new Gauge({
        name,
        help,
        labelNames: ["namespace", "name", ...extraLabels],
        registers,
        collect() {
          this.reset();
          for (const bgd of list()) {
            const l = labelsOf(bgd);
            const r = l === undefined ? undefined : read(statusView(bgd));
            if (l !== undefined && r !== undefined) this.set({ ...l, ...r[0] }, r[1]);
          }
        },
      });
    // Only the current phase is exported: nine series per BGD would cost 9x at 10,000 BGDs.
    perBgd(
      "bluegreen_rollout_phase",
      "Phase of each BlueGreenDeployment (status.phase); one series per BGD, value 1.",
      ["phase"],
      (s) => (s.phase === undefined ? undefined : [{ phase: s.phase }, 1]),
    );
    perBgd(
      "bluegreen_active_color",
      "The color the active Service of each BlueGreenDeployment selects (status.activeColor); value 1.",
      ["color"],
      (s) => (s.activeColor === undefined ? undefined : [{ color: s.activeColor }, 1]),
    );
    perBgd(
      "bluegreen_canary_weight",
      "Percent of the HTTPRoute's requests the route sends to the preview Service (the new color during canary steps), from status.traffic; absent without spec.trafficRouting.",
      [],
      (s) => (s.canaryWeight === undefined ? undefined : [{}, s.canaryWeight]),
    );
    perBgd(
      "bluegreen_canary_step",
      "The canary step in progress (1-based, status.rollout.canary.step + 1); absent outside canary steps.",
      [],
      (s) => (s.canaryStep === undefined ? undefined : [{}, s.canaryStep + 1]),
    );
    perBgd(
      "bluegreen_rollout_started_timestamp_seconds",
      "When the rollout in progress of each BlueGreenDeployment started (status.rollout.startedAt), Unix seconds; absent when none is in progress.",
      [],
      (s) => (s.rolloutStartedAt === undefined ? undefined : [{}, s.rolloutStartedAt / 1000]),
    );
    this.#switches = new Counter({
      name: "bluegreen_switches_total",
      help: "Switches of the active Service from one color to the other, rollbacks included.",
      labelNames: ["namespace", "name"],
      registers,
    });
    this.#rollbacks = new Counter({
      name: "bluegreen_rollbacks_total",
      help: "Switches back to a revision that had been active before.",
      labelNames: ["namespace", "name"],
      registers,
    });
    this.#aborts = new Counter({
      name: "bluegreen_aborts_total",
      help: "Rollouts that ended Aborted (by hand, or past their progress deadline).",
      labelNames: ["namespace", "name"],
      registers,
    });
    this.#duration = new Histogram({
      name: "bluegreen_rollout_duration_seconds",
      help: "From the start of a rollout (new revision seen) to the switch of the active Service to it.",
      labelNames: ["namespace", "name"],
      buckets: DURATION_BUCKETS,
      registers,
    });
  }

  /** Feed of the BGD cache: (undefined, obj) added, (old, obj) updated, (obj, undefined) deleted. */
  onChange(old: Readonly<KubeObject> | undefined, obj: Readonly<KubeObject> | undefined): void {
    const l = labelsOf(obj ?? old);
    if (l === undefined) return;
    if (obj === undefined) {
      // Deleted: its series go with it, or they would be reported forever.
      for (const m of [this.#switches, this.#rollbacks, this.#aborts]) m.remove(l);
      this.#duration.remove(l);
      return;
    }
    if (old === undefined) {
      // Present from the start, so rate() and increase() see the first event.
      for (const m of [this.#switches, this.#rollbacks, this.#aborts]) m.inc(l, 0);
      return;
    }
    if (!this.#o.counting()) return;
    const t = transition(statusView(old), statusView(obj), (this.#o.now ?? Date.now)());
    if (t.switched) this.#switches.inc(l);
    if (t.rolledBack) this.#rollbacks.inc(l);
    if (t.aborted) this.#aborts.inc(l);
    if (t.rolloutSeconds !== undefined) this.#duration.observe(l, t.rolloutSeconds);
  }
}
