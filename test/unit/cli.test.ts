/** The plugin's pure parts: the tree and tables from fixed objects, status verdicts, spec edits, completion. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { stripVTControlCharacters } from "node:util";
import { canonicalJson, desiredPodTemplate, revisionOf } from "../../src/api/defaults.ts";
import type { BlueGreenDeployment } from "../../src/api/schema.ts";
import { chooseRollback, parseAssignment, setImages } from "../../src/cli/commands/edit.ts";
import { EXIT_FAILED, EXIT_STABLE, judge } from "../../src/cli/commands/status.ts";
import { type CompletionSource, complete } from "../../src/cli/completion.ts";
import { bgdView, type Snapshot } from "../../src/cli/objects.ts";
import { CliError } from "../../src/cli/session.ts";
import { columns, humanDuration, PLAIN, painter } from "../../src/cli/style.ts";
import { renderHistory, renderList } from "../../src/cli/tables.ts";
import { renderGet } from "../../src/cli/tree.ts";

const NOW = Date.parse("2030-01-01T12:00:00Z");
const ago = (s: number) => new Date(NOW - s * 1000).toISOString().replace(/\.\d+Z$/, "Z");
const later = (s: number) => new Date(NOW + s * 1000).toISOString();

type Spec = Record<string, unknown>;
const templateSpec = (image: string): Spec => ({
  replicas: 3,
  selector: { matchLabels: { app: "shop" } },
  template: {
    metadata: { labels: { app: "shop" } },
    spec: { containers: [{ name: "app", image, ports: [{ containerPort: 8080 }] }] },
  },
});
/** The revision the operator computes for a spec (the plugin must agree with it). */
const rev = (spec: Spec, name = "shop") =>
  revisionOf(
    desiredPodTemplate({ metadata: { name }, spec } as Pick<BlueGreenDeployment, "metadata" | "spec">),
  );
const templateOf = (spec: Spec, name = "shop") =>
  canonicalJson(
    desiredPodTemplate({ metadata: { name }, spec } as Pick<BlueGreenDeployment, "metadata" | "spec">),
  );

const V1 = templateSpec("shop:v1");
const V2 = templateSpec("shop:v2");
const R1 = rev(V1);
const R2 = rev(V2);

function bgd(spec: Spec, status: Record<string, unknown>, meta: Record<string, unknown> = {}) {
  return {
    apiVersion: "bluegreen.io/v1",
    kind: "BlueGreenDeployment",
    metadata: { name: "shop", namespace: "prod", generation: 2, creationTimestamp: ago(3600), ...meta },
    spec,
    status: { observedGeneration: 2, ...status },
  };
}

function deployment(color: string, spec: Spec, replicas: number, ready: number, annotations = {}) {
  return {
    metadata: {
      name: `shop-${color}`,
      creationTimestamp: ago(color === "blue" ? 3600 : 60),
      labels: { "bluegreen.io/name": "shop", "bluegreen.io/color": color },
      annotations: { "bluegreen.io/template": templateOf(spec), ...annotations },
    },
    spec: {
      replicas,
      template: {
        metadata: { labels: { "bluegreen.io/revision": rev(spec) } },
        spec: {
          containers: [
            {
              name: "app",
              image: (spec.template as { spec: { containers: { image: string }[] } }).spec.containers[0]
                ?.image,
            },
          ],
        },
      },
    },
    status: { readyReplicas: ready },
  };
}

function pod(color: string, revision: string, suffix: string, ready: boolean, ageS: number) {
  return {
    metadata: {
      name: `shop-${color}-${suffix}`,
      creationTimestamp: ago(ageS),
      labels: { "bluegreen.io/color": color, "bluegreen.io/revision": revision },
    },
    spec: { containers: [{ name: "app" }], nodeName: "kwok-node-0" },
    status: {
      phase: "Running",
      podIP: "10.0.0.1",
      conditions: [{ type: "Ready", status: ready ? "True" : "False" }],
      containerStatuses: [{ ready, restartCount: 0 }],
    },
  };
}

const event = (type: string, reason: string, message: string, s: number, rv: number) => ({
  metadata: { resourceVersion: String(rv) },
  type,
  reason,
  message,
  lastTimestamp: ago(s),
});

