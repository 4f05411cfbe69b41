/** The plugin and the dashboard on a BGD in canary steps: what promote writes, what get says. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { decidePromote } from "../../src/cli/commands/actions.ts";
import { bgdView, canaryText, routeText } from "../../src/cli/objects.ts";
import { actionsFor } from "../../src/ui/model.ts";

const steps = [{ setWeight: 10 }, { pause: {} }, { setWeight: 50 }, { pause: { durationSeconds: 60 } }];
const bgd = (
  canary: { step: number; weight: number } | undefined,
  annotations: Record<string, string> = {},
) => ({
  apiVersion: "bluegreen.io/v1",
  kind: "BlueGreenDeployment",
  metadata: { name: "shop", namespace: "prod", generation: 2, annotations },
  spec: {
    image: "shop:v2",
    trafficRouting: { httpRoute: { name: "shop" } },
    strategy: { canary: { steps } },
  },
  status: {
    observedGeneration: 2,
    phase: "AwaitingPromotion",
    activeColor: "blue",
    previewColor: "green",
    previewRevision: "r2",
    traffic: { httpRoute: "shop", activeWeight: 90, previewWeight: 10 },
    rollout: { revision: "r2", ...(canary !== undefined ? { canary } : {}) },
  },
});

describe("promote during canary steps", () => {
  it("at a pause without a duration, lets that one step go on (promote-step), not the switch", () => {
    const v = decidePromote(bgdView(bgd({ step: 1, weight: 10 })));
    assert.deepEqual(v, { kind: "write", revision: "r2", step: 1 });
  });
  it("says so when that step is already let go", () => {
    const v = decidePromote(bgdView(bgd({ step: 1, weight: 10 }, { "bluegreen.io/promote-step": "r2:1" })));
    assert.equal(v.kind, "done");
  });
  it("after the last step, approves the switch of the revision as ever", () => {
    assert.deepEqual(decidePromote(bgdView(bgd({ step: 4, weight: 50 }))), { kind: "write", revision: "r2" });
  });
  it("the dashboard's promote button says which step it lets go on", () => {
    const b = bgdView(bgd({ step: 1, weight: 10 }));
    const a = actionsFor(b, bgd({ step: 1, weight: 10 }), [], false);
    assert.match(a.promote.text, /Let canary step 2\/4 of revision r2 go on/);
  });
});

describe("get", () => {
  it("shows the route's split and the canary step in words", () => {
    assert.equal(routeText(bgdView(bgd({ step: 1, weight: 10 }))), "HTTPRoute shop: active 90 / preview 10");
    assert.equal(
      canaryText(bgdView(bgd({ step: 1, weight: 10 }))),
      "step 2/4 (pause until promoted), weight 10%",
    );
    assert.equal(canaryText(bgdView(bgd({ step: 3, weight: 50 }))), "step 4/4 (pause 60s), weight 50%");
    assert.equal(
      canaryText(bgdView(bgd({ step: 4, weight: 50 }))),
      "steps done (4/4) at weight 50%; next: the switch",
    );
    assert.equal(canaryText(bgdView(bgd(undefined))), undefined);
  });
});
