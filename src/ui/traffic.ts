/**
 * The traffic chart's numbers: requests/s and errors/s per revision of one BlueGreenDeployment over the last
 * minutes, from Prometheus range queries run by the dashboard server (the page fetches nothing but its own
 * server). Prometheus has no watch, so while a page shows a BGD its series are fetched again every few
 * seconds and go out with the state pushes. A Prometheus that is down or slow gives a reason, never a wait:
 * a state is always built from what was last fetched.
 *
 * The series are selected as the gates select them (docs/gates.md): a request counter labelled `namespace`,
 * `revision` (the pod label bluegreen.io/revision, relabelled) and `code`.
 */
import type { TrafficSeries, TrafficView } from "./view.ts";

export interface TrafficOptions {
  /** Base URL of the Prometheus HTTP API (`http://prometheus.monitoring:9090`). */
  readonly prometheus: string;
  /** The request counter (labels namespace, revision, code). */
  readonly metric: string;
  readonly windowMs: number;
  readonly stepMs: number;
  /** A query not answered by then is given up: the page says so and the next refresh tries again. */
  readonly timeoutMs: number;
  readonly refreshMs: number;
}

export const TRAFFIC_DEFAULTS = {
  metric: "http_requests_total",
  windowMs: 10 * 60_000,
  stepMs: 2000,
  timeoutMs: 5000,
  refreshMs: 5000,
} as const;

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
export const validMetricName = (m: string): boolean => METRIC_NAME.test(m);

/** Label values go into the query text: only what a namespace or a revision can be. */
const SAFE_VALUE = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;

/**
 * PromQL for one BGD's revisions. irate looks at the last two samples within a minute: the switch shows as
 * a step, not a minute-long ramp, whatever the scrape interval (up to 30 s). A revision that never
 * answered 5xx has no such series; `or … * 0` gives it a zero error line instead of none.
 */
export function trafficQueries(
  metric: string,
  namespace: string,
  revisions: readonly string[],
): { requests: string; errors: string } {
  if (!validMetricName(metric)) throw new Error(`invalid metric name ${JSON.stringify(metric)}`);
  const revs = revisions.filter((r) => SAFE_VALUE.test(r));
  if (!SAFE_VALUE.test(namespace) || revs.length === 0) throw new Error("nothing to select");
  const sel = `namespace="${namespace}",revision=~"${revs.join("|")}"`;
  const all = `sum by (revision) (irate(${metric}{${sel}}[1m]))`;
  return {
    requests: all,
    errors: `sum by (revision) (irate(${metric}{${sel},code=~"5.."}[1m])) or ${all} * 0`,
  };
}

const isRecord = (x: unknown): x is Record<string, unknown> =>
  typeof x === "object" && x !== null && !Array.isArray(x);

/** A range query's answer → one series per revision (points in ms), or what is wrong with it. */
export function matrixOf(
  body: unknown,
): { ok: true; series: TrafficSeries[] } | { ok: false; message: string } {
  if (!isRecord(body)) return { ok: false, message: "the answer is not a JSON object" };
  if (body.status !== "success")
    return {
      ok: false,
      message: `query error: ${typeof body.error === "string" ? body.error : "unknown"}`,
    };
  const data = body.data;
  if (!isRecord(data) || data.resultType !== "matrix" || !Array.isArray(data.result))
    return { ok: false, message: "the answer is not a matrix" };
  const series: TrafficSeries[] = [];
  for (const s of data.result) {
    if (!isRecord(s) || !isRecord(s.metric) || !Array.isArray(s.values))
      return { ok: false, message: "a malformed series" };
    const points: [number, number][] = [];
    for (const v of s.values) {
      if (!Array.isArray(v) || typeof v[0] !== "number" || typeof v[1] !== "string")
        return { ok: false, message: "a malformed sample" };
      const n = Number(v[1]);
      // NaN/Inf (a counter reset at a pod's start) draw nothing.
      if (Number.isFinite(n)) points.push([Math.round(v[0] * 1000), n]);
    }
    const revision = s.metric.revision;
    if (typeof revision === "string") series.push({ revision, points });
  }
  return { ok: true, series: series.sort((a, b) => a.revision.localeCompare(b.revision)) };
}

/** Why the chart cannot be drawn, in words a person can act on. */
export function failureReason(err: unknown, prometheus: string, timeoutMs: number): string {
  const e = err as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (e.name === "TimeoutError" || e.name === "AbortError")
    return `Prometheus at ${prometheus} did not answer within ${timeoutMs / 1000} s`;
  const code = e.cause?.code;
  if (code === "ECONNREFUSED") return `cannot connect to Prometheus at ${prometheus} (connection refused)`;
  if (code === "ENOTFOUND" || code === "EAI_AGAIN")
    return `cannot resolve the host of Prometheus at ${prometheus}`;
  if (code !== undefined) return `cannot reach Prometheus at ${prometheus} (${code})`;
  return e.message ?? String(err);
}