const awaiting: Snapshot = {
  bgd: bgd(V2, {
    phase: "AwaitingPromotion",
    message: `Revision ${R2} ready on green; approve with: kubectl annotate bgd shop bluegreen.io/promote=${R2}`,
    activeColor: "blue",
    previewColor: "green",
    activeRevision: R1,
    previewRevision: R2,
    activeImage: "shop:v1",
    previewImage: "shop:v2",
    ready: "3/3",
    history: [{ revision: R1, image: "shop:v1", promotedAt: ago(3500) }],
  }),
  deployments: [deployment("blue", V1, 3, 3), deployment("green", V2, 3, 3)],
  pods: [pod("green", R2, "b", true, 50), pod("blue", R1, "a", true, 3500), pod("green", R2, "a", false, 50)],
  services: {
    shop: { spec: { selector: { app: "shop", "bluegreen.io/color": "blue" } } },
    "shop-preview": { spec: { selector: { app: "shop", "bluegreen.io/color": "green" } } },
  },
  events: [
    event("Normal", "AwaitingPromotion", `Revision ${R2} ready on green`, 30, 12),
    event("Normal", "Deploying", `Deploying revision ${R2} (shop:v2) to green`, 60, 10),
    event("Normal", "Progressing", `Deploying revision ${R2} to green`, 60, 11),
  ],
};

describe("get: the tree", () => {
  it("renders a rollout awaiting promotion: summary, Services, colors active first with their pods, events in order", () => {
    const out = renderGet(awaiting, { now: NOW, painter: PLAIN });
    const expected = [
      "Name:       shop",
      "Namespace:  prod",
      "Phase:      ◇ AwaitingPromotion",
      `Message:    Revision ${R2} ready on green; approve with: kubectl annotate bgd shop bluegreen.io/promote=${R2}`,
      "Strategy:   manual promotion · old color kept warm 30s after the switch · progress deadline 600s (then abort)",
      "Replicas:   3 desired (3/3 ready on blue)",
      `Revisions:  ${R1} shop:v1 (active) · ${R2} shop:v2 (preview)`,
      `Next:       kubectl bluegreen promote shop   (approves revision ${R2})`,
      "",
      `NAME                       ROLE      REVISION     IMAGE     READY   STATUS                AGE`,
      `bgd/shop                             ${R2}   shop:v2   3/3     ◇ AwaitingPromotion   60m`,
      `├── svc/shop               active                                   → blue`,
      `├── svc/shop-preview       preview                                  → green`,
      `├── ● deploy/shop-blue     active    ${R1}   shop:v1   3/3     ready                 60m`,
      `│   └── pod/shop-blue-a              ${R1}             1/1     ✔ Running             58m`,
      `└── ● deploy/shop-green    preview   ${R2}   shop:v2   3/3     ready                 60s`,
      `    ├── pod/shop-green-a             ${R2}             0/1     ◌ Running             50s`,
      `    └── pod/shop-green-b             ${R2}             1/1     ✔ Running             50s`,
      "",
      "Events (last 3):",
      "  AGE   TYPE     REASON              MESSAGE",
      `  60s   Normal   Deploying           Deploying revision ${R2} (shop:v2) to green`,
      `  60s   Normal   Progressing         Deploying revision ${R2} to green`,
      `  30s   Normal   AwaitingPromotion   Revision ${R2} ready on green`,
    ].join("\n");
    assert.equal(out, expected);
  });

  it("prints no escape sequences without colors, and colors the phase with them", () => {
    assert.equal(
      stripVTControlCharacters(renderGet(awaiting, { now: NOW, painter: PLAIN })),
      renderGet(awaiting, { now: NOW, painter: PLAIN }),
    );
    const colored = renderGet(awaiting, { now: NOW, painter: painter(true) });
    assert.ok(colored.includes(`${String.fromCharCode(27)}[33m◇ AwaitingPromotion`));
  });

  it("adds pod IPs and nodes with -o wide, and the namespace flag to the suggested command", () => {
    const out = renderGet(awaiting, { now: NOW, painter: PLAIN, wide: true, namespaceFlag: " -n prod" });
    assert.match(out, /pod\/shop-blue-a .* 10\.0\.0\.1 +kwok-node-0$/m);
    assert.match(out, /Next: +kubectl bluegreen promote shop -n prod /);
  });

  it("warns that the status is older than the spec, and suggests nothing from it", () => {
    const snap = { ...awaiting, bgd: bgd(V2, { phase: "Stable", observedGeneration: 1 }, { generation: 2 }) };
    const out = renderGet(snap, { now: NOW, painter: PLAIN });
    assert.match(out, /Warning: +status is from generation 1 but the spec is at 2/);
    assert.doesNotMatch(out, /Next:/);
  });

  it("shows an ignored (stale) approval from the Promoted condition", () => {
    const b = bgd(
      V2,
      {
        phase: "AwaitingPromotion",
        previewRevision: R2,
        conditions: [
          {
            type: "Promoted",
            status: "False",
            reason: "StaleApproval",
            message: `Approval for revision ${R1} ignored: the revision awaiting promotion is ${R2}`,
          },
        ],
      },
      { annotations: { "bluegreen.io/promote": R1 } },
    );
    const out = renderGet({ ...awaiting, bgd: b }, { now: NOW, painter: PLAIN });
    assert.match(out, new RegExp(`Warning: +Approval for revision ${R1} ignored`));
    assert.doesNotMatch(out, /Approved:/);
  });

  it("shows the idle color's scale-down countdown, a Service that selects nothing, gate results, and only the last 6 events", () => {
    const b = bgd(V2, {
      phase: "Stable",
      activeColor: "green",
      activeRevision: R2,
      gates: [
        { name: "smoke", stage: "prePromotion", result: "Passed", message: "200 OK x3" },
        { name: "errors", stage: "postPromotion", result: "Running" },
      ],
    });
    const events = Array.from({ length: 8 }, (_, i) => event("Normal", `R${i}`, `m${i}`, 100 - i, i));
    const out = renderGet(
      {
        ...awaiting,
        bgd: b,
        events,
        deployments: [
          deployment("blue", V1, 3, 3, { "bluegreen.io/scale-down-at": later(25) }),
          deployment("green", V2, 3, 3),
        ],
        services: { shop: { spec: { selector: {} } } },
      },
      { now: NOW, painter: PLAIN },
    );
    assert.match(out, new RegExp(`Warm: +blue \\(revision ${R1}\\) scales down in 25s`));
    assert.match(out, /deploy\/shop-blue +idle .* warm, scale-down in 25s/);
    assert.match(out, /svc\/shop +active .* selects no color/);
    assert.match(out, /svc\/shop-preview +preview .* not created/);
    assert.match(out, /prePromotion +smoke +Passed +200 OK x3/);
    assert.match(out, /Events \(last 6\):/);
    assert.doesNotMatch(out, /R1 +m1/);
    assert.match(out, /R7 +m7/);
  });
});

