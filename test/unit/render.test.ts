/** The objects we own as data: the Services' ports and the pod anti-affinity merged with the user's. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { renderPodTemplate, renderService } from "../../src/bluegreen/render.ts";
import { desiredOf, NAME, NAMESPACE, specOf, UID, type UserSpec } from "./support/observed.ts";

const owner = { name: NAME, namespace: NAMESPACE, uid: UID };

/** A templated app with http and metrics container ports. */
const app = (service: UserSpec = {}, strategy: UserSpec = {}, affinity?: UserSpec): UserSpec => ({
  replicas: 3,
  selector: { matchLabels: { app: NAME } },
  template: {
    metadata: { labels: { app: NAME } },
    spec: {
      containers: [
        {
          name: "web",
          image: "web:v1",
          ports: [
            { name: "http", containerPort: 8080 },
            { name: "metrics", containerPort: 9090 },
          ],
        },
      ],
      ...(affinity !== undefined ? { affinity } : {}),
    },
  },
  service,
  strategy,
});

const ports = (user: UserSpec, role: "active" | "preview" = "active") => {
  const spec = specOf(user);
  const svc = renderService(spec, owner, desiredOf(spec), role, "blue") as { spec: { ports: unknown[] } };
  return svc.spec.ports;
};

describe("Service ports", () => {
  it("one port named http by default, to the first container port", () => {
    assert.deepEqual(ports(app()), [{ name: "http", protocol: "TCP", port: 80, targetPort: 8080 }]);
  });
  it("additional ports follow the main one, on both Services, with named or defaulted target ports", () => {
    const user = app({
      targetPort: "http",
      additionalPorts: [
        { name: "metrics", port: 9090, targetPort: "metrics" },
        { name: "syslog", port: 514, protocol: "UDP" },
      ],
    });
    const want = [
      { name: "http", protocol: "TCP", port: 80, targetPort: "http" },
      { name: "metrics", protocol: "TCP", port: 9090, targetPort: "metrics" },
      { name: "syslog", protocol: "UDP", port: 514, targetPort: 514 },
    ];
    assert.deepEqual(ports(user), want);
    assert.deepEqual(ports(user, "preview"), want);
  });
});

type Affinity = {
  nodeAffinity?: unknown;
  podAntiAffinity?: Record<string, { topologyKey?: string; podAffinityTerm?: { topologyKey: string } }[]>;
};
const affinityOf = (user: UserSpec): Affinity => {
  const spec = specOf(user);
  return (
    (renderPodTemplate(spec, owner, desiredOf(spec), "blue").spec as { affinity?: Affinity }).affinity ?? {}
  );
};

describe("antiAffinity merges with the user's pod anti-affinity", () => {
  const zoneSpread = {
    weight: 50,
    podAffinityTerm: {
      labelSelector: { matchLabels: { app: NAME } },
      topologyKey: "topology.kubernetes.io/zone",
    },
  };
  const notWithDb = { labelSelector: { matchLabels: { app: "db" } }, topologyKey: "kubernetes.io/hostname" };
  const node = {
    requiredDuringSchedulingIgnoredDuringExecution: {
      nodeSelectorTerms: [{ matchExpressions: [{ key: "pool", operator: "In", values: ["web"] }] }],
    },
  };

  it("Preferred adds its term after the user's preferred terms and keeps the user's required ones and nodeAffinity", () => {
    const a = affinityOf(
      app(
        {},
        { antiAffinity: "Preferred" },
        {
          nodeAffinity: node,
          podAntiAffinity: {
            preferredDuringSchedulingIgnoredDuringExecution: [zoneSpread],
            requiredDuringSchedulingIgnoredDuringExecution: [notWithDb],
          },
        },
      ),
    );
    assert.deepEqual(a.nodeAffinity, node);
    const preferred = a.podAntiAffinity?.preferredDuringSchedulingIgnoredDuringExecution ?? [];
    assert.equal(preferred.length, 2);
    assert.deepEqual(preferred[0], zoneSpread);
    assert.deepEqual(preferred[1], {
      weight: 100,
      podAffinityTerm: {
        labelSelector: { matchLabels: { "bluegreen.io/name": NAME, "bluegreen.io/color": "green" } },
        topologyKey: "kubernetes.io/hostname",
      },
    });
    assert.deepEqual(a.podAntiAffinity?.requiredDuringSchedulingIgnoredDuringExecution, [notWithDb]);
  });
  it("Required adds its term to the user's required terms", () => {
    const a = affinityOf(
      app(
        {},
        { antiAffinity: "Required" },
        {
          podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [notWithDb] },
        },
      ),
    );
    const required = a.podAntiAffinity?.requiredDuringSchedulingIgnoredDuringExecution ?? [];
    assert.deepEqual(required[0], notWithDb);
    assert.equal(required.length, 2);
    assert.deepEqual(required[1], {
      labelSelector: { matchLabels: { "bluegreen.io/name": NAME, "bluegreen.io/color": "green" } },
      topologyKey: "kubernetes.io/hostname",
    });
  });
  it("None leaves the user's affinity exactly as written; rendering twice adds nothing twice", () => {
    const user = { podAntiAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [zoneSpread] } };
    assert.deepEqual(affinityOf(app({}, { antiAffinity: "None" }, user)), user);
    const spec = specOf(app({}, { antiAffinity: "Preferred" }, user));
    const desired = desiredOf(spec);
    const once = renderPodTemplate(spec, owner, desired, "blue");
    const twice = renderPodTemplate(spec, owner, desired, "blue");
    assert.deepEqual(twice, once);
    assert.deepEqual(
      (desired.template.spec as { affinity?: unknown }).affinity,
      user,
      "the desired template is not changed by rendering",
    );
  });
});
