/**
 * Terminal presentation shared by every command: colors (Node's own util.styleText, which honours NO_COLOR and
 * FORCE_COLOR), kubectl's duration format, and kubectl-style aligned columns.
 */
import { stripVTControlCharacters, styleText } from "node:util";

type Format = Parameters<typeof styleText>[0];

/** Colors on or off for one rendering; tests render with colors off and get plain text. */
export interface Painter {
  readonly enabled: boolean;
  paint(format: Format, text: string): string;
}

export function painter(enabled: boolean): Painter {
  return {
    enabled,
    paint: (format, text) =>
      enabled && text !== "" ? styleText(format, text, { validateStream: false }) : text,
  };
}

/** Colors when the stream is a terminal that has them (NO_COLOR, FORCE_COLOR and TERM=dumb respected). */
export function painterFor(stream: NodeJS.WriteStream): Painter {
  return painter(stream.isTTY === true && stream.hasColors?.() === true);
}

export const PLAIN = painter(false);

const PHASE_STYLE: Readonly<Record<string, { icon: string; format: Format }>> = {
  Stable: { icon: "✔", format: "green" },
  AwaitingPromotion: { icon: "◇", format: "yellow" },
  Paused: { icon: "‖", format: "yellow" },
  Aborted: { icon: "✖", format: "red" },
  Degraded: { icon: "✖", format: "red" },
  Initializing: { icon: "◌", format: "cyan" },
  Progressing: { icon: "◌", format: "cyan" },
  Promoting: { icon: "◌", format: "cyan" },
  Verifying: { icon: "◌", format: "cyan" },
};

export function phaseText(p: Painter, phase: string | undefined): string {
  if (phase === undefined) return p.paint("dim", "? Unknown");
  const s = PHASE_STYLE[phase] ?? { icon: "?", format: "dim" };
  return p.paint(s.format, `${s.icon} ${phase}`);
}

export function roleText(p: Painter, role: string): string {
  if (role === "active") return p.paint(["bold", "green"], role);
  if (role === "preview") return p.paint("yellow", role);
  return p.paint("dim", role);
}

export function colorName(p: Painter, c: string): string {
  return p.paint(c === "blue" ? "blue" : c === "green" ? "green" : "dim", c);
}

/**
 * kubectl's HumanDuration for ages: "45s", "3m10s", "2h", "5d"; "<unknown>" for a bad time.
 * Precision drops as the age grows, like `kubectl get` does.
 */
export function humanDuration(ms: number): string {
  if (!Number.isFinite(ms)) return "<unknown>";
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 120) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 10) return s % 60 === 0 ? `${m}m` : `${m}m${s % 60}s`;
  if (m < 180) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 8) return m % 60 === 0 ? `${h}h` : `${h}h${m % 60}m`;
  if (h < 48) return `${h}h`;
  const d = Math.floor(h / 24);
  if (d < 8) return h % 24 === 0 ? `${d}d` : `${d}d${h % 24}h`;
  if (d < 365 * 2) return `${d}d`;
  return `${Math.floor(d / 365)}y`;
}

export function age(now: number, time: string | undefined): string {
  if (time === undefined) return "<unknown>";
  return humanDuration(now - Date.parse(time));
}

const width = (s: string): number => [...stripVTControlCharacters(s)].length;

/**
 * Aligns rows into columns separated by three spaces, like `kubectl get` (cells may carry colors).
 * The last column is not padded, so lines carry no trailing blanks.
 */
export function columns(rows: readonly (readonly string[])[]): string[] {
  const widths: number[] = [];
  for (const r of rows) {
    r.forEach((cell, i) => {
      widths[i] = Math.max(widths[i] ?? 0, width(cell));
    });
  }
  return rows.map((r) =>
    r
      .map((cell, i) => (i === r.length - 1 ? cell : cell + " ".repeat((widths[i] ?? 0) - width(cell))))
      .join("   ")
      .trimEnd(),
  );
}

/** `key: value` lines with the values aligned. */
export function fields(p: Painter, pairs: readonly (readonly [string, string])[]): string[] {
  const w = Math.max(...pairs.map(([k]) => k.length + 1));
  return pairs.map(([k, v]) => `${p.paint("bold", `${k}:`.padEnd(w))}  ${v}`);
}
