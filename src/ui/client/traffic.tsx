/**
 * Requests/s and errors/s per revision across the switch, as the dashboard server last read them from
 * Prometheus: two stacked plots on one time axis (errors get their own scale, or they would hug zero),
 * each switch marked, a line per revision in its color's hue and named in the legend. The chart takes
 * focus; ←/→ (Home/End) move a cursor through time and the line under it reads the values out.
 */
import { useState } from "preact/hooks";
import type { Detail, TrafficSeries, TrafficView } from "../view.ts";
import { clock } from "./format.ts";

const W = 880;
const PAD_L = 56;
const PAD_R = 16;
const REQ = { top: 16, h: 150 };
const ERR = { top: 200, h: 60 };
const H = 290;

type Okay = Extract<TrafficView, { state: "ok" }>;

/** The smallest round number (1, 1.5, 2, 2.5, 3, 4, 5, 6, 8 × 10^k) at or above v, at least `min`. */
function niceMax(v: number, min: number): number {
  const x = Math.max(v, min);
  const p = 10 ** Math.floor(Math.log10(x));
  for (const m of [1, 1.5, 2, 2.5, 3, 4, 5, 6, 8]) if (m * p >= x) return m * p;
  return 10 * p;
}

const iso = (t: number) => new Date(t).toISOString();
const maxOf = (ss: readonly TrafficSeries[]) => Math.max(0, ...ss.flatMap((s) => s.points.map((p) => p[1])));

/** A path through the points, broken where the series has a gap (the revision had no pods then). */
function pathOf(s: TrafficSeries, x: (t: number) => number, y: (v: number) => number, step: number): string {
  let d = "";
  let prev: number | undefined;
  for (const [t, v] of s.points) {
    d += `${prev === undefined || t - prev > 2 * step ? "M" : "L"}${x(t).toFixed(1)} ${y(v).toFixed(1)} `;
    prev = t;
  }
  return d.trim();
}

interface Switch {
  readonly time: number;
  readonly revision: string;
  readonly label: string;
}

/** Every switch of the active Service within the range: promotions (history) and switch-backs (timeline). */
function switchesIn(d: Detail, from: number, to: number): Switch[] {
  const out: Switch[] = [];
  for (const h of d.history) {
    const t = Date.parse(h.promotedAt ?? "");
    // The first revision went live without a switch (nothing was serving before it).
    const label = h.switchedFrom === undefined ? `${h.revision} live` : `switch → ${h.revision}`;
    if (t >= from && t <= to) out.push({ time: t, revision: h.revision, label });
  }
  for (const m of d.timeline) {
    const t = Date.parse(m.time);
    if (m.stage === "switched back" && t >= from && t <= to)
      out.push({ time: t, revision: "", label: "switched back" });
  }
  return out.sort((a, b) => a.time - b.time);
}

