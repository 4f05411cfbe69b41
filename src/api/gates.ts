/**
 * spec.gates: checks at three points of a rollout, each an ordered list of named checks of one kind (http,
 * prometheus or job). The semantics of each field are in the README's "Gates" section and in
 * src/bluegreen/gates/measurement.ts; the CEL rules in gate-rules.ts; the same rules in code in `gateViolations`.
 */
import { type Static, Type } from "@sinclair/typebox";
import { parseCondition } from "./gate-condition.ts";
import { parseJsonPath } from "./gate-jsonpath.ts";
import * as G from "./gate-rules.ts";
import { validTemplate } from "./gate-template.ts";
import type { CelRule } from "./rules.ts";
import { DNS1123_LABEL } from "./rules.ts";
import { StringEnum } from "./schema-helpers.ts";

export { CHECK_KINDS, type CheckKind, GATE_POINTS, type GatePoint } from "./gate-rules.ts";

const validations = (...rules: CelRule[]) => ({ "x-kubernetes-validations": rules });
const MAX_CHECKS_PER_POINT = 10;
/** A check name is part of its Job's name and of label values. */
export const MAX_CHECK_NAME_LENGTH = 40;
export const DEFAULT_TIMEOUT_SECONDS = { http: 10, prometheus: 10, job: 600 } as const;

const HttpUrl = (description: string, ...rules: CelRule[]) =>
  Type.String({ minLength: 1, maxLength: 2048, description, ...validations(G.URL_IS_HTTP, ...rules) });

const SuccessCondition = (description: string) =>
  Type.String({ minLength: 1, maxLength: 512, description, ...validations(G.CONDITION_PARSES) });

export const HttpCheck = Type.Object(
  {
    url: HttpUrl(
      "The URL to request, templated: {{previewServiceHost}} (<service>.<namespace>.svc), {{previewServiceIP}} (its ClusterIP, where there is no cluster DNS), {{servicePort}}, {{previewRevision}}... (see the README).",
      G.URL_TEMPLATE_KNOWN,
    ),
    method: StringEnum(["GET", "HEAD", "POST"] as const, { default: "GET", description: "The HTTP method." }),
    body: Type.Optional(Type.String({ maxLength: 4096, description: "The request body (POST)." })),
    expectedStatus: Type.Optional(
      Type.Array(Type.Integer({ minimum: 100, maximum: 599 }), {
        minItems: 1,
        maxItems: 16,
        description: "Status codes that pass. Default: any 2xx.",
      }),
    ),
    jsonPath: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 256,
        description:
          "A path to one value of the JSON body ($.status, $.items[0].ready) that successCondition tests.",
        ...validations(G.JSON_PATH_VALID),
      }),
    ),
    successCondition: Type.Optional(
      SuccessCondition(
        'A condition on the body as JSON (or the value at jsonPath), e.g. result == "ok". The status code must pass too.',
      ),
    ),
    headersFrom: Type.Optional(
      Type.Object(
        {
          secretName: Type.String({
            minLength: 1,
            maxLength: 253,
            description:
              "A Secret in the BGD's namespace: each key is a header name, its value the header's value.",
          }),
        },
        { description: "Request headers kept in a Secret (tokens)." },
      ),
    ),
  },
  {
    description: "Passes when the response's status is expected and, if set, successCondition holds.",
    ...validations(G.JSON_PATH_NEEDS_CONDITION),
  },
);

export const PrometheusCheck = Type.Object(
  {
    address: HttpUrl("The Prometheus server, e.g. http://prometheus.monitoring.svc:9090."),
    query: Type.String({
      minLength: 1,
      maxLength: 4096,
      description:
        'An instant PromQL query, templated like an http check\'s url (e.g. revision="{{previewRevision}}").',
      ...validations(G.QUERY_TEMPLATE_KNOWN),
    }),
    successCondition: SuccessCondition(
      "A condition on the query's value, e.g. result < 0.05. With several series, every one must pass.",
    ),
    emptyResult: StringEnum(["Failure", "Success", "Inconclusive"] as const, {
      default: "Failure",
      description:
        "What a query that returns no series means (no traffic yet, a label typo): Failure by default, since it proves nothing.",
    }),
  },
  { description: "Passes when the query's value satisfies successCondition." },
);

