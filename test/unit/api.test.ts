import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { Type } from "@sinclair/typebox";
import fc from "fast-check";
import { parse } from "yaml";
import { CRD_PATH, customResourceDefinition, renderCrdYaml, toStructural } from "../../src/api/crd.ts";
import {
  canonicalJson,
  desiredPodTemplate,
  effectiveSelector,
  imagesOf,
  parseBlueGreenDeployment,
  revisionOf,
} from "../../src/api/defaults.ts";
import type { BlueGreenDeployment } from "../../src/api/schema.ts";

const repo = join(import.meta.dirname, "../..");
const example = (name: string): Record<string, unknown> =>
  parse(readFileSync(join(repo, "examples", `${name}.yaml`), "utf8")) as Record<string, unknown>;

function parsed(obj: unknown): BlueGreenDeployment {
  const r = parseBlueGreenDeployment(obj);
  if (!r.ok) assert.fail(`expected a valid BlueGreenDeployment, got: ${r.message}`);
  return r.value;
}
function refused(obj: unknown): string {
  const r = parseBlueGreenDeployment(obj);
  if (r.ok) assert.fail("expected the object to be refused");
  return r.message;
}
const bgd = (spec: Record<string, unknown>, name = "web") => ({
  apiVersion: "bluegreen.io/v1",
  kind: "BlueGreenDeployment",
  metadata: { name, namespace: "default" },
  spec,
});

