/**
 * Gate specs that admission must refuse, each with the rule that refuses it: shared by the in-code rule test
 * (test/unit/api-rules.test.ts) and the API server's (test/e2e/admission.test.ts).
 */
import * as G from "../../../src/api/gate-rules.ts";
import type { CelRule } from "../../../src/api/rules.ts";

type Obj = Record<string, unknown>;

const http = (name: string, extra: Obj = {}): Obj => ({
  name,
  http: { url: "http://{{previewServiceIP}}:{{servicePort}}/healthz", ...extra },
});
const prometheus = (name: string, extra: Obj = {}): Obj => ({
  name,
  prometheus: {
    address: "http://prometheus.monitoring.svc:9090",
    query: 'sum(rate(errors{revision="{{previewRevision}}"}[1m]))',
    successCondition: "result < 0.05",
    ...extra,
  },
});
const job = (name: string, extra: Obj = {}): Obj => ({
  name,
  job: { spec: { template: { spec: { containers: [{ name: "migrate", image: "migrate:v1" }] } } } },
  ...extra,
});

/** A spec.gates patch (merged into a valid BGD's spec) per mistake. */
export const badGates: [string, Obj, CelRule][] = [
  [
    "two checks with the same name at one point",
    { prePromotion: [http("smoke"), http("smoke")] },
    G.GATE_NAMES_UNIQUE,
  ],
  [
    "the same check name at two points",
    { prePromotion: [http("verify")], postPromotion: [prometheus("verify")] },
    G.GATE_NAMES_UNIQUE,
  ],
  ["a check with no kind", { prePromotion: [{ name: "smoke" }] }, G.EXACTLY_ONE_KIND],
  [
    "a check with two kinds",
    { prePromotion: [{ ...http("smoke"), ...prometheus("smoke") }] },
    G.EXACTLY_ONE_KIND,
  ],
  [
    "an interval that is not a duration",
    { prePromotion: [{ ...http("smoke"), interval: "10 parsecs" }] },
    G.INTERVAL_IS_DURATION,
  ],
  [
    "an interval below one second",
    { prePromotion: [{ ...http("smoke"), interval: "500ms" }] },
    G.INTERVAL_IS_DURATION,
  ],
  [
    "an interval above one hour",
    { prePromotion: [{ ...http("smoke"), interval: "61m" }] },
    G.INTERVAL_IS_DURATION,
  ],
  ["a job check with count 2", { preRollout: [job("migrate", { count: 2 })] }, G.JOB_MEASURES_ONCE],
  [
    "an http check to a non-http URL",
    { prePromotion: [{ name: "smoke", http: { url: "ftp://x/y" } }] },
    G.URL_IS_HTTP,
  ],
  [
    "an http check with an unknown template variable",
    { prePromotion: [{ name: "smoke", http: { url: "http://{{previewIP}}/" } }] },
    G.URL_TEMPLATE_KNOWN,
  ],
  [
    "a query with an unknown template variable",
    { prePromotion: [prometheus("errors", { query: 'up{rev="{{revision}}"}' })] },
    G.QUERY_TEMPLATE_KNOWN,
  ],
  [
    "a success condition that does not parse",
    { prePromotion: [prometheus("errors", { successCondition: "result < 0.05 and result > 0" })] },
    G.CONDITION_PARSES,
  ],
  [
    "an http success condition that does not parse",
    { prePromotion: [http("smoke", { jsonPath: "$.status", successCondition: "result = 'ok'" })] },
    G.CONDITION_PARSES,
  ],
  [
    "a JSON path with a wildcard",
    { prePromotion: [http("smoke", { jsonPath: "$.items[*]", successCondition: "result == 1" })] },
    G.JSON_PATH_VALID,
  ],
  [
    "a JSON path without a success condition",
    { prePromotion: [http("smoke", { jsonPath: "$.status" })] },
    G.JSON_PATH_NEEDS_CONDITION,
  ],
];

/** Gate specs that must be accepted: one per kind and the README's examples' shapes. */
export const goodGates: [string, Obj][] = [
  ["an http smoke test", { prePromotion: [http("smoke", { expectedStatus: [200, 204] })] }],
  [
    "an http check with a JSON condition and headers from a Secret",
    {
      prePromotion: [
        http("health", {
          jsonPath: "$.checks['db'].status",
          successCondition: 'result == "ok"',
          headersFrom: { secretName: "smoke-token" },
        }),
      ],
    },
  ],
  [
    "an error-rate gate before promotion and after",
    {
      prePromotion: [{ ...prometheus("error-rate"), interval: "5s", count: 3, failureLimit: 1 }],
      postPromotion: [
        { ...prometheus("live-error-rate", { emptyResult: "Inconclusive" }), interval: "1m30s" },
      ],
    },
  ],
  ["a migration Job", { preRollout: [job("migrate", { timeoutSeconds: 300, failureLimit: 2 })] }],
];