describe("list and history tables", () => {
  it("lists BGDs like kubectl get, with the namespace column for -A and more with -o wide", () => {
    const other = bgd(
      V1,
      { phase: "Stable", activeColor: "blue", ready: "3/3", activeImage: "shop:v1" },
      { name: "cart", namespace: "dev" },
    );
    const out = renderList([awaiting.bgd, other], {
      now: NOW,
      painter: PLAIN,
      allNamespaces: true,
      wide: true,
    });
    const lines = out.split("\n");
    assert.match(
      lines[0] ?? "",
      /^NAMESPACE +NAME +ACTIVE +PHASE +READY +IMAGE +PREVIEW +AGE +REVISION +PREVIEW-REVISION +MESSAGE$/,
    );
    assert.match(lines[1] ?? "", /^dev +cart +blue +✔ Stable +3\/3 +shop:v1 +- +60m/);
    assert.match(
      lines[2] ?? "",
      new RegExp(`^prod +shop +blue +◇ AwaitingPromotion +3/3 +shop:v1 +shop:v2 +60m +${R1} +${R2}`),
    );
  });

  it("lists the revision in progress first, then promoted revisions, with the color that still holds each", () => {
    const out = renderHistory(awaiting.bgd, awaiting.deployments, { now: NOW, painter: PLAIN });
    assert.deepEqual(out.split("\n"), [
      "REVISION      IMAGE     PROMOTED       SWITCHED-FROM   HELD-BY",
      `${R2}*   shop:v2   not promoted                   green (warm)`,
      `${R1}    shop:v1   58m ago        -               blue (serving)`,
    ]);
  });
});