const FULL_DEFAULTS = {
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

describe("parseBlueGreenDeployment: defaults", () => {
  it("fills every default of the shorthand example", () => {
    const v = parsed(example("my-cool-app"));
    assert.deepEqual(v.spec, { replicas: 3, image: "mycoolapp:v1", ...FULL_DEFAULTS });
  });

  it("fills replicas: 1 when it is omitted", () => {
    assert.equal(parsed(bgd({ image: "a:1" })).spec.replicas, 1);
  });

  it("keeps what the user set and fills only the rest of a nested object", () => {
    const v = parsed(
      bgd({
        image: "a:1",
        service: { port: 8443 },
        strategy: { promotion: { mode: "Auto" }, scaleDownDelaySeconds: 0 },
      }),
    );
    assert.deepEqual(v.spec.service, { port: 8443, type: "ClusterIP", sessionAffinity: "None" });
    assert.deepEqual(v.spec.strategy.promotion, { mode: "Auto", delaySeconds: 0 });
    assert.equal(v.spec.strategy.scaleDownDelaySeconds, 0);
    assert.equal(v.spec.strategy.progressDeadlineSeconds, 600);
  });

  it("does not modify the object it was given (cached objects are read-only)", () => {
    const raw = example("my-awesome-app");
    const before = structuredClone(raw);
    parsed(raw);
    assert.deepEqual(raw, before);
  });

  it("accepts a list item without apiVersion and kind", () => {
    const { apiVersion: _a, kind: _k, ...item } = example("my-cool-app");
    assert.equal(parsed(item).kind, "BlueGreenDeployment");
  });

  it("keeps a valid status and drops one it cannot read, with a warning", () => {
    const status = { phase: "Stable", activeColor: "blue", replicas: 3, readyReplicas: 3, ready: "3/3" };
    const ok = parseBlueGreenDeployment({ ...example("my-cool-app"), status });
    assert.ok(ok.ok);
    assert.deepEqual(ok.value.status, status);
    assert.deepEqual(ok.warnings, []);
    const bad = parseBlueGreenDeployment({ ...example("my-cool-app"), status: { activeColor: "red" } });
    assert.ok(bad.ok);
    assert.equal(bad.value.status, undefined);
    assert.match(
      bad.warnings.join(),
      /ignored the stored status: status\.activeColor must be one of blue, green/,
    );
  });
});

describe("parseBlueGreenDeployment: errors a person can act on", () => {
  const cases: [string, unknown, RegExp][] = [
    ["not an object", "hello", /must be an object/],
    [
      "another kind",
      { ...example("my-cool-app"), kind: "Deployment" },
      /expected bluegreen\.io\/v1 BlueGreenDeployment/,
    ],
    ["no spec", { ...example("my-cool-app"), spec: undefined }, /spec is required/],
    [
      "negative replicas",
      bgd({ image: "a", replicas: -1 }),
      /^spec\.replicas must be at least 0 \(got -1\)$/,
    ],
    [
      "fractional replicas",
      bgd({ image: "a", replicas: 1.5 }),
      /spec\.replicas must be an integer \(got 1\.5\)/,
    ],
    [
      "unknown Service type",
      bgd({ image: "a", service: { type: "Ingress" } }),
      /spec\.service\.type must be one of ClusterIP, NodePort, LoadBalancer \(got "Ingress"\)/,
    ],
    [
      "negative delay",
      bgd({ image: "a", strategy: { scaleDownDelaySeconds: -5 } }),
      /spec\.strategy\.scaleDownDelaySeconds must be at least 0/,
    ],
    [
      "container without image",
      bgd({ template: { metadata: { labels: { app: "x" } }, spec: { containers: [{ name: "x" }] } } }),
      /spec\.template\.spec\.containers\[0\]\.image is required/,
    ],
    [
      "no containers",
      bgd({ template: { metadata: { labels: { app: "x" } }, spec: { containers: [] } } }),
      /spec\.template\.spec\.containers must have at least 1 item/,
    ],
    ["empty image", bgd({ image: "" }), /spec\.image must not be empty/],
    [
      "a pod template that does not restart",
      bgd({
        template: {
          metadata: { labels: { app: "x" } },
          spec: { containers: [{ name: "x", image: "x" }], restartPolicy: "Never" },
        },
      }),
      /spec\.template\.spec\.restartPolicy must be "Always" \(got "Never"\)/,
    ],
    [
      "a CEL rule broken",
      bgd({
        image: "a",
        template: { metadata: { labels: { app: "x" } }, spec: { containers: [{ name: "x", image: "x" }] } },
      }),
      /set either spec\.template \(a full pod template\) or spec\.image \(the shorthand\), not both/,
    ],
  ];
  for (const [name, obj, expected] of cases) {
    it(`refuses ${name}`, () => {
      assert.match(refused(obj), expected);
    });
  }
});

describe("desiredPodTemplate and effectiveSelector", () => {
  it("expands the shorthand to one container named after the BlueGreenDeployment on port 8080", () => {
    const v = parsed(example("my-cool-app"));
    assert.deepEqual(desiredPodTemplate(v), {
      metadata: { labels: { app: "my-cool-app" } },
      spec: {
        containers: [{ name: "my-cool-app", image: "mycoolapp:v1", ports: [{ containerPort: 8080 }] }],
      },
    });
    assert.deepEqual(effectiveSelector(v), { app: "my-cool-app" });
  });

  it("uses spec.port as the shorthand's container port", () => {
    const t = desiredPodTemplate(parsed(bgd({ image: "a:1", port: 9090 })));
    assert.deepEqual(t.spec.containers[0]?.ports, [{ containerPort: 9090 }]);
  });

  it("copies a full template deeply, fields the schema does not model included", () => {
    const raw = bgd({
      template: {
        metadata: { labels: { app: "web", tier: "front" }, annotations: { a: "b" } },
        spec: {
          containers: [{ name: "web", image: "web:1", resources: { limits: { cpu: "1" } } }],
          terminationGracePeriodSeconds: 5,
        },
      },
    });
    const v = parsed(raw);
    const t = desiredPodTemplate(v);
    assert.deepEqual(t, raw.spec.template);
    (t.spec.containers[0] as { image: string }).image = "changed";
    t.metadata.labels.extra = "x";
    assert.equal(v.spec.template?.spec.containers[0]?.image, "web:1");
    assert.equal(v.spec.template?.metadata?.labels?.extra, undefined);
    assert.deepEqual(effectiveSelector(v), { app: "web", tier: "front" });
  });

  it("selects with spec.selector when it is set", () => {
    const v = parsed(example("my-awesome-app"));
    assert.deepEqual(effectiveSelector(v), { app: "my-awesome-app" });
    const t = desiredPodTemplate(v);
    assert.deepEqual(t.metadata, { labels: { app: "my-awesome-app" } });
  });

  it("lists every container image, comma-separated", () => {
    const t = {
      spec: {
        containers: [
          { name: "a", image: "a:1" },
          { name: "b", image: "b:2" },
        ],
      },
    };
    assert.equal(imagesOf(t), "a:1,b:2");
    assert.equal(imagesOf({ spec: {} }), "");
  });
});

/** Rebuilds a JSON value with every object's keys in a shuffled order. */
function shuffledKeys(value: unknown, seed: number): unknown {
  if (Array.isArray(value)) return value.map((v, i) => shuffledKeys(v, seed + i));
  if (value === null || typeof value !== "object") return value;
  const keys = Object.keys(value);
  let s = seed;
  for (let i = keys.length - 1; i > 0; i--) {
    s = (s * 1103515245 + 12345) % 2147483648;
    const j = s % (i + 1);
    [keys[i], keys[j]] = [keys[j] as string, keys[i] as string];
  }
  return Object.fromEntries(keys.map((k) => [k, shuffledKeys((value as Record<string, unknown>)[k], s)]));
}

describe("revisionOf", () => {
  const jsonObject = fc.dictionary(fc.string(), fc.jsonValue(), { maxKeys: 8 });
  const template = fc.record({
    metadata: fc.record({ labels: fc.dictionary(fc.string(), fc.string(), { maxKeys: 4 }) }),
    spec: fc.record({
      containers: fc.array(
        fc.record(
          { name: fc.string(), image: fc.string(), extra: jsonObject },
          { requiredKeys: ["name", "image"] },
        ),
        { minLength: 1, maxLength: 3 },
      ),
      extra: jsonObject,
    }),
  });

  it("is 10 lowercase hex characters", () => {
    assert.match(revisionOf(desiredPodTemplate(parsed(example("my-cool-app")))), /^[0-9a-f]{10}$/);
  });

  it("does not depend on the order of keys", () => {
    fc.assert(
      fc.property(template, fc.integer({ min: 1, max: 1 << 30 }), (t, seed) => {
        const reordered = shuffledKeys(t, seed);
        assert.equal(canonicalJson(reordered), canonicalJson(t));
        assert.equal(revisionOf(reordered), revisionOf(t));
      }),
    );
  });

  it("changes whenever any container's image changes", () => {
    fc.assert(
      fc.property(template, fc.nat(), fc.string(), (t, index, image) => {
        const i = index % t.spec.containers.length;
        fc.pre(t.spec.containers[i]?.image !== image);
        const changed = structuredClone(t);
        (changed.spec.containers[i] as { image: string }).image = image;
        assert.notEqual(revisionOf(changed), revisionOf(t));
      }),
    );
  });

  it("is the same for the same shorthand and a different one for a new image", () => {
    const a = revisionOf(desiredPodTemplate(parsed(bgd({ image: "a:1" }))));
    assert.equal(revisionOf(desiredPodTemplate(parsed(bgd({ image: "a:1", replicas: 7 })))), a);
    assert.notEqual(revisionOf(desiredPodTemplate(parsed(bgd({ image: "a:2" })))), a);
  });
});

describe("canonicalJson", () => {
  it("sorts keys at every level, keeps array order and drops undefined properties", () => {
    assert.equal(canonicalJson({ b: 1, a: { d: [2, 1], c: undefined } }), '{"a":{"d":[2,1]},"b":1}');
  });
  it("agrees with JSON.parse", () => {
    // Compared with what plain JSON makes of the value (JSON has no -0, for one).
    fc.assert(
      fc.property(fc.jsonValue(), (v) =>
        assert.deepEqual(JSON.parse(canonicalJson(v)), JSON.parse(JSON.stringify(v))),
      ),
    );
  });
});

describe("the generated CRD", () => {
  it("equals the committed file (run `make manifests` when this fails)", () => {
    assert.equal(readFileSync(join(repo, CRD_PATH), "utf8"), renderCrdYaml());
  });

  it("is structural: every node has a type, and no TypeBox-only keyword is left", () => {
    const crd = customResourceDefinition() as {
      spec: { versions: { schema: { openAPIV3Schema: unknown } }[] };
    };
    const root = crd.spec.versions[0]?.schema.openAPIV3Schema;
    const visit = (node: unknown, path: string): void => {
      assert.ok(node !== null && typeof node === "object", path);
      const n = node as Record<string, unknown>;
      assert.ok(n.type !== undefined || n["x-kubernetes-int-or-string"] === true, `${path} has a type`);
      for (const key of ["$id", "patternProperties", "const", "exclusiveMinimum", "exclusiveMaximum"])
        assert.ok(!(key in n), `${path} has no ${key}`);
      assert.equal(Object.getOwnPropertySymbols(n).length, 0, `${path} has no symbols`);
      if (n.anyOf !== undefined)
        assert.equal(n["x-kubernetes-int-or-string"], true, `${path}: anyOf only for int-or-string`);
      for (const [k, child] of Object.entries((n.properties as Record<string, unknown>) ?? {}))
        visit(child, `${path}.${k}`);
      if (n.items !== undefined) visit(n.items, `${path}[]`);
      if (typeof n.additionalProperties === "object") visit(n.additionalProperties, `${path}{}`);
    };
    visit(root, "");
  });

  it("lists no defaulted field as required (the user may leave it out)", () => {
    const yaml = renderCrdYaml();
    const crd = parse(yaml) as { spec: { versions: { schema: { openAPIV3Schema: unknown } }[] } };
    const visit = (node: Record<string, unknown>): void => {
      const props = (node.properties ?? {}) as Record<string, Record<string, unknown>>;
      for (const name of (node.required ?? []) as string[])
        assert.ok(!("default" in (props[name] ?? {})), name);
      for (const child of Object.values(props)) visit(child);
      if (node.items !== undefined) visit(node.items as Record<string, unknown>);
    };
    visit(crd.spec.versions[0]?.schema.openAPIV3Schema as Record<string, unknown>);
  });

  it("refuses schema keywords Kubernetes would read differently", () => {
    assert.throws(
      () => toStructural(Type.Integer({ exclusiveMinimum: 0 })),
      /unsupported keyword exclusiveMinimum/,
    );
    assert.throws(() => toStructural(Type.Object({ x: Type.Unknown() })), /\.x.*every node needs a type/);
    assert.throws(
      () => toStructural(Type.Union([Type.String(), Type.Number()])),
      /unions of string literals/,
    );
  });
});
