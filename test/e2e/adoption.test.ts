/**
 * Adopting an existing Service (spec.service.name): the operator manages only its selector, never
 * owns it, and hands its original selector back when the BlueGreenDeployment is deleted. A named
 * Service that does not exist is a Degraded condition, not a crash loop, until it appears.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { applyBgd, serviceSelector, waitStatus } from "./bgd.ts";
import { namespacesWithOperator } from "./fixture.ts";
import { FAST_PODS, kubectl, kubectlJson, waitUntil } from "./lib.ts";

// A BGD that adopted a Service holds a finalizer until the operator has handed the Service back:
// the BGDs go first, while the operator still runs (else namespace and CRD deletion would hang).
const { ns } = namespacesWithOperator("adopt", ["adopt", "missing"], {
  name: "adoption",
  deleteBgdsFirst: true,
});

interface Svc {
  metadata: {
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    ownerReferences?: unknown[];
  };
  spec: { selector?: Record<string, string>; ports: { port: number; targetPort: number }[] };
}
const legacyService = `apiVersion: v1
kind: Service
metadata: {name: shop, labels: {team: payments}, annotations: {example.com/owner: payments}}
spec: {selector: {app: shop}, ports: [{port: 80, targetPort: 8080}]}
`;

describe("adopting an existing Service", { concurrency: true }, () => {
  it("moves the selector only, switches on it, and hands it back on delete", async () => {
    const n = ns.adopt;
    await kubectl(
      ["apply", "-n", n, "-f", "-"],
      `${legacyService}---
apiVersion: apps/v1
kind: Deployment
metadata: {name: legacy}
spec:
  replicas: 2
  selector: {matchLabels: {app: shop}}
  template:
    metadata: {labels: {app: shop}, annotations: ${JSON.stringify(FAST_PODS)}}
    spec: {containers: [{name: shop, image: shop:legacy}]}
`,
    );
    const service = { name: "shop" };
    await applyBgd(n, "shop-bg", { image: "shop:v1", extraSpec: { service } });
    await waitStatus(n, "shop-bg", { phase: "Stable", activeColor: "blue" });
    let svc = await kubectlJson<Svc>(["get", "service", "shop", "-n", n]);
    assert.deepEqual(svc.spec.selector, {
      app: "shop-bg",
      "bluegreen.io/name": "shop-bg",
      "bluegreen.io/color": "blue",
    });
    assert.equal(svc.metadata.labels?.team, "payments", "its own labels stay");
    assert.equal(svc.metadata.annotations?.["example.com/owner"], "payments");
    assert.equal(svc.spec.ports[0]?.port, 80, "its ports stay");
    assert.equal(svc.metadata.ownerReferences, undefined, "never owned: deleting the BGD must not delete it");
    assert.equal(svc.metadata.annotations?.["bluegreen.io/original-selector"], '{"app":"shop"}');

    await applyBgd(n, "shop-bg", { image: "shop:v2", extraSpec: { service } });
    const waiting = await waitStatus(n, "shop-bg", { phase: "AwaitingPromotion" });
    await kubectl(["annotate", "-n", n, "bgd", "shop-bg", `bluegreen.io/promote=${waiting.previewRevision}`]);
    await waitStatus(n, "shop-bg", { phase: "Stable", activeColor: "green" });
    assert.equal((await serviceSelector(n, "shop"))?.["bluegreen.io/color"], "green");

    await kubectl(["delete", "-n", n, "bgd", "shop-bg", "--wait=true", "--timeout=60s"]);
    svc = await kubectlJson<Svc>(["get", "service", "shop", "-n", n]);
    assert.deepEqual(svc.spec.selector, { app: "shop" }, "the original selector is back");
    assert.equal(svc.metadata.labels?.["bluegreen.io/name"], undefined);
    assert.equal(svc.metadata.annotations?.["bluegreen.io/original-selector"], undefined);
    assert.equal(svc.metadata.labels?.team, "payments");
    await waitUntil("the BGD's own objects collected", 60_000, async () => {
      const left = await kubectlJson<{ items: unknown[] }>([
        "get",
        "deployments",
        "-n",
        n,
        "-l",
        "bluegreen.io/name=shop-bg",
      ]);
      return left.items.length === 0;
    });
  });

  it("a Service named in spec.service.name that does not exist is Degraded until it appears", async () => {
    const n = ns.missing;
    await applyBgd(n, "shop-bg", { image: "shop:v1", extraSpec: { service: { name: "shop" } } });
    const degraded = await waitStatus(n, "shop-bg", { phase: "Degraded" });
    assert.match(degraded.message ?? "", /Service shop named in spec.service.name does not exist/);
    assert.equal(degraded.conditions?.find((c) => c.type === "Degraded")?.reason, "ServiceNotFound");
    await kubectl(["apply", "-n", n, "-f", "-"], legacyService);
    await waitStatus(n, "shop-bg", { phase: "Stable", activeColor: "blue" });
    assert.equal((await serviceSelector(n, "shop"))?.["bluegreen.io/color"], "blue");
  });
});
