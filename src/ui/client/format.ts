/** Small formatting helpers shared by the views. */

/** kubectl's age style: 45s, 12m, 3h, 2d. */
export function age(since: string | undefined, now: number): string {
  if (since === undefined) return "-";
  const s = Math.max(0, Math.floor((now - Date.parse(since)) / 1000));
  if (!Number.isFinite(s)) return "-";
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.floor(s / 60)}m`;
  if (s < 172800) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86400)}d`;
}

/** 14:03:27 in the viewer's time zone. */
export function clock(t: string | undefined): string {
  if (t === undefined) return "-";
  const d = new Date(t);
  return Number.isNaN(d.getTime()) ? "-" : d.toLocaleTimeString([], { hour12: false });
}

export const href = (namespace: string, name: string): string =>
  `#/${encodeURIComponent(namespace)}/${encodeURIComponent(name)}`;

export function phaseTone(phase: string): "ok" | "warn" | "bad" | "info" {
  if (phase === "Stable") return "ok";
  if (phase === "Aborted" || phase === "Degraded") return "bad";
  if (phase === "AwaitingPromotion" || phase === "Paused") return "warn";
  return "info";
}
