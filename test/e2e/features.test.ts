/**
 * Features that had no end-to-end test: the plugin's pause and resume, status.servingPods, the
 * active Service's sessionAffinity; Services with more than one port and named target ports, and
 * antiAffinity merged with the user's own pod anti-affinity.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { applyBgd, deployment, getStatus, serviceSelector, waitStatus } from "./bgd.ts";
import { namespacesWithOperator } from "./fixture.ts";
import { FAST_PODS, kubectl, kubectlJson, waitUntil } from "./lib.ts";
import { pluginForFile } from "./plugin-bin.ts";

const { ns } = namespacesWithOperator("ft", ["pause", "serving", "affinity", "ports"] as const, {
  name: "features",
});
/** `kubectl bluegreen ARGS` through the real kubectl, with the plugin from source. */
const plugin = pluginForFile();

interface Svc {
  spec: { sessionAffinity?: string; selector?: Record<string, string> };
}

describe("features", { concurrency: true }, () => {
  it("kubectl bluegreen pause holds a new revision back; resume lets it roll out", async () => {
    const n = ns.pause;
    const strategy = { promotion: { mode: "Auto" }, scaleDownDelaySeconds: 0 };
    await applyBgd(n, "app", { image: "app:v1", strategy });
    await waitStatus(n, "app", { phase: "Stable", activeColor: "blue" });

    const paused = await plugin(["pause", "app", "-n", n]);
    assert.equal(paused.code, 0, paused.stderr);
    assert.match(paused.stdout, /paused: a rollout stays where it is/);
    const again = await plugin(["pause", "app", "-n", n]);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /is already paused/);

    await applyBgd(n, "app", { image: "app:v2", strategy });
    await waitStatus(n, "app", { phase: "Paused" });
    await sleep(3000); // an automatic promotion would have rolled v2 out by now
    const held = await getStatus(n, "app");
    assert.equal(held.phase, "Paused");
    assert.equal(held.activeColor, "blue");
    assert.equal(held.activeImage, "app:v1");
    assert.equal((await serviceSelector(n, "app"))?.["bluegreen.io/color"], "blue");
    const green = await deployment(n, "app-green");
    assert.notEqual(
      green?.spec.template.spec.containers[0]?.image,
      "app:v2",
      "v2 was not written while paused",
    );

    const resumed = await plugin(["resume", "app", "-n", n]);
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.match(resumed.stdout, /resumed/);
    const done = await waitStatus(n, "app", { phase: "Stable", activeColor: "green" }, 90_000);
    assert.equal(done.activeImage, "app:v2");
    const notPaused = await plugin(["resume", "app", "-n", n]);
    assert.equal(notPaused.code, 0, notPaused.stderr);
    assert.match(notPaused.stdout, /is not paused/);

    // Paused by the manifest: resume says where to change it, and exits 1.
    await kubectl(["patch", "bgd", "app", "-n", n, "--type=merge", "-p", '{"spec":{"paused":true}}']);
    const bySpec = await plugin(["resume", "app", "-n", n]);
    assert.equal(bySpec.code, 1);
    assert.match(bySpec.stderr, /is paused by spec\.paused in its manifest: set it to false there/);
  });

  it("status.servingPods names the ready pods behind the active Service, and follows the switch", async () => {
    const n = ns.serving;
    const strategy = { promotion: { mode: "Auto" }, scaleDownDelaySeconds: 0 };
    const readyPods = async (color: string) => {
      const pods = await kubectlJson<{
        items: {
          metadata: { name: string };
          status: { podIP?: string; conditions?: { type: string; status: string }[] };
        }[];
      }>(["get", "pods", "-n", n, "-l", `bluegreen.io/name=app,bluegreen.io/color=${color}`]);
      return pods.items
        .filter((p) => p.status.conditions?.some((c) => c.type === "Ready" && c.status === "True"))
        .map((p) => `${p.metadata.name} ${color} ready ${p.status.podIP}`)
        .sort();
    };
    type Serving = { name: string; color: string; ready: boolean; ip?: string };
    const serving = async () => {
      const o = await kubectlJson<{ status?: { servingPods?: Serving[] } }>(["get", "bgd", "app", "-n", n]);
      return (o.status?.servingPods ?? [])
        .map((p) => `${p.name} ${p.color} ${p.ready ? "ready" : "unready"} ${p.ip}`)
        .sort();
    };
    for (const [image, color] of [
      ["app:v1", "blue"],
      ["app:v2", "green"],
    ] as const) {
      await applyBgd(n, "app", { image, strategy });
      await waitStatus(n, "app", { phase: "Stable", activeColor: color, activeImage: image }, 90_000);
      // The status follows the pods a moment later (the old color's pods terminate): wait until stable.
      const want = await waitUntil(`servingPods = the ${color} pods`, 30_000, async () => {
        const [live, listed] = [await readyPods(color), await serving()];
        return live.length === 3 && JSON.stringify(live) === JSON.stringify(listed) ? live : undefined;
      });
      assert.ok(
        want.every((p) => !p.endsWith(" undefined")),
        "each with its IP",
      );
    }
  });

  it("spec.service.sessionAffinity applies to the active Service only, and a change needs no rollout", async () => {
    const n = ns.affinity;
    const service = { sessionAffinity: "ClientIP" };
    await applyBgd(n, "app", { image: "app:v1", extraSpec: { service } });
    const stable = await waitStatus(n, "app", { phase: "Stable", activeColor: "blue" });
    const affinity = async (svc: string) =>
      (await kubectlJson<Svc>(["get", "service", svc, "-n", n])).spec.sessionAffinity;
    assert.equal(await affinity("app"), "ClientIP");
    assert.equal(await affinity("app-preview"), "None", "the preview is for tests, not sticky users");

    await applyBgd(n, "app", { image: "app:v1", extraSpec: { service: { sessionAffinity: "None" } } });
    await waitUntil(
      "the active Service without affinity",
      30_000,
      async () => (await affinity("app")) === "None",
    );
    const later = await waitStatus(n, "app", { phase: "Stable", activeColor: "blue" });
    assert.equal(later.activeRevision, stable.activeRevision, "no new revision");
  });

  it("Services carry http and metrics ports to named container ports; antiAffinity keeps the user's terms", async () => {
    const n = ns.ports;
    const zoneSpread = {
      weight: 50,
      podAffinityTerm: {
        labelSelector: { matchLabels: { app: "app" } },
        topologyKey: "topology.kubernetes.io/zone",
      },
    };
    const bgd = {
      apiVersion: "bluegreen.io/v1",
      kind: "BlueGreenDeployment",
      metadata: { name: "app" },
      spec: {
        replicas: 2,
        selector: { matchLabels: { app: "app" } },
        template: {
          metadata: { labels: { app: "app" }, annotations: FAST_PODS },
          spec: {
            terminationGracePeriodSeconds: 1,
            affinity: { podAntiAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [zoneSpread] } },
            containers: [
              {
                name: "app",
                image: "app:v1",
                ports: [
                  { name: "web", containerPort: 8080 },
                  { name: "metrics", containerPort: 9090 },
                ],
              },
            ],
          },
        },
        service: {
          targetPort: "web",
          additionalPorts: [{ name: "metrics", port: 9090, targetPort: "metrics" }],
        },
        strategy: { antiAffinity: "Preferred" },
      },
    };
    await kubectl(["apply", "-n", n, "-f", "-"], JSON.stringify(bgd));
    await waitStatus(n, "app", { phase: "Stable", activeColor: "blue" });

    interface Ports {
      metadata: { resourceVersion: string };
      spec: { ports: { name: string; port: number; targetPort: number | string; protocol: string }[] };
    }
    const want = [
      { name: "http", port: 80, targetPort: "web", protocol: "TCP" },
      { name: "metrics", port: 9090, targetPort: "metrics", protocol: "TCP" },
    ];
    for (const svc of ["app", "app-preview"]) {
      const got = (await kubectlJson<Ports>(["get", "service", svc, "-n", n])).spec.ports;
      assert.deepEqual(
        got.map((p) => ({ name: p.name, port: p.port, targetPort: p.targetPort, protocol: p.protocol })),
        want,
        svc,
      );
    }
    // The EndpointSlice controller resolves the named ports on the pods: both reach the app.
    const resolved = await waitUntil("the active Service's endpoints on both ports", 30_000, async () => {
      const slices = await kubectlJson<{
        items: {
          ports?: { name: string; port: number }[];
          endpoints?: { conditions?: { ready?: boolean } }[];
        }[];
      }>(["get", "endpointslices", "-n", n, "-l", "kubernetes.io/service-name=app"]);
      const ready = slices.items
        .flatMap((s) => s.endpoints ?? [])
        .filter((e) => e.conditions?.ready === true);
      const portsSeen = slices.items.flatMap((s) => s.ports ?? []).map((p) => `${p.name}=${p.port}`);
      return ready.length === 2 ? portsSeen.sort() : undefined;
    });
    assert.deepEqual(resolved, ["http=8080", "metrics=9090"]);
    // What we render is what the API server stores: no repair loop on the Service.
    const rv = (await kubectlJson<Ports>(["get", "service", "app", "-n", n])).metadata.resourceVersion;
    await sleep(3000);
    assert.equal((await kubectlJson<Ports>(["get", "service", "app", "-n", n])).metadata.resourceVersion, rv);

    const dep = await kubectlJson<{
      spec: { template: { spec: { affinity?: { podAntiAffinity?: Record<string, unknown[]> } } } };
    }>(["get", "deployment", "app-blue", "-n", n]);
    const preferred =
      dep.spec.template.spec.affinity?.podAntiAffinity?.preferredDuringSchedulingIgnoredDuringExecution ?? [];
    assert.equal(preferred.length, 2, JSON.stringify(preferred));
    assert.deepEqual(preferred[0], zoneSpread, "the user's term is kept, first");
    assert.deepEqual(preferred[1], {
      weight: 100,
      podAffinityTerm: {
        labelSelector: { matchLabels: { "bluegreen.io/name": "app", "bluegreen.io/color": "green" } },
        topologyKey: "kubernetes.io/hostname",
      },
    });
  });
});
