/**
 * What the gate e2e files read back from a BGD's status.gates: one check's record, and how long it held
 * the rollout (a figure the tests print for the note, never judged).
 */
import assert from "node:assert/strict";
import { kubectlJson } from "./lib.ts";

export interface GateRecord {
  name: string;
  phase: string;
  revision: string;
  message?: string;
  startedAt: string;
  measurements: { phase: string; value?: string; message?: string; finishedAt: string; logTail?: string }[];
}

/** How long the check held the rollout: from its start to its last measurement's end. */
export const held = (r: GateRecord): string =>
  `${r.name} (${r.measurements.length} measurements) held the rollout ${Date.parse(r.measurements.at(-1)?.finishedAt ?? r.startedAt) - Date.parse(r.startedAt)} ms`;

/** The BGD's record of `check` (there must be one). */
export async function gateRecord(n: string, check: string, bgd = "app"): Promise<GateRecord> {
  const o = await kubectlJson<{ status: { gates?: GateRecord[] } }>(["get", "bgd", bgd, "-n", n]);
  const r = o.status.gates?.find((g) => g.name === check);
  assert.ok(r !== undefined, `no status.gates record for ${check}: ${JSON.stringify(o.status.gates)}`);
  return r;
}

/** Each measurement as [phase, value]: what a test compares whole. */
export const measured = (r: GateRecord): [string, string | undefined][] =>
  r.measurements.map((m) => [m.phase, m.value]);
