/** examples/gateway/: the BlueGreenDeployment is valid and its HTTPRoute has backendRefs the operator can weight. */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { parseAllDocuments } from "yaml";
import { parseBlueGreenDeployment } from "../../src/api/defaults.ts";
import { plan } from "../../src/bluegreen/plan.ts";
import { routeState } from "../../src/controller/observe-route.ts";
import { observed } from "./support/observed.ts";

const docs = parseAllDocuments(
  readFileSync(join(import.meta.dirname, "../../examples/gateway/canary.yaml"), "utf8"),
).map((d) => d.toJS() as { kind: string; metadata: { name: string } });

describe("examples/gateway/canary.yaml", () => {
  const bgd = docs.find((d) => d.kind === "BlueGreenDeployment");
  const route = docs.find((d) => d.kind === "HTTPRoute");
  it("is a valid BlueGreenDeployment with canary steps through the HTTPRoute beside it", () => {
    const r = parseBlueGreenDeployment(bgd);
    assert.ok(r.ok, r.ok ? "" : r.message);
    assert.equal(r.value.spec.trafficRouting?.httpRoute.name, route?.metadata.name);
    assert.ok((r.value.spec.strategy.canary?.steps.length ?? 0) > 0);
  });
  it("names the active and the preview Service in its route, at active 100 / preview 0: a route the planner accepts", () => {
    const r = parseBlueGreenDeployment(bgd);
    assert.ok(r.ok);
    const name = r.value.metadata.name;
    const state = routeState(route?.metadata.name ?? "", route, name, "default", {
      active: name,
      preview: `${name}-preview`,
    });
    assert.deepEqual(
      state.backends.map((b) => [b.role, b.weight]),
      [
        ["active", 100],
        ["preview", 0],
      ],
    );
    const o = { ...observed({ image: "shop:v1" }), name, spec: r.value.spec, route: state };
    const status = plan(o, Date.parse("2030-01-01T00:00:00Z")).actions.find((a) => a.type === "UpdateStatus");
    assert.notEqual(status?.type === "UpdateStatus" ? status.status.phase : undefined, "Degraded");
  });
});
