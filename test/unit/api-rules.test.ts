/**
 * The CEL rules, evaluated in code (validation.ts) over the same mistakes test/e2e/admission.test.ts makes
 * the API server refuse: both must refuse them with the rule's message.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { customResourceDefinition } from "../../src/api/crd.ts";
import { parseBlueGreenDeployment } from "../../src/api/defaults.ts";
import * as R from "../../src/api/rules.ts";
import * as T from "../../src/api/traffic.ts";
import { badGates, goodGates } from "./support/gate-cases.ts";
import { BAD_IMAGES, GOOD_IMAGES } from "./support/images.ts";

type Obj = Record<string, unknown>;
/** The design brief's two examples as objects, under a test name. */
const shorthand = (): Obj => ({
  apiVersion: "bluegreen.io/v1",
  kind: "BlueGreenDeployment",
  metadata: { name: "web" },
  spec: { replicas: 3, image: "web:v1" },
});
const full = (): Obj => ({
  apiVersion: "bluegreen.io/v1",
  kind: "BlueGreenDeployment",
  metadata: { name: "web" },
  spec: {
    replicas: 3,
    selector: { matchLabels: { app: "web" } },
    template: {
      metadata: { labels: { app: "web" } },
      spec: { containers: [{ name: "web", image: "web:v1", ports: [{ containerPort: 8080 }] }] },
    },
  },
});
/** RFC 7386 JSON merge patch: objects merge, null deletes, anything else replaces. */
function merged(target: unknown, patch: unknown): unknown {
  if (patch === null || typeof patch !== "object" || Array.isArray(patch)) return structuredClone(patch);
  const out: Obj =
    target !== null && typeof target === "object" && !Array.isArray(target) ? { ...(target as Obj) } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = merged(out[k], v);
  }
  return out;
}
const patched = (base: Obj, patch: Obj): Obj => merged(base, patch) as Obj;
const withLabels = (labels: Obj): Obj => ({ spec: { template: { metadata: { labels } } } });
const containers = (...cs: Obj[]): Obj => ({ spec: { template: { spec: { containers: cs } } } });

const ROUTE = { trafficRouting: { httpRoute: { name: "web" } } };