/** Aligned to the step, so two refreshes ask for (and draw) the same instants. */
export function rangeOf(now: number, windowMs: number, stepMs: number): { from: number; to: number } {
  const to = Math.floor(now / stepMs) * stepMs;
  return { from: to - Math.ceil(windowMs / stepMs) * stepMs, to };
}

async function rangeQuery(
  o: TrafficOptions,
  query: string,
  from: number,
  to: number,
  signal: AbortSignal,
): Promise<TrafficSeries[]> {
  const url = new URL("api/v1/query_range", o.prometheus.endsWith("/") ? o.prometheus : `${o.prometheus}/`);
  url.searchParams.set("query", query);
  url.searchParams.set("start", String(from / 1000));
  url.searchParams.set("end", String(to / 1000));
  url.searchParams.set("step", String(o.stepMs / 1000));
  const res = await fetch(url, { signal, headers: { accept: "application/json" } });
  const text = await res.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new Error(
      `Prometheus at ${o.prometheus} answered ${res.status} without JSON: ${text.slice(0, 200)}`,
    );
  }
  const m = matrixOf(body);
  if (!m.ok) throw new Error(`Prometheus at ${o.prometheus} answered ${res.status}: ${m.message}`);
  return m.series;
}

/** One BGD's series now: both queries, or why not. */
export async function fetchTraffic(
  o: TrafficOptions,
  namespace: string,
  revisions: readonly string[],
  now: number,
): Promise<TrafficView> {
  const source = o.prometheus;
  if (revisions.length === 0) return { state: "unavailable", source, reason: "no revision to look for yet" };
  const { from, to } = rangeOf(now, o.windowMs, o.stepMs);
  const signal = AbortSignal.timeout(o.timeoutMs);
  try {
    const q = trafficQueries(o.metric, namespace, revisions);
    const [requests, errors] = await Promise.all([
      rangeQuery(o, q.requests, from, to, signal),
      rangeQuery(o, q.errors, from, to, signal),
    ]);
    return { state: "ok", source, from, to, stepMs: o.stepMs, requests, errors };
  } catch (err) {
    return { state: "unavailable", source, reason: failureReason(err, source, o.timeoutMs) };
  }
}

interface Entry {
  refs: number;
  timer: NodeJS.Timeout | undefined;
  inFlight: boolean;
  view: TrafficView;
}

/**
 * The series of every BGD a page shows in detail, refreshed while at least one page shows it. A refresh
 * still in flight is not doubled (a slow Prometheus is not asked twice as often).
 */
export class TrafficFeed {
  readonly #opts: TrafficOptions;
  readonly #revisionsOf: (key: string) => readonly string[] | undefined;
  readonly #onChange: () => void;
  readonly #entries = new Map<string, Entry>();

  constructor(
    opts: TrafficOptions,
    revisionsOf: (key: string) => readonly string[] | undefined,
    onChange: () => void,
  ) {
    this.#opts = opts;
    this.#revisionsOf = revisionsOf;
    this.#onChange = onChange;
  }

  view(key: string): TrafficView {
    return this.#entries.get(key)?.view ?? { state: "loading", source: this.#opts.prometheus };
  }

  acquire(key: string): void {
    const e = this.#entries.get(key);
    if (e !== undefined) {
      e.refs++;
      return;
    }
    const entry: Entry = {
      refs: 1,
      timer: undefined,
      inFlight: false,
      view: { state: "loading", source: this.#opts.prometheus },
    };
    this.#entries.set(key, entry);
    entry.timer = setInterval(() => void this.#refresh(key, entry), this.#opts.refreshMs);
    void this.#refresh(key, entry);
  }

  release(key: string): void {
    const e = this.#entries.get(key);
    if (e === undefined || --e.refs > 0) return;
    clearInterval(e.timer);
    this.#entries.delete(key);
  }

  stop(): void {
    for (const e of this.#entries.values()) clearInterval(e.timer);
    this.#entries.clear();
  }

  async #refresh(key: string, e: Entry): Promise<void> {
    if (e.inFlight) return;
    e.inFlight = true;
    try {
      const [ns = ""] = key.split("/");
      const revisions = this.#revisionsOf(key) ?? [];
      const view = await fetchTraffic(this.#opts, ns, revisions, Date.now());
      if (this.#entries.get(key) !== e) return;
      // The same answer again (Prometheus still down, for one) is not pushed again.
      const changed = JSON.stringify(view) !== JSON.stringify(e.view);
      e.view = view;
      if (changed) this.#onChange();
    } finally {
      e.inFlight = false;
    }
  }
}