export const JobCheck = Type.Object(
  {
    spec: Type.Object(
      {
        template: Type.Object(
          {
            spec: Type.Object(
              {
                containers: Type.Array(
                  Type.Object(
                    {
                      name: Type.String({ minLength: 1, maxLength: 63 }),
                      image: Type.String({ minLength: 1 }),
                    },
                    { "x-kubernetes-preserve-unknown-fields": true },
                  ),
                  { minItems: 1, maxItems: 16 },
                ),
              },
              { "x-kubernetes-preserve-unknown-fields": true, description: "The Job's PodSpec." },
            ),
          },
          { "x-kubernetes-preserve-unknown-fields": true, description: "The Job's pod template." },
        ),
      },
      {
        "x-kubernetes-preserve-unknown-fields": true,
        description:
          "A batch/v1 JobSpec. backoffLimit defaults to failureLimit, activeDeadlineSeconds to timeoutSeconds, restartPolicy to Never.",
      },
    ),
  },
  {
    description:
      "Runs a Job once per revision (named <bgd>-<check>-<revision>, owned by the BGD); passes when it completes, fails when it fails.",
  },
);

export const GateCheck = Type.Object(
  {
    name: Type.String({
      minLength: 1,
      maxLength: MAX_CHECK_NAME_LENGTH,
      pattern: DNS1123_LABEL,
      description: "Unique among all the BGD's checks; names its results in status and its Job.",
    }),
    interval: Type.String({
      default: "10s",
      maxLength: 32,
      description: "The wait between the end of one measurement and the start of the next.",
      ...validations(G.INTERVAL_IS_DURATION),
    }),
    count: Type.Integer({
      format: "int32",
      minimum: 1,
      maximum: 1000,
      default: 1,
      description:
        "How many measurements the check takes; it passes after the last if failureLimit was never exceeded.",
    }),
    failureLimit: Type.Integer({
      format: "int32",
      minimum: 0,
      maximum: 1000,
      default: 0,
      description:
        "How many failed measurements (wrong answer, error or timeout) are tolerated; one more fails the check at once.",
    }),
    initialDelaySeconds: Type.Integer({
      format: "int32",
      minimum: 0,
      maximum: 86400,
      default: 0,
      description:
        "The wait between the check's start and its first measurement (e.g. for metrics to accumulate).",
    }),
    timeoutSeconds: Type.Optional(
      Type.Integer({
        format: "int32",
        minimum: 1,
        maximum: 86400,
        description:
          "How long one measurement may take before it counts as a failure: the request or query (default 10), or the whole Job (default 600).",
      }),
    ),
    http: Type.Optional(HttpCheck),
    prometheus: Type.Optional(PrometheusCheck),
    job: Type.Optional(JobCheck),
  },
  {
    description: "One named check: exactly one of http, prometheus or job.",
    ...validations(G.EXACTLY_ONE_KIND, G.JOB_MEASURES_ONCE),
  },
);

const Point = (description: string) =>
  Type.Optional(Type.Array(GateCheck, { maxItems: MAX_CHECKS_PER_POINT, description }));

export const GatesSpec = Type.Object(
  {
    preRollout: Point(
      "Before the new template is written to the idle color (database migrations): a failure aborts the rollout before any new pod starts.",
    ),
    prePromotion: Point(
      "Once the preview is ready (smoke tests, metrics of the preview): all must pass before an approval or the automatic promotion can promote; a failure aborts, traffic never moves.",
    ),
    postPromotion: Point(
      "After the switch (verification on live traffic): a failure switches traffic back to the still-warm old color.",
    ),
  },
  {
    description:
      "Checks that decide whether a rollout proceeds. Each point's checks run in order, one after the other.",
    ...validations(G.GATE_NAMES_UNIQUE),
  },
);