/** [what is wrong, the object, the rule that must refuse it] */
const cases: [string, Obj, R.CelRule][] = [
  ["both template and image", patched(full(), { spec: { image: "web:v2" } }), R.NOT_TEMPLATE_AND_IMAGE],
  ["neither template nor image", patched(shorthand(), { spec: { image: null } }), R.TEMPLATE_OR_IMAGE],
  ["port with a full template", patched(full(), { spec: { port: 9090 } }), R.PORT_ONLY_WITH_IMAGE],
  [
    "a selector the template labels do not match",
    patched(full(), { spec: { selector: { matchLabels: { app: "other" } } } }),
    R.SELECTOR_MATCHES_TEMPLATE,
  ],
  [
    "a template without labels and no selector",
    patched(full(), { spec: { selector: null, template: { metadata: null } } }),
    R.TEMPLATE_HAS_LABELS,
  ],
  [
    "a reserved label in the template",
    patched(full(), withLabels({ "bluegreen.io/color": "blue" })),
    R.NO_RESERVED_LABELS,
  ],
  [
    "a reserved label in the selector",
    patched(patched(full(), withLabels({ "bluegreen.io/name": "web" })), {
      spec: { selector: { matchLabels: { "bluegreen.io/name": "web" } } },
    }),
    R.NO_RESERVED_LABELS,
  ],
  [
    "a reserved label in the active pod metadata",
    patched(shorthand(), {
      spec: { strategy: { activeMetadata: { labels: { "bluegreen.io/color": "x" } } } },
    }),
    R.NO_RESERVED_LABELS,
  ],
  ["an invalid label key", patched(full(), withLabels({ "-tier": "front" })), R.LABEL_KEYS_VALID],
  ["an invalid label value", patched(full(), withLabels({ tier: "front end" })), R.LABEL_VALUES_VALID],
  [
    "a name longer than 55 characters",
    patched(shorthand(), { metadata: { name: "a".repeat(56) } }),
    R.NAME_IS_SHORT,
  ],
  ["a name with a dot", patched(shorthand(), { metadata: { name: "web.v1" } }), R.NAME_IS_DNS1035],
  ["a name starting with a digit", patched(shorthand(), { metadata: { name: "1web" } }), R.NAME_IS_DNS1035],
  [
    "the same name for the active and preview Services",
    patched(shorthand(), { spec: { service: { name: "web-svc" }, preview: { serviceName: "web-svc" } } }),
    R.SERVICE_NAMES_DIFFER,
  ],
  [
    "an active Service named like the default preview Service",
    patched(shorthand(), { spec: { service: { name: "web-preview" } } }),
    R.SERVICE_NAMES_DIFFER,
  ],
  [
    "a preview Service named like the default active Service",
    patched(shorthand(), { spec: { preview: { serviceName: "web" } } }),
    R.SERVICE_NAMES_DIFFER,
  ],
  [
    "an invalid Service name",
    patched(shorthand(), { spec: { service: { name: "Web_Svc" } } }),
    R.SERVICE_NAME_IS_DNS1035,
  ],
  [
    "an invalid preview Service name",
    patched(shorthand(), { spec: { preview: { serviceName: "web.preview" } } }),
    R.PREVIEW_SERVICE_NAME_IS_DNS1035,
  ],
  [
    "two containers with the same name",
    patched(full(), containers({ name: "web", image: "web:v1" }, { name: "web", image: "sidecar:v1" })),
    R.CONTAINER_NAMES_UNIQUE,
  ],
  [
    "an invalid container name",
    patched(full(), containers({ name: "Web_1", image: "web:v1" })),
    R.CONTAINER_NAME_IS_DNS1123,
  ],
  ...BAD_IMAGES.map((image): [string, Obj, R.CelRule] => [
    `the shorthand image ${JSON.stringify(image)}`,
    patched(shorthand(), { spec: { image } }),
    R.SHORTHAND_IMAGE_IS_REFERENCE,
  ]),
  ...BAD_IMAGES.map((image): [string, Obj, R.CelRule] => [
    `the container image ${JSON.stringify(image)}`,
    patched(full(), containers({ name: "web", image })),
    R.CONTAINER_IMAGE_IS_REFERENCE,
  ]),
  [
    "a promotion delay with manual promotion",
    patched(shorthand(), { spec: { strategy: { promotion: { delaySeconds: 60 } } } }),
    R.DELAY_NEEDS_AUTO,
  ],
  ["a target port of 0", patched(full(), { spec: { service: { targetPort: 0 } } }), R.TARGET_PORT_VALID],
  [
    "a target port above 65535",
    patched(full(), { spec: { service: { targetPort: 70000 } } }),
    R.TARGET_PORT_VALID,
  ],
  [
    "a target port name of digits",
    patched(full(), { spec: { service: { targetPort: "8080" } } }),
    R.TARGET_PORT_VALID,
  ],
  [
    "a target port name with capitals",
    patched(full(), { spec: { service: { targetPort: "HTTP" } } }),
    R.TARGET_PORT_VALID,
  ],
  [
    "an additional port named http (the main port's name)",
    patched(full(), { spec: { service: { additionalPorts: [{ name: "http", port: 9090 }] } } }),
    R.ADDITIONAL_PORTS_DISTINCT,
  ],
  [
    "an additional port on the main port's number",
    patched(full(), { spec: { service: { additionalPorts: [{ name: "metrics", port: 80 }] } } }),
    R.ADDITIONAL_PORTS_DISTINCT,
  ],
  [
    "two additional ports on one number and protocol",
    patched(full(), {
      spec: {
        service: {
          additionalPorts: [
            { name: "metrics", port: 9090 },
            { name: "admin", port: 9090 },
          ],
        },
      },
    }),
    R.ADDITIONAL_PORTS_DISTINCT,
  ],
  [
    "an additional port name with capitals",
    patched(full(), { spec: { service: { additionalPorts: [{ name: "Metrics", port: 9090 }] } } }),
    R.SERVICE_PORT_NAME_IS_DNS1123,
  ],
  [
    "an additional port's target port of 0",
    patched(full(), {
      spec: { service: { additionalPorts: [{ name: "metrics", port: 9090, targetPort: 0 }] } },
    }),
    R.ADDITIONAL_TARGET_PORT_VALID,
  ],
  [
    "an additional port's target port name of digits (in code only: see the rule)",
    patched(full(), {
      spec: { service: { additionalPorts: [{ name: "metrics", port: 9090, targetPort: "9090" }] } },
    }),
    R.ADDITIONAL_TARGET_PORT_NAME,
  ],
  [
    "a named additional target port with the shorthand",
    patched(shorthand(), {
      spec: { service: { additionalPorts: [{ name: "metrics", port: 9090, targetPort: "metrics" }] } },
    }),
    R.SHORTHAND_ADDITIONAL_TARGET_PORTS_ARE_NUMBERS,
  ],
  [
    "a named target port with the shorthand",
    patched(shorthand(), { spec: { service: { targetPort: "http" } } }),
    R.SHORTHAND_TARGET_PORT_IS_NUMBER,
  ],
  [
    "a shorthand selector other than app: <name>",
    patched(shorthand(), { spec: { selector: { matchLabels: { app: "other" } } } }),
    R.SHORTHAND_SELECTOR,
  ],
  [
    "active pod labels that override the selector",
    patched(full(), { spec: { strategy: { activeMetadata: { labels: { app: "web-live" } } } } }),
    R.ACTIVE_METADATA_KEEPS_SELECTOR,
  ],
  [
    "preview pod labels that override the shorthand's app label",
    patched(shorthand(), { spec: { strategy: { previewMetadata: { labels: { app: "web-preview" } } } } }),
    R.PREVIEW_METADATA_KEEPS_SELECTOR,
  ],
  [
    "canary steps without a route",
    patched(shorthand(), { spec: { strategy: { canary: { steps: [{ setWeight: 10 }] } } } }),
    T.CANARY_NEEDS_ROUTE,
  ],
  [
    "a canary step with both a weight and a pause",
    patched(shorthand(), {
      spec: { ...ROUTE, strategy: { canary: { steps: [{ setWeight: 10, pause: {} }] } } },
    }),
    T.STEP_HAS_ONE_KIND,
  ],
  [
    "a canary step with neither",
    patched(shorthand(), { spec: { ...ROUTE, strategy: { canary: { steps: [{}] } } } }),
    T.STEP_HAS_ONE_KIND,
  ],
  [
    "a route in another namespace",
    patched(shorthand(), { spec: { trafficRouting: { httpRoute: { name: "web", namespace: "edge" } } } }),
    T.ROUTE_IN_OWN_NAMESPACE,
  ],
  [
    "an invalid route name",
    patched(shorthand(), { spec: { trafficRouting: { httpRoute: { name: "Web_Route" } } } }),
    T.ROUTE_NAME_IS_DNS1123,
  ],
  [
    "a route with the preview Service disabled",
    patched(shorthand(), { spec: { ...ROUTE, preview: { enabled: false } } }),
    T.ROUTE_NEEDS_PREVIEW,
  ],
  ...badGates.map(([what, gates, rule]): [string, Obj, R.CelRule] => [
    `gates with ${what}`,
    patched(shorthand(), { spec: { gates } }),
    rule,
  ]),
];

