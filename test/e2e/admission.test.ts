/**
 * The API as a user meets it, on the real API server with the real kubectl: the examples are accepted and
 * defaulted, every mistake the CRD knows about is refused with its message, and kubectl's discovery features
 * (explain, printer columns, categories, scale) work.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import * as R from "../../src/api/rules.ts";
import * as T from "../../src/api/traffic.ts";
import { badGates, goodGates } from "../unit/support/gate-cases.ts";
import { BAD_IMAGES, GOOD_IMAGES } from "../unit/support/images.ts";
import { deleteNamespace, KubectlError, kubectl, kubectlJson, newNamespace } from "./lib.ts";

type Obj = Record<string, unknown>;
const repo = join(import.meta.dirname, "../..");

const shorthand = (name = "web"): Obj => ({
  apiVersion: "bluegreen.io/v1",
  kind: "BlueGreenDeployment",
  metadata: { name },
  spec: { replicas: 3, image: "web:v1" },
});
const full = (name = "web"): Obj => ({
  apiVersion: "bluegreen.io/v1",
  kind: "BlueGreenDeployment",
  metadata: { name },
  spec: {
    replicas: 3,
    selector: { matchLabels: { app: name } },
    template: {
      metadata: { labels: { app: name } },
      spec: { containers: [{ name, image: "web:v1", ports: [{ containerPort: 8080 }] }] },
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

/** [what is wrong, the object, what the API server must say] */
const refusals: [string, Obj, string][] = [
  // CEL rules
  // Traffic routing (src/api/traffic.ts); gateway-route.test.ts shows the same refusals in context.
  [
    "an HTTPRoute name that is not a DNS-1123 subdomain",
    patched(shorthand(), { spec: { trafficRouting: { httpRoute: { name: "Shop_Route" } } } }),
    T.ROUTE_NAME_IS_DNS1123.message,
  ],
  [
    "an HTTPRoute in another namespace",
    patched(shorthand(), { spec: { trafficRouting: { httpRoute: { name: "shop", namespace: "edge" } } } }),
    T.ROUTE_IN_OWN_NAMESPACE.message,
  ],
  [
    "a canary step that is both a weight and a pause",
    patched(shorthand(), {
      spec: {
        trafficRouting: { httpRoute: { name: "shop" } },
        strategy: { canary: { steps: [{ setWeight: 10, pause: {} }] } },
      },
    }),
    T.STEP_HAS_ONE_KIND.message,
  ],
  [
    "canary steps without a route",
    patched(shorthand(), { spec: { strategy: { canary: { steps: [{ setWeight: 10 }] } } } }),
    T.CANARY_NEEDS_ROUTE.message,
  ],
  [
    "an HTTPRoute without the preview Service",
    patched(shorthand(), {
      spec: { trafficRouting: { httpRoute: { name: "shop" } }, preview: { enabled: false } },
    }),
    T.ROUTE_NEEDS_PREVIEW.message,
  ],
  [
    "both template and image",
    patched(full(), { spec: { image: "web:v2" } }),
    R.NOT_TEMPLATE_AND_IMAGE.message,
  ],
  [
    "neither template nor image",
    patched(shorthand(), { spec: { image: null } }),
    R.TEMPLATE_OR_IMAGE.message,
  ],
  ["port with a full template", patched(full(), { spec: { port: 9090 } }), R.PORT_ONLY_WITH_IMAGE.message],
  [
    "a selector the template labels do not match",
    patched(full(), { spec: { selector: { matchLabels: { app: "other" } } } }),
    R.SELECTOR_MATCHES_TEMPLATE.message,
  ],
  [
    "a template without labels and no selector",
    patched(full(), { spec: { selector: null, template: { metadata: null } } }),
    R.TEMPLATE_HAS_LABELS.message,
  ],
  [
    "a reserved label in the template",
    patched(full(), withLabels({ "bluegreen.io/color": "blue" })),
    R.NO_RESERVED_LABELS.message,
  ],
  [
    "a reserved label in the selector",
    patched(patched(full(), withLabels({ "bluegreen.io/name": "web" })), {
      spec: { selector: { matchLabels: { "bluegreen.io/name": "web" } } },
    }),
    R.NO_RESERVED_LABELS.message,
  ],
  [
    "a reserved label in the preview pod metadata",
    patched(shorthand(), {
      spec: { strategy: { previewMetadata: { labels: { "bluegreen.io/color": "x" } } } },
    }),
    R.NO_RESERVED_LABELS.message,
  ],
  ["an invalid label key", patched(full(), withLabels({ "-tier": "front" })), R.LABEL_KEYS_VALID.message],
  [
    "an invalid label value",
    patched(full(), withLabels({ tier: "front end" })),
    R.LABEL_VALUES_VALID.message,
  ],
  ["a name longer than 55 characters", shorthand(`a${"b".repeat(55)}`), R.NAME_IS_SHORT.message],
  ["a name with a dot", shorthand("web.v1"), R.NAME_IS_DNS1035.message],
  ["a name starting with a digit", shorthand("1web"), R.NAME_IS_DNS1035.message],
  [
    "the same name for the active and preview Services",
    patched(shorthand(), { spec: { service: { name: "web-svc" }, preview: { serviceName: "web-svc" } } }),
    R.SERVICE_NAMES_DIFFER.message,
  ],
  [
    "an active Service named like the default preview Service",
    patched(shorthand(), { spec: { service: { name: "web-preview" } } }),
    R.SERVICE_NAMES_DIFFER.message,
  ],
  [
    "an invalid Service name",
    patched(shorthand(), { spec: { service: { name: "web_svc" } } }),
    R.SERVICE_NAME_IS_DNS1035.message,
  ],
  [
    "an invalid preview Service name",
    patched(shorthand(), { spec: { preview: { serviceName: "web.preview" } } }),
    R.PREVIEW_SERVICE_NAME_IS_DNS1035.message,
  ],
  [
    "two containers with the same name",
    patched(full(), containers({ name: "web", image: "web:v1" }, { name: "web", image: "sidecar:v1" })),
    R.CONTAINER_NAMES_UNIQUE.message,
  ],
  [
    "an invalid container name",
    patched(full(), containers({ name: "web_1", image: "web:v1" })),
    R.CONTAINER_NAME_IS_DNS1123.message,
  ],
  [
    "a promotion delay with manual promotion",
    patched(shorthand(), { spec: { strategy: { promotion: { delaySeconds: 60 } } } }),
    R.DELAY_NEEDS_AUTO.message,
  ],
  [
    "a target port of 0",
    patched(full(), { spec: { service: { targetPort: 0 } } }),
    R.TARGET_PORT_VALID.message,
  ],
  [
    "a target port name of digits",
    patched(full(), { spec: { service: { targetPort: "8080" } } }),
    R.TARGET_PORT_VALID.message,
  ],
  [
    "a named target port with the shorthand",
    patched(shorthand(), { spec: { service: { targetPort: "http" } } }),
    R.SHORTHAND_TARGET_PORT_IS_NUMBER.message,
  ],
  [
    "an additional port named http",
    patched(full(), { spec: { service: { additionalPorts: [{ name: "http", port: 9090 }] } } }),
    R.ADDITIONAL_PORTS_DISTINCT.message,
  ],
  [
    "an additional port on the main port's number",
    patched(full(), { spec: { service: { additionalPorts: [{ name: "metrics", port: 80 }] } } }),
    R.ADDITIONAL_PORTS_DISTINCT.message,
  ],
  [
    "an additional port name with capitals",
    patched(full(), { spec: { service: { additionalPorts: [{ name: "Metrics", port: 9090 }] } } }),
    R.SERVICE_PORT_NAME_IS_DNS1123.message,
  ],
  [
    "an additional port's target port of 0",
    patched(full(), {
      spec: { service: { additionalPorts: [{ name: "metrics", port: 9090, targetPort: 0 }] } },
    }),
    R.ADDITIONAL_TARGET_PORT_VALID.message,
  ],
  [
    "a named additional target port with the shorthand",
    patched(shorthand(), {
      spec: { service: { additionalPorts: [{ name: "metrics", port: 9090, targetPort: "metrics" }] } },
    }),
    R.SHORTHAND_ADDITIONAL_TARGET_PORTS_ARE_NUMBERS.message,
  ],
  [
    "a shorthand selector other than app: <name>",
    patched(shorthand(), { spec: { selector: { matchLabels: { app: "other" } } } }),
    R.SHORTHAND_SELECTOR.message,
  ],
  [
    "active pod labels that override the selector",
    patched(full(), { spec: { strategy: { activeMetadata: { labels: { app: "web-live" } } } } }),
    R.ACTIVE_METADATA_KEEPS_SELECTOR.message,
  ],
  [
    "preview pod labels that override the shorthand's app label",
    patched(shorthand(), { spec: { strategy: { previewMetadata: { labels: { app: "x" } } } } }),
    R.PREVIEW_METADATA_KEEPS_SELECTOR.message,
  ],
  // OpenAPI constraints: the API server's own words
  [
    "negative replicas",
    patched(shorthand(), { spec: { replicas: -1 } }),
    "should be greater than or equal to 0",
  ],
  [
    "absurd replicas",
    patched(shorthand(), { spec: { replicas: 1000000 } }),
    "should be less than or equal to 10000",
  ],
  [
    "a negative scale-down delay",
    patched(shorthand(), { spec: { strategy: { scaleDownDelaySeconds: -1 } } }),
    "spec.strategy.scaleDownDelaySeconds in body should be greater than or equal to 0",
  ],
  [
    "a progress deadline of 0",
    patched(shorthand(), { spec: { strategy: { progressDeadlineSeconds: 0 } } }),
    "spec.strategy.progressDeadlineSeconds in body should be greater than or equal to 1",
  ],
  [
    "a delay over a week",
    patched(shorthand(), { spec: { strategy: { promotion: { mode: "Auto", delaySeconds: 604801 } } } }),
    "should be less than or equal to 604800",
  ],
  [
    "an unknown Service type",
    patched(shorthand(), { spec: { service: { type: "Ingress" } } }),
    'Unsupported value: "Ingress": supported values: "ClusterIP", "NodePort", "LoadBalancer"',
  ],
  [
    "an unknown promotion mode",
    patched(shorthand(), { spec: { strategy: { promotion: { mode: "Automatic" } } } }),
    'Unsupported value: "Automatic": supported values: "Manual", "Auto"',
  ],
  [
    "a Service port of 0",
    patched(shorthand(), { spec: { service: { port: 0 } } }),
    "should be greater than or equal to 1",
  ],
  [
    "an empty image",
    patched(shorthand(), { spec: { image: "" } }),
    "spec.image in body should be at least 1 chars long",
  ],
  ["no containers", patched(full(), containers()), "should have at least 1 items"],
  [
    "a container without an image",
    patched(full(), containers({ name: "web" })),
    "spec.template.spec.containers[0].image: Required value",
  ],
  [
    "a pod that does not restart (Deployments refuse it)",
    patched(full(), { spec: { template: { spec: { restartPolicy: "Never" } } } }),
    'Unsupported value: "Never": supported values: "Always"',
  ],
  [
    "an empty selector",
    patched(patched(full(), { spec: { selector: null } }), { spec: { selector: { matchLabels: {} } } }),
    "should have at least 1 properties",
  ],
  ...BAD_IMAGES.map((image): [string, Obj, string] => [
    `the shorthand image ${JSON.stringify(image)}`,
    patched(shorthand(), { spec: { image } }),
    R.SHORTHAND_IMAGE_IS_REFERENCE.message,
  ]),
  [
    "a container image with capitals",
    patched(full(), containers({ name: "web", image: "Web:v1" })),
    R.CONTAINER_IMAGE_IS_REFERENCE.message,
  ],
  [
    "a sidecar image given as a URL",
    patched(
      full(),
      containers({ name: "web", image: "web:v1" }, { name: "side", image: "https://r.example/s:1" }),
    ),
    R.CONTAINER_IMAGE_IS_REFERENCE.message,
  ],
  [
    "a misspelt field (kubectl validates strictly)",
    patched(shorthand(), { spec: { replica: 3 } }),
    'unknown field "spec.replica"',
  ],
  ...badGates.map(([what, gates, rule]): [string, Obj, string] => [
    `gates with ${what}`,
    patched(shorthand(), { spec: { gates } }),
    rule.message,
  ]),
];

