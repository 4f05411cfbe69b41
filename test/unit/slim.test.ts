import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { type Caches, type DeploymentObj, observe, type ServiceObj } from "../../src/controller/observe.ts";
import {
  slimBgd,
  slimDeployment,
  slimEndpointSlice,
  slimPod,
  slimService,
} from "../../src/controller/slim.ts";
import type { KubeObject } from "../../src/kube/informer.ts";

/**
 * One Stable BGD and what it owns, as a real kube-apiserver returned them (`kubectl get -o json
 * --show-managed-fields` on the local control plane, BGD created by a client-side `kubectl apply`).
 */
const real = JSON.parse(readFileSync(join(import.meta.dirname, "support/cached-objects.json"), "utf8")) as {
  bgd: KubeObject;
  deployment: KubeObject;
  pod: KubeObject;
  service: KubeObject;
  endpointSlice: KubeObject;
};

type Slim = (o: KubeObject) => KubeObject;

function caches(slim: { dep: Slim; svc: Slim; pod: Slim; slice: Slim }): Caches {
  const name = (o: KubeObject) => o.metadata?.name;
  return {
    deployment: (_ns, n) =>
      name(real.deployment) === n ? (slim.dep(real.deployment) as DeploymentObj) : undefined,
    service: (_ns, n) => (name(real.service) === n ? (slim.svc(real.service) as ServiceObj) : undefined),
    podsOf: () => [slim.pod(real.pod)],
    endpointSlicesOf: (_ns, svc) =>
      real.endpointSlice.metadata?.labels?.["kubernetes.io/service-name"] === svc
        ? [slim.slice(real.endpointSlice)]
        : [],
  };
}

const whole: Slim = (o) => o;
const json = (o: unknown) => JSON.stringify(o);

describe("what the controller's caches keep", () => {
  it("is enough: observe() finds the same facts in the slimmed objects as in the API's", () => {
    const full = observe(real.bgd, caches({ dep: whole, svc: whole, pod: whole, slice: whole }));
    const slim = observe(
      slimBgd(real.bgd),
      caches({ dep: slimDeployment, svc: slimService, pod: slimPod, slice: slimEndpointSlice }),
    );
    assert.equal(full.ok, true);
    assert.deepEqual(slim, full);
    // The fixture exercises what matters: a live color with a ready pod behind a ready endpoint.
    assert.ok(full.ok && full.observed.colors.blue !== undefined);
    assert.ok(full.ok && full.observed.colors.blue?.readyPods === 1);
    assert.ok(full.ok && full.observed.activeEndpoints.blue === 1);
  });

  it("drops managedFields everywhere, kubectl's copy of the BGD, a Pod's spec", () => {
    const slimmed = [
      slimBgd(real.bgd),
      slimDeployment(real.deployment),
      slimService(real.service),
      slimPod(real.pod),
      slimEndpointSlice(real.endpointSlice),
    ];
    for (const o of slimmed) assert.equal(json(o).includes("managedFields"), false);
    assert.ok(json(real.bgd).includes("last-applied-configuration"));
    assert.equal(json(slimBgd(real.bgd)).includes("last-applied-configuration"), false);
    assert.equal((slimPod(real.pod) as { spec?: unknown }).spec, undefined);
    assert.ok(json(slimPod(real.pod)).length < json(real.pod).length / 4);
  });

  it("keeps what it kept when applied again (an object is slimmed once per arrival)", () => {
    for (const [slim, o] of [
      [slimBgd, real.bgd],
      [slimDeployment, real.deployment],
      [slimService, real.service],
      [slimPod, real.pod],
      [slimEndpointSlice, real.endpointSlice],
    ] as const)
      assert.deepEqual(slim(slim(o)), slim(o));
  });
});
