/** The plugin's `get`: the tree of a BGD, its colors, pods and events, from fixed objects. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { stripVTControlCharacters } from "node:util";
import { PLAIN, painter } from "../../src/cli/style.ts";
import { renderGet } from "../../src/cli/tree.ts";
import { awaiting, bgd, deployment, event, later, NOW, R1, R2, V1, V2 } from "./support/cli-objects.ts";

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
        {
          name: "smoke",
          point: "prePromotion",
          phase: "Successful",
          message: "3 of 3 measurements: 3 successful",
        },
        {
          name: "errors",
          point: "postPromotion",
          phase: "Running",
          message: "1 of 6 measurements: 1 successful",
        },
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
    assert.match(out, /prePromotion +smoke +Successful +3 of 3 measurements: 3 successful/);
    assert.match(out, /postPromotion +errors +Running +1 of 6 measurements/);
    assert.match(out, /Events \(last 6\):/);
    assert.doesNotMatch(out, /R1 +m1/);
    assert.match(out, /R7 +m7/);
  });
});
