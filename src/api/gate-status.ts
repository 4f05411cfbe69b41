/**
 * status.gates: one record per check of the revision being rolled out (status.rollout.revision), bounded:
 * counters for the totals, the last few measurements, one message a person reads. The planner decides from
 * these records and the injected clock only (src/bluegreen/gates/measurement.ts), so a restarted operator resumes the
 * checks where status says they were. src/bluegreen/gates/measurement.ts checks at compile time that its record
 * is exactly this.
 */
import { type Static, Type } from "@sinclair/typebox";
import { CHECK_KINDS, GATE_POINTS } from "./gate-rules.ts";
import { StringEnum } from "./schema-helpers.ts";

export const MEASUREMENT_PHASES = ["Successful", "Failed", "Error", "Inconclusive"] as const;
export type MeasurementPhase = (typeof MEASUREMENT_PHASES)[number];
export const CHECK_PHASES = ["Running", "Successful", "Failed", "Inconclusive"] as const;
export type CheckPhase = (typeof CHECK_PHASES)[number];
/** How many measurements status keeps per check (the counters keep the totals). */
export const KEPT_MEASUREMENTS = 5;
/** Longest value or message kept per measurement. */
export const MAX_MEASUREMENT_TEXT = 256;
/** Longest log tail kept (its end). */
export const MAX_LOG_TAIL = 1024;

const DateTime = (description: string) => Type.String({ format: "date-time", description });
const Count = (description: string) => Type.Integer({ format: "int32", minimum: 0, description });

export const GateMeasurementStatus = Type.Object({
  index: Count("0 for the check's first measurement."),
  phase: StringEnum(MEASUREMENT_PHASES),
  startedAt: DateTime("When it started."),
  finishedAt: DateTime("When it ended."),
  value: Type.Optional(
    Type.String({
      maxLength: MAX_MEASUREMENT_TEXT,
      description: "What was measured (a value, a status code).",
    }),
  ),
  message: Type.Optional(Type.String({ maxLength: MAX_MEASUREMENT_TEXT })),
  logTail: Type.Optional(
    Type.String({ maxLength: MAX_LOG_TAIL, description: "The end of a failed Job's pod log." }),
  ),
});

export const GateCheckStatus = Type.Object({
  name: Type.String({ maxLength: 63 }),
  point: StringEnum(GATE_POINTS, { description: "preRollout, prePromotion or postPromotion." }),
  kind: StringEnum(CHECK_KINDS),
  revision: Type.String({ maxLength: 64, description: "The revision this check is about." }),
  phase: StringEnum(CHECK_PHASES, { description: "Running, Successful, Failed or Inconclusive." }),
  startedAt: DateTime("When the check started."),
  successful: Count("Successful measurements."),
  failed: Count("Failed measurements (wrong answer, error, timeout)."),
  inconclusive: Count("Inconclusive measurements."),
  measurements: Type.Array(GateMeasurementStatus, {
    maxItems: KEPT_MEASUREMENTS,
    description: "The last measurements, newest last.",
  }),
  message: Type.String({ maxLength: 1024, description: "Where the check stands, for people." }),
  job: Type.Optional(Type.String({ maxLength: 63, description: "The Job of a job check." })),
});

export const GatesStatus = Type.Array(GateCheckStatus, {
  maxItems: 30,
  description: "The checks of the rollout's revision, in the order they run.",
  "x-kubernetes-list-type": "map",
  "x-kubernetes-list-map-keys": ["name"],
});

export type GateCheckStatus = Static<typeof GateCheckStatus>;
export type GateMeasurementStatus = Static<typeof GateMeasurementStatus>;