describe("the rules refuse, in code, with the rule's message", () => {
  for (const [what, obj, rule] of cases) {
    it(`refuses ${what}`, () => {
      const r = parseBlueGreenDeployment(obj);
      assert.equal(r.ok, false);
      if (!r.ok) assert.ok(r.message.includes(rule.message), r.message);
    });
  }
});

describe("the rules accept what is right", () => {
  const accepted: [string, Obj][] = [
    ["the shorthand example", shorthand()],
    ["the full-template example", full()],
    ["a 55-character name", patched(shorthand(), { metadata: { name: `a${"b".repeat(54)}` } })],
    [
      "the shorthand with selector app: <name>",
      patched(shorthand(), { spec: { selector: { matchLabels: { app: "web" } } } }),
    ],
    [
      "the same Service names with the preview disabled",
      patched(shorthand(), { spec: { preview: { enabled: false, serviceName: "web" } } }),
    ],
    ["a named target port with a template", patched(full(), { spec: { service: { targetPort: "http" } } })],
    [
      "additional ports (metrics by name, a UDP one on the same number as a TCP one)",
      patched(full(), {
        spec: {
          service: {
            targetPort: "http",
            additionalPorts: [
              { name: "metrics", port: 9090, targetPort: "metrics" },
              { name: "dns-tcp", port: 5353 },
              { name: "dns", port: 5353, protocol: "UDP" },
            ],
          },
        },
      }),
    ],
    [
      "numbered additional target ports with the shorthand",
      patched(shorthand(), {
        spec: { service: { additionalPorts: [{ name: "metrics", port: 9090, targetPort: 9091 }] } },
      }),
    ],
    [
      "a promotion delay with automatic promotion",
      patched(shorthand(), { spec: { strategy: { promotion: { mode: "Auto", delaySeconds: 60 } } } }),
    ],
    [
      "active pod labels beside the selector's",
      patched(full(), {
        spec: { strategy: { activeMetadata: { labels: { role: "live", "example.com/x": "" } } } },
      }),
    ],
    [
      "canary steps through a route",
      patched(shorthand(), {
        spec: {
          ...ROUTE,
          strategy: {
            canary: {
              steps: [{ setWeight: 0 }, { pause: {} }, { setWeight: 100 }, { pause: { durationSeconds: 0 } }],
            },
          },
        },
      }),
    ],
    ...GOOD_IMAGES.map((image): [string, Obj] => [
      `the container image ${image}`,
      patched(full(), containers({ name: "web", image }, { name: "side", image: "web" })),
    ]),
    ...GOOD_IMAGES.map((image): [string, Obj] => [
      `the shorthand image ${image}`,
      patched(shorthand(), { spec: { image } }),
    ]),
    ...goodGates.map(([what, gates]): [string, Obj] => [
      `gates with ${what}`,
      patched(shorthand(), { spec: { gates } }),
    ]),
  ];
  for (const [what, obj] of accepted) {
    it(`accepts ${what}`, () => {
      const r = parseBlueGreenDeployment(obj);
      assert.ok(r.ok, r.ok ? "" : r.message);
    });
  }
});

describe("weights outside 0-100", () => {
  for (const w of [-1, 101]) {
    it(`refuses setWeight ${w} (the schema's minimum and maximum)`, () => {
      const r = parseBlueGreenDeployment(
        patched(shorthand(), { spec: { ...ROUTE, strategy: { canary: { steps: [{ setWeight: w }] } } } }),
      );
      assert.equal(r.ok, false);
      if (!r.ok) assert.match(r.message, /setWeight/);
    });
  }
});

describe("the rule list", () => {
  it("has a case for every CEL rule of the CRD (the update-only selector rule is tested in e2e)", () => {
    const messages = new Set<string>();
    const visit = (node: unknown): void => {
      if (node === null || typeof node !== "object") return;
      for (const [k, v] of Object.entries(node)) {
        if (k === "x-kubernetes-validations") for (const r of v as R.CelRule[]) messages.add(r.message);
        else visit(v);
      }
    };
    visit(customResourceDefinition());
    const covered = new Set([...cases.map(([, , r]) => r.message), R.SELECTOR_IMMUTABLE.message]);
    assert.deepEqual(
      [...messages].filter((m) => !covered.has(m)),
      [],
    );
  });
});
