/**
 * spec.trafficRouting and canary steps on the real API server, as kubectl and the audit log see them (no data
 * plane here: what requests do through Envoy is gateway-canary.test.ts's). Admission refuses what cannot work;
 * the operator adopts the user's HTTPRoute, moves only its two weights step by step with one write each, switches,
 * hands the route back on delete, and is Degraded by a route that lacks a backend.
 */
import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import * as T from "../../src/api/traffic.ts";
import { httpRouteYaml } from "../harness/gateway-api.ts";
import {
  applyBgd,
  bgdManifest,
  describeRequests,
  operatorRequests,
  serviceSelector,
  waitStatus,
} from "./bgd.ts";
import { namespacesWithOperator } from "./fixture.ts";
import { ensureHTTPRouteCrd, routeWeights } from "./gateway-api.ts";
import { KubectlError, kubectl, kubectlJson, waitUntil } from "./lib.ts";
import { pluginForFile } from "./plugin-bin.ts";

// The runner installs the Gateway API; no data plane runs here (the routes name a Gateway that does not exist).
before(ensureHTTPRouteCrd);
/** A route `name` in `n` with one rule sending to `backends`. */
const httpRoute = (n: string, name: string, backends: { name: string; weight?: number }[]) =>
  httpRouteYaml({
    namespace: n,
    name,
    hostname: `${name}.example.com`,
    gateway: { namespace: n, name: "public" },
    backends,
  });
const { ns, operator } = namespacesWithOperator("gwroute", ["a"], {
  name: "gateway-route",
  deleteBgdsFirst: true,
});
const bluegreen = pluginForFile();

const ROUTE = { trafficRouting: { httpRoute: { name: "shop" } } };
const STEPS = { canary: { steps: [{ setWeight: 10 }, { pause: {} }, { setWeight: 50 }] } };

interface Canary {
  readonly step?: number;
  readonly weight?: number;
}
const canaryOf = async (name: string): Promise<Canary | undefined> =>
  (await kubectlJson<{ status?: { rollout?: { canary?: Canary } } }>(["get", "bgd", name, "-n", ns.a])).status
    ?.rollout?.canary;

async function refused(spec: Record<string, unknown>): Promise<string> {
  const doc = JSON.parse(bgdManifest("refused", { image: "shop:v1" })) as { spec: Record<string, unknown> };
  doc.spec = { ...doc.spec, ...spec };
  try {
    await kubectl(["apply", "-n", ns.a, "-f", "-"], JSON.stringify(doc));
  } catch (err) {
    if (err instanceof KubectlError) return err.stderr;
    throw err;
  }
  assert.fail(`accepted: ${JSON.stringify(spec)}`);
}

describe("admission", () => {
  it("refuses canary steps without a route", async () => {
    assert.match(await refused({ strategy: STEPS }), new RegExp(literal(T.CANARY_NEEDS_ROUTE.message)));
  });
  it("refuses a weight outside 0-100", async () => {
    const out = await refused({ ...ROUTE, strategy: { canary: { steps: [{ setWeight: 101 }] } } });
    assert.match(
      out,
      /setWeight: Invalid value: 101: spec.strategy.canary.steps\[0\].setWeight in body should be less than or equal to 100/,
    );
  });
  it("refuses a step with two kinds, and one with none", async () => {
    for (const step of [{ setWeight: 10, pause: {} }, {}]) {
      const out = await refused({ ...ROUTE, strategy: { canary: { steps: [step] } } });
      assert.match(out, new RegExp(literal(T.STEP_HAS_ONE_KIND.message)));
    }
  });
  it("refuses a route in another namespace, whatever the client's field validation", async () => {
    const out = await refused({ trafficRouting: { httpRoute: { name: "shop", namespace: "edge" } } });
    assert.match(out, new RegExp(literal(T.ROUTE_IN_OWN_NAMESPACE.message)));
  });
});