describe("status: when to stop and with which exit code", () => {
  const view = (spec: Spec, status: Record<string, unknown>, meta: Record<string, unknown> = {}) =>
    bgdView(bgd(spec, status, meta));
  const cases: [string, ReturnType<typeof view>, boolean, number | undefined][] = [
    [
      "Stable on the revision the spec asks for: done, 0",
      view(V2, { phase: "Stable", activeRevision: R2 }),
      true,
      EXIT_STABLE,
    ],
    [
      "Stable for an older generation (just after set image): keep waiting",
      view(V2, { phase: "Stable", activeRevision: R1, observedGeneration: 1 }),
      false,
      undefined,
    ],
    [
      "Stable but still serving another revision: keep waiting",
      view(V2, { phase: "Stable", activeRevision: R1 }),
      false,
      undefined,
    ],
    [
      "Aborted with the abort annotation: done, 1",
      view(V2, { phase: "Aborted" }, { annotations: { "bluegreen.io/abort": R2 } }),
      true,
      EXIT_FAILED,
    ],
    [
      "Aborted but the annotation was removed (retry on its way): keep waiting",
      view(V2, { phase: "Aborted" }),
      false,
      undefined,
    ],
    ["Degraded (invalid spec): done, 1", view(V2, { phase: "Degraded", message: "bad" }), true, EXIT_FAILED],
    [
      "progress deadline exceeded without abort: done, 1",
      view(V2, {
        phase: "Progressing",
        conditions: [
          { type: "Degraded", status: "True", reason: "ProgressDeadlineExceeded", message: "late" },
        ],
      }),
      true,
      EXIT_FAILED,
    ],
    ["awaiting promotion: keep waiting", view(V2, { phase: "AwaitingPromotion" }), false, undefined],
  ];
  for (const [name, b, done, code] of cases) {
    it(name, () => {
      const v = judge(b);
      assert.equal(v.done, done);
      if (v.done) assert.equal(v.exitCode, code);
    });
  }
  it("tells how to promote while awaiting promotion", () => {
    assert.match(
      judge(view(V2, { phase: "AwaitingPromotion", message: "ready" })).line,
      /kubectl bluegreen promote shop/,
    );
  });
});

describe("set image", () => {
  const edit = (spec: Spec, args: string[]) => {
    const obj = structuredClone(bgd(spec, {})) as Record<string, unknown>;
    const changes = setImages(obj, args.map(parseAssignment));
    return { changes, spec: obj.spec as Spec };
  };
  it("sets spec.image of a shorthand BGD", () => {
    const r = edit({ replicas: 2, image: "shop:v1" }, ["shop:v2"]);
    assert.deepEqual(r.changes, ["shop=shop:v2"]);
    assert.equal(r.spec.image, "shop:v2");
  });
  it("sets the only container without a name, a named one, and every container with *", () => {
    assert.deepEqual(edit(V1, ["shop:v2"]).changes, ["app=shop:v2"]);
    assert.deepEqual(edit(V1, ["app=shop:v2"]).changes, ["app=shop:v2"]);
    const two = templateSpec("shop:v1");
    (two.template as { spec: { initContainers?: unknown[] } }).spec.initContainers = [
      { name: "migrate", image: "m:1" },
    ];
    assert.deepEqual(edit(two, ["*=x:9"]).changes, ["app=x:9", "migrate=x:9"]);
  });
  it("reports no change for the same image", () => {
    assert.deepEqual(edit(V1, ["app=shop:v1"]).changes, []);
  });
  it("refuses an unknown container and an ambiguous one, naming the containers", () => {
    assert.throws(
      () => edit(V1, ["web=shop:v2"]),
      (e: unknown) => e instanceof CliError && /no container "web" \(it has: app\)/.test(e.message),
    );
    const two = templateSpec("shop:v1");
    (two.template as { spec: { containers: unknown[] } }).spec.containers.push({
      name: "proxy",
      image: "p:1",
    });
    assert.throws(() => edit(two, ["shop:v2"]), /has 2 containers \(app, proxy\): say which one/);
    assert.throws(() => edit({ image: "shop:v1" }, ["other=x:1"]), /image shorthand/);
  });
});