async function refusal(ns: string, obj: Obj): Promise<string> {
  try {
    await kubectl(["create", "--dry-run=server", "-n", ns, "-f", "-"], JSON.stringify(obj));
  } catch (err) {
    if (err instanceof KubectlError) return err.stderr;
    throw err;
  }
  return assert.fail("the API server accepted it");
}

interface Bgd {
  metadata: { name: string };
  spec: Obj & { replicas: number };
}

describe("admission of BlueGreenDeployments", () => {
  let ns = "";
  before(async () => {
    ns = await newNamespace("admission");
  });
  after(async () => {
    await deleteNamespace(ns);
  });

  it("accepts both examples of the design brief and fills in the defaults", async () => {
    const files = readdirSync(join(repo, "examples")).filter((f) => f.endsWith(".yaml"));
    assert.deepEqual(files.sort(), ["my-awesome-app.yaml", "my-cool-app.yaml"]);
    await kubectl(["apply", "-n", ns, "-f", join(repo, "examples")]);
    const defaults = {
      service: { port: 80, type: "ClusterIP", sessionAffinity: "None" },
      preview: { enabled: true },
      strategy: {
        promotion: { mode: "Manual", delaySeconds: 0 },
        scaleDownDelaySeconds: 30,
        abortScaleDownDelaySeconds: 30,
        progressDeadlineSeconds: 600,
        abortOnProgressDeadline: true,
        antiAffinity: "None",
      },
      paused: false,
      revisionHistoryLimit: 10,
    };
    const cool = await kubectlJson<Bgd>(["get", "bgd", "my-cool-app", "-n", ns]);
    assert.deepEqual(cool.spec, { replicas: 3, image: "mycoolapp:v1", ...defaults });
    const awesome = await kubectlJson<Bgd>(["get", "bluegreendeployment", "my-awesome-app", "-n", ns]);
    assert.deepEqual(awesome.spec, {
      replicas: 3,
      selector: { matchLabels: { app: "my-awesome-app" } },
      template: {
        metadata: { labels: { app: "my-awesome-app" } },
        spec: {
          containers: [
            {
              name: "my-awesome-app",
              image: "myregistry.com/my-awesome-app:v1",
              ports: [{ containerPort: 8080 }],
            },
          ],
        },
      },
      ...defaults,
    });
  });

  for (const [what, obj, message] of refusals) {
    it(`refuses ${what}`, async () => {
      const stderr = await refusal(ns, obj);
      assert.ok(stderr.includes(message), `expected ${JSON.stringify(message)} in:\n${stderr}`);
    });
  }

  it("accepts every form of image reference", async () => {
    for (const image of GOOD_IMAGES) {
      await kubectl(
        ["create", "--dry-run=server", "-n", ns, "-f", "-"],
        JSON.stringify(patched(full(), containers({ name: "web", image }, { name: "side", image: "web" }))),
      );
      await kubectl(
        ["create", "--dry-run=server", "-n", ns, "-f", "-"],
        JSON.stringify(patched(shorthand(), { spec: { image } })),
      );
    }
  });

  for (const [what, gates] of goodGates) {
    it(`accepts gates with ${what}`, async () => {
      await kubectl(
        ["create", "--dry-run=server", "-n", ns, "-f", "-"],
        JSON.stringify(patched(shorthand(), { spec: { gates } })),
      );
    });
  }

  it("accepts the examples of examples/gates", async () => {
    await kubectl(["apply", "--dry-run=server", "-n", ns, "-f", join(repo, "examples", "gates")]);
  });

  it("exercises every CEL rule of the installed CRD", async () => {
    const crd = await kubectlJson<Obj>(["get", "crd", "bluegreendeployments.bluegreen.io"]);
    const messages = new Set<string>();
    const visit = (node: unknown): void => {
      if (node === null || typeof node !== "object") return;
      for (const [k, v] of Object.entries(node)) {
        if (k === "x-kubernetes-validations") for (const r of v as R.CelRule[]) messages.add(r.message);
        else visit(v);
      }
    };
    visit(crd);
    const covered = new Set([...refusals.map(([, , m]) => m), R.SELECTOR_IMMUTABLE.message]);
    assert.deepEqual(
      [...messages].filter((m) => !covered.has(m)),
      [],
    );
  });

  it("refuses a change of spec.selector once created", async () => {
    await kubectl(["create", "-n", ns, "-f", "-"], JSON.stringify(full("immutable")));
    const changed = patched(full("immutable"), {
      spec: { selector: { matchLabels: { app: "immutable", tier: "web" } } },
    });
    const withTier = patched(changed, withLabels({ tier: "web" }));
    try {
      await kubectl(["apply", "--server-side", "-n", ns, "-f", "-"], JSON.stringify(withTier));
      assert.fail("the API server accepted a new selector");
    } catch (err) {
      assert.ok(err instanceof KubectlError, String(err));
      assert.ok(err.stderr.includes(R.SELECTOR_IMMUTABLE.message), err.stderr);
    }
    // Everything else about the pod template may change: that is what a rollout is.
    await kubectl(
      ["apply", "--server-side", "-n", ns, "-f", "-"],
      JSON.stringify(patched(full("immutable"), withLabels({ tier: "web" }))),
    );
  });

  it("describes the fields in kubectl explain", async () => {
    const spec = await kubectl(["explain", "bgd.spec"]);
    for (const field of [
      "replicas",
      "selector",
      "template",
      "image",
      "port",
      "service",
      "preview",
      "strategy",
      "paused",
    ])
      assert.match(spec, new RegExp(`^\\s+${field}\\s`, "m"), `kubectl explain bgd.spec lists ${field}`);
    assert.match(spec, /KIND:\s+BlueGreenDeployment/);
    const mode = await kubectl(["explain", "bgd.spec.strategy.promotion.mode"]);
    assert.match(mode, /ENUM:\s+Manual\s+Auto\s/);
  });

  it("prints the Active, Phase, Ready, Image and Age columns and shows up in kubectl get all", async () => {
    const table = await kubectl(["get", "bgd", "-n", ns]);
    assert.match(table.split("\n")[0] ?? "", /^NAME\s+ACTIVE\s+PHASE\s+READY\s+IMAGE\s+AGE$/);
    // A fresh discovery cache: kubectl expands the "all" category from its cache, which predates the CRD
    // when the CRD was installed minutes ago (as in this run), and does not refresh it for categories.
    const cache = mkdtempSync(join(tmpdir(), "kubectl-cache-"));
    const all = await kubectl(["get", "all", "-n", ns, "-o", "name", `--cache-dir=${cache}`]);
    rmSync(cache, { recursive: true, force: true });
    assert.match(all, /^bluegreendeployment\.bluegreen\.io\/my-cool-app$/m);
  });

  it("scales through the scale subresource (what kubectl scale and an HPA use)", async () => {
    await kubectl(["scale", "bgd/my-cool-app", "-n", ns, "--replicas=5"]);
    const cool = await kubectlJson<Bgd>(["get", "bgd", "my-cool-app", "-n", ns]);
    assert.equal(cool.spec.replicas, 5);
  });
});