describe("a canary through the user's HTTPRoute", () => {
  it("adopts the route, moves only its weights one write per step, switches, and hands it back", async () => {
    const n = ns.a;
    // The user's route: a second rule with a backend of its own, hostnames, matches — none of it ours.
    await kubectl(
      ["apply", "-n", n, "-f", "-"],
      httpRoute(n, "shop", [
        { name: "shop", weight: 100 },
        { name: "shop-preview", weight: 0 },
      ]),
    );
    await kubectl([
      "patch",
      "httproute",
      "shop",
      "-n",
      n,
      "--type=json",
      "-p",
      JSON.stringify([
        {
          op: "add",
          path: "/spec/rules/-",
          value: {
            matches: [{ path: { type: "PathPrefix", value: "/static" } }],
            backendRefs: [{ name: "static", port: 80 }],
          },
        },
      ]),
    ]);
    const userSpec = (await kubectlJson<{ spec: unknown }>(["get", "httproute", "shop", "-n", n])).spec;

    const opts = { image: "shop:v1", strategy: STEPS, extraSpec: ROUTE };
    await applyBgd(n, "shop", opts);
    await waitStatus(n, "shop", { phase: "Stable", activeColor: "blue" });
    await waitUntil("the route adopted", 30_000, async () => {
      const r = await kubectlJson<{ metadata: { annotations?: Record<string, string> } }>([
        "get",
        "httproute",
        "shop",
        "-n",
        n,
      ]);
      return r.metadata.annotations?.["bluegreen.io/weights-managed-by"] === "shop";
    });
    const finalizers = (
      await kubectlJson<{ metadata: { finalizers?: string[] } }>(["get", "bgd", "shop", "-n", n])
    ).metadata.finalizers;
    assert.deepEqual(finalizers, ["bluegreen.io/service-handback"]);

    const since = new Date();
    await applyBgd(n, "shop", { ...opts, image: "shop:v2" });
    // Step 1 (10 %) done, holding at the pause of step 2.
    const pausing = await waitStatus(n, "shop", { phase: "AwaitingPromotion" }, 120_000);
    assert.match(pausing.message ?? "", /Canary step 2\/3: holding 10%/);
    const atPause = await canaryOf("shop");
    assert.deepEqual([atPause?.step, atPause?.weight], [1, 10]);
    assert.deepEqual(await routeWeights(n, "shop"), { shop: 90, "shop-preview": 10 });
    assert.equal(
      (await serviceSelector(n, "shop"))?.["bluegreen.io/color"],
      "blue",
      "no switch before the steps",
    );

    // kubectl bluegreen promote at a pause lets that step go on: 50 %, then the steps are done.
    const step = await bluegreen(["promote", "shop", "-n", n]);
    assert.equal(step.code, 0, step.stderr);
    assert.match(step.stdout, /canary step 2\/3 of revision .* goes on \(next: weight 50%\)/);
    const done = await waitUntil("the steps done", 60_000, async () => {
      const c = await canaryOf("shop");
      return c?.step === 3 ? c : undefined;
    });
    assert.equal(done.weight, 50);
    assert.deepEqual(await routeWeights(n, "shop"), { shop: 50, "shop-preview": 50 });
    const awaiting = await waitStatus(n, "shop", { phase: "AwaitingPromotion" });
    assert.match(awaiting.message ?? "", /Canary steps done at 50%.*approve the switch/);
    const get = await bluegreen(["get", "shop", "-n", n]);
    assert.match(get.stdout, /HTTPRoute shop: active 50 \/ preview 50/);
    assert.match(get.stdout, /steps done \(3\/3\) at weight 50%/);

    // The switch: one promote; the route ends at active 100 / preview 0 on the active Service, now green.
    const sw = await bluegreen(["promote", "shop", "-n", n]);
    assert.equal(sw.code, 0, sw.stderr);
    await waitStatus(n, "shop", { phase: "Stable", activeColor: "green" }, 120_000);
    await waitUntil("weights back at active 100", 60_000, async () => {
      const w = await routeWeights(n, "shop");
      return w.shop === 100 && w["shop-preview"] === 0 ? w : undefined;
    });

    // One route write per weight: 10, 50, 100 (the switch), 0 (back on the active Service, now green).
    const routeWrites = (await operatorRequests(operator().user, n, { since, writesOnly: true })).filter(
      (e) => e.objectRef?.resource === "httproutes",
    );
    assert.deepEqual(describeRequests(routeWrites), Array(4).fill("patch httproutes shop → 200"));
    // Nothing of the user's route changed but the two weights.
    const after = (
      await kubectlJson<{ spec: { rules: { backendRefs: { name: string; weight?: number }[] }[] } }>([
        "get",
        "httproute",
        "shop",
        "-n",
        n,
      ])
    ).spec;
    assert.deepEqual(after, userSpec);

    // Delete: handed back (our annotation gone, all traffic to the active Service), then the BGD goes.
    await kubectl(["delete", "bgd", "shop", "-n", n, "--wait=true", "--timeout=60s"]);
    const handedBack = await kubectlJson<{
      metadata: { annotations?: Record<string, string> };
      spec: unknown;
    }>(["get", "httproute", "shop", "-n", n]);
    assert.equal(handedBack.metadata.annotations?.["bluegreen.io/weights-managed-by"], undefined);
    assert.deepEqual(handedBack.spec, userSpec);
  });

  it("the API server refuses a JSON patch whose test op no longer holds with 422 (the executor's conflict)", async () => {
    const n = ns.a;
    await kubectl(["apply", "-n", n, "-f", "-"], httpRoute(n, "probe", [{ name: "probe", weight: 100 }]));
    const patch = [
      { op: "test", path: "/spec/rules/0/backendRefs/0/weight", value: 7 },
      { op: "replace", path: "/spec/rules/0/backendRefs/0/weight", value: 1 },
    ];
    const out = await kubectl([
      "patch",
      "httproute",
      "probe",
      "-n",
      n,
      "--type=json",
      "-p",
      JSON.stringify(patch),
      "-v=6",
    ]).then(
      () => assert.fail("a failed test op was applied"),
      (err: unknown) => (err instanceof KubectlError ? err.stderr : String(err)),
    );
    assert.match(out, /httproutes\/probe/);
    assert.match(out, /422 Unprocessable Entity/);
    assert.deepEqual(await routeWeights(n, "probe"), { probe: 100 });
  });

  it("a route without a backendRef to the preview Service: Degraded, nothing deployed", async () => {
    const n = ns.a;
    await kubectl(["apply", "-n", n, "-f", "-"], httpRoute(n, "half", [{ name: "half", weight: 100 }]));
    await applyBgd(n, "half", {
      image: "half:v1",
      extraSpec: { trafficRouting: { httpRoute: { name: "half" } } },
    });
    const s = await waitStatus(n, "half", { phase: "Degraded" });
    assert.match(s.message ?? "", /HTTPRoute half has no backendRef to the preview Service \(half-preview\)/);
    assert.equal(s.conditions?.find((c) => c.type === "Degraded")?.reason, "HTTPRouteNotUsable");
    const deps = await kubectl(["get", "deployments", "-n", n, "-l", "bluegreen.io/name=half", "-o", "name"]);
    assert.equal(deps.trim(), "");
  });
});

function literal(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
