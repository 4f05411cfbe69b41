/**
 * Runs one measurement of a prometheus check: an instant query (GET /api/v1/query), its result tested by the
 * success condition. Every series of a vector must pass (an error rate per pod, per route...); a scalar is one
 * value; no series at all is decided by emptyResult, never silently. The response is data from outside and
 * is checked field by field before use.
 */
import { evaluateCondition, parseCondition } from "../../api/gate-condition.ts";
import type { Outcome } from "../../bluegreen/gates/measurement.ts";
import type { PrometheusQuerySpec } from "../../bluegreen/gates/work.ts";

export type { PrometheusQuerySpec };

/** How many series a message names before "and N more". */
const SHOWN_SERIES = 3;

const isRecord = (x: unknown): x is Record<string, unknown> =>
  typeof x === "object" && x !== null && !Array.isArray(x);

/** A sample `[ts, "0.25"]` → 0.25 (Prometheus sends numbers as strings, NaN and ±Inf included). */
function sampleValue(x: unknown): number | undefined {
  if (!Array.isArray(x) || x.length !== 2 || typeof x[1] !== "string") return undefined;
  const v =
    x[1] === "+Inf" ? Number.POSITIVE_INFINITY : x[1] === "-Inf" ? Number.NEGATIVE_INFINITY : Number(x[1]);
  return x[1] === "NaN" || !Number.isNaN(v) ? v : undefined;
}

const seriesName = (metric: unknown): string => {
  if (!isRecord(metric)) return "{}";
  const labels = Object.entries(metric).map(([k, v]) => `${k}="${String(v)}"`);
  return `{${labels.join(",")}}`;
};

type Series = { readonly name: string; readonly value: number };

/** The series of a query response, or why the response is unusable. */
export function seriesOf(response: unknown): { ok: true; series: Series[] } | { ok: false; message: string } {
  if (!isRecord(response)) return { ok: false, message: "the response is not a JSON object" };
  if (response.status !== "success")
    return {
      ok: false,
      message: `query error: ${typeof response.error === "string" ? response.error : "unknown"}`,
    };
  const data = response.data;
  if (!isRecord(data)) return { ok: false, message: "the response has no data" };
  switch (data.resultType) {
    case "scalar": {
      const v = sampleValue(data.result);
      return v === undefined
        ? { ok: false, message: "a malformed scalar" }
        : { ok: true, series: [{ name: "scalar", value: v }] };
    }
    case "vector": {
      if (!Array.isArray(data.result)) return { ok: false, message: "a malformed vector" };
      const series: Series[] = [];
      for (const s of data.result) {
        const v = isRecord(s) ? sampleValue(s.value) : undefined;
        if (v === undefined || !isRecord(s)) return { ok: false, message: "a malformed sample" };
        series.push({ name: seriesName(s.metric), value: v });
      }
      return { ok: true, series };
    }
    case "matrix":
      return {
        ok: false,
        message: "the query returns a range vector; write an instant query (e.g. wrap it in rate(...[1m]))",
      };
    default:
      return { ok: false, message: `a result of type ${String(data.resultType)} cannot be compared` };
  }
}

const num = (v: number) => (Number.isInteger(v) ? String(v) : String(Number(v.toPrecision(6))));

export async function measurePrometheus(spec: PrometheusQuerySpec, cancel?: AbortSignal): Promise<Outcome> {
  const condition = parseCondition(spec.successCondition);
  if (!condition.ok) return { phase: "Error", message: `successCondition: ${condition.message}` };
  const timeout = AbortSignal.timeout(spec.timeoutMs);
  const signal = cancel === undefined ? timeout : AbortSignal.any([timeout, cancel]);
  const url = new URL("api/v1/query", spec.address.endsWith("/") ? spec.address : `${spec.address}/`);
  let response: unknown;
  try {
    // POST with a form body: long queries do not hit URL length limits. `timeout` bounds the query server-side too.
    const res = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({
        query: spec.query,
        timeout: `${Math.max(1, Math.floor(spec.timeoutMs / 1000))}s`,
      }),
      signal,
    });
    const text = await res.text();
    try {
      response = JSON.parse(text);
    } catch {
      return { phase: "Error", message: `status ${res.status}, not a Prometheus API response` };
    }
  } catch (e) {
    if (timeout.aborted) return { phase: "Error", message: `no answer within ${spec.timeoutMs / 1000}s` };
    if (cancel?.aborted === true) return { phase: "Error", message: "cancelled" };
    const cause = e instanceof Error && e.cause instanceof Error ? e.cause.message : String(e);
    return { phase: "Error", message: `query failed: ${cause}` };
  }
  const parsed = seriesOf(response);
  if (!parsed.ok) return { phase: "Error", message: parsed.message };
  if (parsed.series.length === 0) {
    const phase =
      spec.emptyResult === "Success"
        ? "Successful"
        : spec.emptyResult === "Failure"
          ? "Failed"
          : "Inconclusive";
    return {
      phase,
      value: "no series",
      message: `the query returned no series (emptyResult: ${spec.emptyResult})`,
    };
  }
  const failing: Series[] = [];
  for (const s of parsed.series) {
    const e = evaluateCondition(condition.condition, s.value);
    if (!e.ok) return { phase: "Error", message: e.message };
    if (!e.holds) failing.push(s);
  }
  const shown = (ss: Series[]) =>
    ss.length === 1 && parsed.series.length === 1
      ? num(ss[0]?.value ?? Number.NaN)
      : ss
          .slice(0, SHOWN_SERIES)
          .map((s) => `${s.name} ${num(s.value)}`)
          .join(", ") + (ss.length > SHOWN_SERIES ? ` and ${ss.length - SHOWN_SERIES} more` : "");
  if (failing.length === 0) return { phase: "Successful", value: shown(parsed.series) };
  return {
    phase: "Failed",
    value: shown(failing),
    message: `${spec.successCondition} does not hold${parsed.series.length > 1 ? ` for ${failing.length} of ${parsed.series.length} series` : ""}`,
  };
}
