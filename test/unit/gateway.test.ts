/** The gateway harness's reading of Envoy's live route configuration (test/harness/gateway.ts). */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { routeWeightsIn } from "../harness/gateway.ts";

/** Envoy's config_dump?resource=dynamic_route_configs as Contour v1.33 programs it (trimmed). */
const dump = (route: Record<string, unknown>, domains = ["app.test"]) => ({
  configs: [
    {
      "@type": "type.googleapis.com/envoy.admin.v3.RoutesConfigDump.DynamicRouteConfig",
      route_config: {
        name: "http-80",
        virtual_hosts: [
          {
            name: "other.test",
            domains: ["other.test"],
            routes: [{ match: { prefix: "/" }, route: { cluster: "ns/x/80/da39a3ee5e" } }],
          },
          { name: domains[0], domains, routes: [{ match: { prefix: "/" }, ...route }] },
        ],
      },
    },
  ],
});

describe("Envoy route weights", () => {
  it("reads weighted clusters as percent per Service", () => {
    const d = dump({
      route: {
        weighted_clusters: {
          clusters: [
            { name: "ns/app-blue/80/da39a3ee5e", weight: 90 },
            { name: "ns/app-green/80/da39a3ee5e", weight: 10 },
          ],
        },
      },
    });
    assert.deepEqual(routeWeightsIn(d, "app.test"), { "app-blue": 90, "app-green": 10 });
  });

  it("normalises weights that do not add up to 100, and keeps a weight of 0", () => {
    const d = dump({
      route: {
        weighted_clusters: {
          clusters: [
            { name: "ns/a/80/da39a3ee5e", weight: 0 },
            { name: "ns/b/80/da39a3ee5e", weight: 3 },
            { name: "ns/c/80/da39a3ee5e", weight: 1 },
          ],
        },
      },
    });
    assert.deepEqual(routeWeightsIn(d, "app.test"), { a: 0, b: 75, c: 25 });
  });

  it("reads a single backend as 100 % and matches a host:* domain", () => {
    assert.deepEqual(
      routeWeightsIn(dump({ route: { cluster: "ns/app/80/da39a3ee5e" } }, ["app.test:*"]), "app.test"),
      {
        app: 100,
      },
    );
  });

  it("has no shares while the backends are missing (a direct 500) or the host has no route", () => {
    assert.equal(routeWeightsIn(dump({ direct_response: { status: 500 } }), "app.test"), undefined);
    assert.equal(routeWeightsIn(dump({ route: { cluster: "ns/app/80/h" } }), "nope.test"), undefined);
    assert.equal(routeWeightsIn({}, "app.test"), undefined);
  });

  it("reads a whole config dump too (route configurations nested under dynamic_route_configs)", () => {
    const whole = {
      configs: [{ dynamic_route_configs: dump({ route: { cluster: "ns/app/80/h" } }).configs }],
    };
    assert.deepEqual(routeWeightsIn(whole, "app.test"), { app: 100 });
  });
});
