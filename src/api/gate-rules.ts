/**
 * The CEL rules of spec.gates (see gates.ts), each with the message kubectl shows. The patterns are the
 * same texts the gate modules parse with (gate-condition.ts, gate-jsonpath.ts, gate-template.ts), so admission accepts exactly what the operator can run.
 */
import { CONDITION_PATTERN } from "./gate-condition.ts";
import { JSON_PATH_PATTERN } from "./gate-jsonpath.ts";
import { TEMPLATE_TEXT_PATTERN, TEMPLATE_VARIABLES } from "./gate-template.ts";
import type { CelRule } from "./rules.ts";

export const GATE_POINTS = ["preRollout", "prePromotion", "postPromotion"] as const;
export type GatePoint = (typeof GATE_POINTS)[number];
export const CHECK_KINDS = ["http", "prometheus", "job"] as const;
export type CheckKind = (typeof CHECK_KINDS)[number];

/** A Go duration of whole units: 500ms, 10s, 1m30s, 2h. */
export const DURATION_PATTERN = "^([0-9]+(ms|s|m|h))+$";
export const MIN_INTERVAL = "1s";
export const MAX_INTERVAL = "1h";

/** CEL strings are single-quoted here; the patterns contain no single quote that is not escaped below. */
const cel = (s: string) => `'${s.replaceAll("\\", "\\\\").replaceAll("'", "\\'")}'`;

// ---- on spec.gates ----

const namesOf = (p: GatePoint) => `(has(self.${p}) ? self.${p}.map(c, c.name) : [])`;
const ALL_NAMES = GATE_POINTS.map(namesOf).join(" + ");

export const GATE_NAMES_UNIQUE: CelRule = {
  rule: `(${ALL_NAMES}).all(n, (${ALL_NAMES}).exists_one(m, m == n))`,
  // Not reason FieldValueDuplicate: the API server prints that reason without the message.
  message:
    "gate check names must be unique across spec.gates.preRollout, prePromotion and postPromotion: they name the check's results in status (and its Job)",
};

// ---- on one check ----

export const EXACTLY_ONE_KIND: CelRule = {
  rule: `[${CHECK_KINDS.map((k) => `has(self.${k})`).join(", ")}].filter(x, x).size() == 1`,
  message: "a gate check must have exactly one kind: set one of http, prometheus or job",
};

export const INTERVAL_IS_DURATION: CelRule = {
  rule: `self.matches(${cel(DURATION_PATTERN)}) && duration(self) >= duration('${MIN_INTERVAL}') && duration(self) <= duration('${MAX_INTERVAL}')`,
  message: `interval must be a duration from ${MIN_INTERVAL} to ${MAX_INTERVAL} written as a number and a unit (ms, s, m, h), e.g. 10s or 1m30s`,
};

export const JOB_MEASURES_ONCE: CelRule = {
  rule: "!has(self.job) || !has(self.count) || self.count == 1",
  message:
    "a job check runs its Job once per revision: count must be 1 (use failureLimit for the Job's retries, timeoutSeconds for its deadline)",
  fieldPath: ".count",
};

// ---- on http / prometheus fields ----

export const URL_IS_HTTP: CelRule = {
  rule: "self.matches('^https?://[^ ]+$')",
  message: "the address must be an http:// or https:// URL without spaces",
};

const referencesKnown = (what: string): CelRule => ({
  rule: `self.matches(${cel(TEMPLATE_TEXT_PATTERN)})`,
  message: `${what} may use {{ only to refer to the template variables ${TEMPLATE_VARIABLES.map((v) => `{{${v}}}`).join(", ")}`,
});
export const URL_TEMPLATE_KNOWN = referencesKnown("an http check's url");
export const QUERY_TEMPLATE_KNOWN = referencesKnown("a prometheus check's query");

export const CONDITION_PARSES: CelRule = {
  rule: `self.matches(${cel(CONDITION_PATTERN)})`,
  message:
    'successCondition must be comparisons of result with a number, a quoted string, true, false or null (<, <=, >, >=, ==, !=), joined by && and ||, without parentheses: e.g. result < 0.05, or result == "ok"',
};

export const JSON_PATH_VALID: CelRule = {
  rule: `self.matches(${cel(JSON_PATH_PATTERN)})`,
  message:
    "jsonPath must be a path to one value: $ followed by .name, [index] or ['name'] steps, e.g. $.checks.db.status (no wildcards or filters)",
};

/** On http. */
export const JSON_PATH_NEEDS_CONDITION: CelRule = {
  rule: "!has(self.jsonPath) || has(self.successCondition)",
  message: "an http check's jsonPath selects the value successCondition tests: set successCondition too",
  fieldPath: ".jsonPath",
};

/** Every CEL rule of spec.gates, for the rule-coverage test. */
export const GATE_RULES: readonly CelRule[] = [
  GATE_NAMES_UNIQUE,
  EXACTLY_ONE_KIND,
  INTERVAL_IS_DURATION,
  JOB_MEASURES_ONCE,
  URL_IS_HTTP,
  URL_TEMPLATE_KNOWN,
  QUERY_TEMPLATE_KNOWN,
  CONDITION_PARSES,
  JSON_PATH_VALID,
  JSON_PATH_NEEDS_CONDITION,
];
