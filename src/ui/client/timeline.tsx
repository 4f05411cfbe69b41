/**
 * The rollout as a picture: its steps on a time axis (template written → preview ready → approved →
 * switched → verified → scaled down), with failures marked. The list under it says the same in words.
 */
import type { TimelineMark } from "../view.ts";
import { clock } from "./format.ts";

const W = 880;
const H = 150;
const PAD = 60;

/** Offsets on the axis: tenths of a second for a rollout of a few seconds (as in the tests), else whole. */
function seconds(ms: number, span: number): string {
  if (span < 10_000) return `${(ms / 1000).toFixed(1)}s`;
  const s = Math.round(ms / 1000);
  return s < 120 ? `${s}s` : `${Math.floor(s / 60)}m${s % 60 > 0 ? `${s % 60}s` : ""}`;
}

export function Timeline({ marks, now }: { marks: readonly TimelineMark[]; now: number }) {
  if (marks.length === 0) return <p class="muted">No rollout recorded yet.</p>;
  const times = marks.map((m) => Date.parse(m.time));
  const t0 = Math.min(...times);
  const last = Math.max(...times);
  // A rollout still moving extends to now, so the gap since its last step shows.
  const finished = marks.some((m) => m.stage === "scaled down" || m.stage === "aborted");
  const t1 = Math.max(finished ? last : Math.min(now, last + 10 * 60_000), t0 + 1000);
  const x = (t: number) => PAD + ((t - t0) / (t1 - t0)) * (W - 2 * PAD);
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((f) => t0 + f * (t1 - t0));
  return (
    <figure class="timeline" data-testid="timeline">
      <svg
        viewBox={`0 0 ${W} ${H}`}
        role="img"
        aria-labelledby="tl-title"
        preserveAspectRatio="xMidYMid meet"
      >
        <title id="tl-title">
          Rollout timeline: {marks.map((m) => `${m.stage} at ${clock(m.time)}`).join(", ")}
        </title>
        <line x1={PAD} x2={W - PAD} y1={H / 2} y2={H / 2} class="axis" />
        {ticks.map((t) => (
          <g key={t}>
            <line x1={x(t)} x2={x(t)} y1={H / 2 - 4} y2={H / 2 + 4} class="axis" />
            <text x={x(t)} y={H - 8} class="tick" text-anchor="middle">
              +{seconds(t - t0, t1 - t0)}
            </text>
          </g>
        ))}
        {!finished && now > last && <line x1={x(last)} x2={x(t1)} y1={H / 2} y2={H / 2} class="pending" />}
        {marks.map((m, i) => {
          const cx = x(Date.parse(m.time));
          // Alternate labels above and below the axis so close steps do not overwrite each other.
          const above = i % 2 === 0;
          return (
            <g key={`${m.stage}-${m.time}`} class={`mark mark-${m.tone}`}>
              <circle cx={cx} cy={H / 2} r={7} />
              <line
                x1={cx}
                x2={cx}
                y1={above ? H / 2 - 8 : H / 2 + 8}
                y2={above ? 30 : H - 38}
                class="stem"
              />
              <text x={cx} y={above ? 24 : H - 26} text-anchor="middle" class="label">
                {m.stage}
              </text>
            </g>
          );
        })}
      </svg>
      <figcaption>
        <ol class="marks">
          {marks.map((m) => (
            <li key={`${m.stage}-${m.time}`} class={`mark-${m.tone}`}>
              <time dateTime={m.time}>{clock(m.time)}</time> <strong>{m.stage}</strong>{" "}
              <span class="muted">{m.detail}</span>
            </li>
          ))}
        </ol>
      </figcaption>
    </figure>
  );
}