export type GatesSpec = Static<typeof GatesSpec>;
export type GateCheck = Static<typeof GateCheck>;
export type HttpCheck = Static<typeof HttpCheck>;
export type PrometheusCheck = Static<typeof PrometheusCheck>;
export type JobCheck = Static<typeof JobCheck>;

/** A check's timing in milliseconds, defaults applied: what the measurement state machine runs on. */
export interface CheckTiming {
  readonly intervalMs: number;
  readonly count: number;
  readonly failureLimit: number;
  readonly initialDelayMs: number;
}

/** Milliseconds of a Go-style duration matching DURATION_PATTERN, else undefined. */
export function parseDuration(text: string): number | undefined {
  if (!new RegExp(G.DURATION_PATTERN).test(text)) return undefined;
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const;
  let ms = 0;
  for (const m of text.matchAll(/([0-9]+)(ms|s|m|h)/g)) ms += Number(m[1]) * unit[m[2] as keyof typeof unit];
  return ms;
}

export const checkKind = (c: GateCheck): G.CheckKind | undefined =>
  c.http !== undefined
    ? "http"
    : c.prometheus !== undefined
      ? "prometheus"
      : c.job !== undefined
        ? "job"
        : undefined;

/** The check's timing in milliseconds, defaults applied (an interval that does not parse is the default). */
export function checkTiming(c: GateCheck): CheckTiming & { readonly timeoutMs: number } {
  const kind = checkKind(c) ?? "http";
  return {
    intervalMs: parseDuration(c.interval) ?? 10_000,
    count: c.count,
    failureLimit: c.failureLimit,
    initialDelayMs: c.initialDelaySeconds * 1000,
    timeoutMs: (c.timeoutSeconds ?? DEFAULT_TIMEOUT_SECONDS[kind]) * 1000,
  };
}

/** The CEL rules of gate-rules.ts that these gates break, checked in code (objects stored before a rule existed). */
export function gateViolations(gates: GatesSpec | undefined): CelRule[] {
  if (gates === undefined) return [];
  const broken = new Set<CelRule>();
  const check = (ok: boolean, rule: CelRule) => {
    if (!ok) broken.add(rule);
  };
  const all = G.GATE_POINTS.flatMap((p) => gates[p] ?? []);
  const names = all.map((c) => c.name);
  check(new Set(names).size === names.length, G.GATE_NAMES_UNIQUE);
  const minMs = parseDuration(G.MIN_INTERVAL) ?? 0;
  const maxMs = parseDuration(G.MAX_INTERVAL) ?? 0;
  for (const c of all) {
    check([c.http, c.prometheus, c.job].filter((k) => k !== undefined).length === 1, G.EXACTLY_ONE_KIND);
    const interval = parseDuration(c.interval);
    check(interval !== undefined && interval >= minMs && interval <= maxMs, G.INTERVAL_IS_DURATION);
    check(c.job === undefined || c.count === 1, G.JOB_MEASURES_ONCE);
    const isHttp = (u: string) => /^https?:\/\/[^ ]+$/.test(u);
    const conditionOk = (s: string | undefined) => s === undefined || parseCondition(s).ok;
    if (c.http !== undefined) {
      check(isHttp(c.http.url), G.URL_IS_HTTP);
      check(validTemplate(c.http.url), G.URL_TEMPLATE_KNOWN);
      check(conditionOk(c.http.successCondition), G.CONDITION_PARSES);
      check(c.http.jsonPath === undefined || parseJsonPath(c.http.jsonPath) !== undefined, G.JSON_PATH_VALID);
      check(
        c.http.jsonPath === undefined || c.http.successCondition !== undefined,
        G.JSON_PATH_NEEDS_CONDITION,
      );
    }
    if (c.prometheus !== undefined) {
      check(isHttp(c.prometheus.address), G.URL_IS_HTTP);
      check(validTemplate(c.prometheus.query), G.QUERY_TEMPLATE_KNOWN);
      check(conditionOk(c.prometheus.successCondition), G.CONDITION_PARSES);
    }
  }
  return [...broken];
}