describe("rollback: which revision and how", () => {
  const stableOnV2 = bgd(V2, {
    phase: "Stable",
    activeColor: "green",
    activeRevision: R2,
    history: [
      { revision: R2, image: "shop:v2" },
      { revision: R1, image: "shop:v1" },
    ],
  });
  it("goes back to the other color's previously promoted revision: warm while it runs at full size", () => {
    const c = chooseRollback(stableOnV2, [deployment("blue", V1, 3, 3), deployment("green", V2, 3, 3)]);
    assert.equal(c.revision, R1);
    assert.equal(c.color, "blue");
    assert.equal(c.role, "warm");
    assert.equal(c.promotedBefore, true);
    const obj = structuredClone(stableOnV2) as Record<string, unknown>;
    c.apply(obj);
    assert.equal(rev(obj.spec as Spec), R1, "the spec asks for the old revision again");
  });
  it("is cold when the old color was scaled down", () => {
    const c = chooseRollback(stableOnV2, [deployment("blue", V1, 0, 0), deployment("green", V2, 3, 3)]);
    assert.equal(c.role, "cold");
  });
  it("during a rollout goes back to the live color's revision", () => {
    const rolling = bgd(V2, {
      phase: "AwaitingPromotion",
      activeColor: "blue",
      activeRevision: R1,
      history: [{ revision: R1 }],
    });
    const c = chooseRollback(rolling, [deployment("blue", V1, 3, 3), deployment("green", V2, 3, 3)]);
    assert.equal(c.revision, R1);
    assert.equal(c.role, "active");
  });
  it("takes a revision prefix with --to-revision, and explains the limit for one no color holds", () => {
    const deps = [deployment("blue", V1, 3, 3), deployment("green", V2, 3, 3)];
    assert.equal(chooseRollback(stableOnV2, deps, R1.slice(0, 4)).revision, R1);
    assert.throws(
      () => chooseRollback(stableOnV2, deps, "abcdef"),
      new RegExp(
        `only a revision still held by shop-blue or shop-green can be rolled back to \\(they hold ${R1} on blue, ${R2} on green\\)`,
      ),
    );
    assert.throws(() => chooseRollback(stableOnV2, deps, R2), /already what shop's spec asks for/);
  });
  it("refuses when no color holds a previously promoted revision", () => {
    const first = bgd(V1, {
      phase: "Stable",
      activeColor: "blue",
      activeRevision: R1,
      history: [{ revision: R1 }],
    });
    assert.throws(
      () => chooseRollback(first, [deployment("blue", V1, 3, 3)]),
      /no previously promoted revision/,
    );
  });
  it("sets spec.image back on a shorthand BGD whose old revision is shorthand-shaped", () => {
    const s1 = { replicas: 3, image: "shop:v1" };
    const s2 = { replicas: 3, image: "shop:v2" };
    const b = bgd(s2, {
      phase: "Stable",
      activeColor: "green",
      activeRevision: rev(s2),
      history: [{ revision: rev(s2) }, { revision: rev(s1) }],
    });
    const shorthandDeployment = (color: string, spec: Spec) => {
      const d = deployment(color, V1, 3, 3);
      d.metadata.annotations["bluegreen.io/template"] = templateOf(spec);
      d.spec.template.metadata.labels["bluegreen.io/revision"] = rev(spec);
      return d;
    };
    const c = chooseRollback(b, [shorthandDeployment("blue", s1), shorthandDeployment("green", s2)]);
    const obj = structuredClone(b) as Record<string, unknown>;
    c.apply(obj);
    assert.deepEqual(obj.spec, { replicas: 3, image: "shop:v1" });
  });
});

describe("completion", () => {
  const source: CompletionSource = {
    names: async (flags) => (flags["-n"] === "prod" ? ["shop", "cart"] : []),
    contexts: () => ["kind", "prod"],
  };
  it("completes commands, subcommands, BGD names in the namespace given, output formats and flags", async () => {
    assert.deepEqual(await complete(["pro"], source), ["promote\tApprove the revision now in preview"]);
    assert.deepEqual(await complete(["-n", "prod", "promote", "s"], source), ["shop"]);
    assert.deepEqual(await complete(["set", ""], source), ["image\tSet the image of a container"]);
    assert.deepEqual(await complete(["set", "image", "-n", "prod", ""], source), ["shop", "cart"]);
    assert.deepEqual(await complete(["get", "-o", "y"], source), ["yaml"]);
    assert.deepEqual(await complete(["--context", ""], source), ["kind", "prod"]);
    assert.ok((await complete(["status", "shop", "--t"], source)).includes("--timeout"));
    assert.deepEqual(await complete(["promote", "shop", ""], source), []);
  });
});

describe("formatting", () => {
  it("writes ages as kubectl does", () => {
    const cases: [number, string][] = [
      [0, "0s"],
      [59_000, "59s"],
      [119_000, "119s"],
      [130_000, "2m10s"],
      [600_000, "10m"],
      [3 * 3_600_000 + 60_000, "3h1m"],
      [30 * 3_600_000, "30h"],
      [3 * 86_400_000, "3d"],
      [400 * 86_400_000, "400d"],
    ];
    for (const [ms, want] of cases) assert.equal(humanDuration(ms), want, `${ms} ms`);
  });
  it("aligns columns ignoring color codes and leaves no trailing blanks", () => {
    const p = painter(true);
    assert.deepEqual(
      columns([
        ["A", p.paint("red", "xx"), "c"],
        ["long", "y", ""],
      ]).map((l) => stripVTControlCharacters(l)),
      ["A      xx   c", "long   y"],
    );
  });
});