function Chart({ t, detail }: { t: Okay; detail: Detail }) {
  const colorOf = (rev: string) => detail.colors.find((c) => c.revision === rev)?.color ?? "other";
  const revisions = [...new Set([...t.requests, ...t.errors].map((s) => s.revision))].sort();
  const starts = t.requests.flatMap((s) => s.points.slice(0, 1).map((p) => p[0]));
  // From where the data begins (not ten empty minutes), to the end of the range.
  const x0 = Math.max(t.from, Math.min(t.to - 60_000, ...starts) - t.stepMs);
  const x1 = t.to;
  const x = (tm: number) => PAD_L + ((tm - x0) / (x1 - x0)) * (W - PAD_L - PAD_R);
  const reqMax = niceMax(maxOf(t.requests), 1);
  const errMax = niceMax(maxOf(t.errors), 1);
  const yReq = (v: number) => REQ.top + REQ.h - (v / reqMax) * REQ.h;
  const yErr = (v: number) => ERR.top + ERR.h - (v / errMax) * ERR.h;
  const switches = switchesIn(detail, x0, x1);
  const instants = [...new Set(t.requests.flatMap((s) => s.points.map((p) => p[0])))].sort((a, b) => a - b);
  const [cursor, setCursor] = useState<number | undefined>(undefined);
  // A cursor the sliding range has left behind falls back to the latest instant.
  const on = cursor !== undefined && instants.includes(cursor);
  const at = on ? cursor : instants.at(-1);
  const valueAt = (ss: readonly TrafficSeries[], rev: string) =>
    ss.find((s) => s.revision === rev)?.points.find((p) => p[0] === at)?.[1] ?? 0;
  const readout =
    at === undefined
      ? "No samples."
      : `${clock(iso(at))} — ${revisions
          .map(
            (r) =>
              `${r} (${colorOf(r)}): ${valueAt(t.requests, r).toFixed(1)} requests/s, ${valueAt(t.errors, r).toFixed(2)} errors/s`,
          )
          .join("; ")}`;
  const move = (key: string) => {
    if (instants.length === 0) return false;
    const i = at === undefined ? instants.length - 1 : instants.indexOf(at);
    const next =
      key === "ArrowLeft"
        ? Math.max(0, i - 1)
        : key === "ArrowRight"
          ? Math.min(instants.length - 1, i + 1)
          : key === "Home"
            ? 0
            : key === "End"
              ? instants.length - 1
              : undefined;
    if (next === undefined) return false;
    setCursor(instants[next]);
    return true;
  };
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((f) => x0 + f * (x1 - x0));
  return (
    <figure class="traffic" data-testid="traffic-chart">
      <div
        class="traffic-plot"
        tabIndex={0}
        // A slider over the chart's instants: ←/→ are what a keyboard user expects of one.
        role="slider"
        aria-label="Time in the traffic chart (left and right arrows)"
        aria-valuemin={0}
        aria-valuemax={Math.max(0, instants.length - 1)}
        aria-valuenow={at === undefined ? 0 : instants.indexOf(at)}
        aria-valuetext={readout}
        onKeyDown={(e) => {
          if (move(e.key)) e.preventDefault();
        }}
      >
        <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-labelledby="traffic-title">
          <title id="traffic-title">
            Requests/s and errors/s per revision ({revisions.join(", ")}) from {clock(iso(x0))} to{" "}
            {clock(iso(x1))}
            {switches.length > 0
              ? `; ${switches.map((s) => `${s.label} at ${clock(iso(s.time))}`).join(", ")}`
              : ""}
          </title>
          {[
            { box: REQ, max: reqMax, name: "requests/s" },
            { box: ERR, max: errMax, name: "errors/s" },
          ].map(({ box, max, name }) => (
            <g key={name} class="plot">
              {[0, 0.5, 1].map((f) => (
                <g key={f}>
                  <line
                    x1={PAD_L}
                    x2={W - PAD_R}
                    y1={box.top + box.h * (1 - f)}
                    y2={box.top + box.h * (1 - f)}
                    class="grid"
                  />
                  <text x={PAD_L - 6} y={box.top + box.h * (1 - f) + 4} text-anchor="end" class="tick">
                    {Number((max * f).toPrecision(3))}
                  </text>
                </g>
              ))}
              <text x={PAD_L + 4} y={box.top - 4} class="plot-name">
                {name}
              </text>
            </g>
          ))}
          {ticks.map((tm) => (
            <text key={tm} x={x(tm)} y={H - 6} text-anchor="middle" class="tick">
              {clock(iso(tm))}
            </text>
          ))}
          {switches.map((s, i) => {
            const sx = x(s.time);
            // Labels of close switches alternate rows; near the right edge they stand left of the line.
            const left = sx > W - PAD_R - 150;
            return (
              <g
                key={`${s.time}-${s.label}`}
                class="switch"
                data-testid="switch-marker"
                data-revision={s.revision}
                data-time={s.time}
              >
                <line x1={sx} x2={sx} y1={REQ.top} y2={ERR.top + ERR.h} />
                <text
                  x={left ? sx - 4 : sx + 4}
                  y={REQ.top + 12 + (i % 2) * 15}
                  text-anchor={left ? "end" : "start"}
                  class="switch-label"
                >
                  {s.label}
                </text>
              </g>
            );
          })}
          {revisions.flatMap((r) =>
            [
              { ss: t.requests, y: yReq, kind: "requests" },
              { ss: t.errors, y: yErr, kind: "errors" },
            ].map(({ ss, y, kind }) => {
              const s = ss.find((v) => v.revision === r);
              if (s === undefined || s.points.length === 0) return null;
              return (
                <path
                  key={`${kind}-${r}`}
                  d={pathOf(s, x, y, t.stepMs)}
                  class={`line line-${colorOf(r)} line-${kind}`}
                  data-series={kind}
                  data-revision={r}
                  data-first={s.points[0]?.[0]}
                  data-last={s.points.at(-1)?.[0]}
                  data-max={maxOf([s])}
                />
              );
            }),
          )}
          {at !== undefined && on && (
            <line x1={x(at)} x2={x(at)} y1={REQ.top} y2={ERR.top + ERR.h} class="cursor" />
          )}
        </svg>
      </div>
      <figcaption>
        <ul class="legend">
          {revisions.map((r) => (
            <li key={r}>
              <svg width="44" height="10" aria-hidden="true">
                <line x1="0" x2="20" y1="5" y2="5" class={`line line-${colorOf(r)} line-requests`} />
                <line x1="24" x2="44" y1="5" y2="5" class={`line line-${colorOf(r)} line-errors`} />
              </svg>{" "}
              <span class="mono">{r}</span> <span class="muted">({colorOf(r)})</span>
            </li>
          ))}
          <li class="muted">solid: requests/s · dashed: errors/s (5xx)</li>
        </ul>
        <p id="traffic-readout" class="readout" aria-live="polite" data-testid="traffic-readout">
          {readout}
        </p>
      </figcaption>
    </figure>
  );
}

export function Traffic({ traffic, detail }: { traffic: TrafficView; detail: Detail }) {
  switch (traffic.state) {
    case "off":
      return (
        <p class="muted" data-testid="traffic-off">
          Requests/s and errors per revision across the switch appear here when the dashboard has a Prometheus
          address (<span class="mono">--prometheus URL</span>); none is configured.
        </p>
      );
    case "loading":
      return <p class="muted">Asking Prometheus at {traffic.source}…</p>;
    case "unavailable":
      return (
        <p class="conn conn-warn" role="status" data-testid="traffic-unavailable">
          traffic chart unavailable: {traffic.reason}
        </p>
      );
    case "ok":
      if (traffic.requests.every((s) => s.points.length === 0))
        return (
          <p class="muted" data-testid="traffic-empty">
            No requests recorded for this BGD's revisions in the last{" "}
            {Math.round((traffic.to - traffic.from) / 60_000)} minutes (Prometheus at {traffic.source}).
          </p>
        );
      return <Chart t={traffic} detail={detail} />;
  }
}
