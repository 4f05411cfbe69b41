/**
 * The objects the plugin's unit tests read: a BGD (v1 live, v2 awaiting approval) with its
 * Deployments, pods and events as the API returns them, at a fixed time.
 */
import { canonicalJson, desiredPodTemplate, revisionOf } from "../../../src/api/defaults.ts";
import type { BlueGreenDeployment } from "../../../src/api/schema.ts";
import type { Snapshot } from "../../../src/cli/objects.ts";

export const NOW = Date.parse("2030-01-01T12:00:00Z");
export const ago = (s: number) => new Date(NOW - s * 1000).toISOString().replace(/\.\d+Z$/, "Z");
export const later = (s: number) => new Date(NOW + s * 1000).toISOString();

export type Spec = Record<string, unknown>;
export const templateSpec = (image: string): Spec => ({
  replicas: 3,
  selector: { matchLabels: { app: "shop" } },
  template: {
    metadata: { labels: { app: "shop" } },
    spec: { containers: [{ name: "app", image, ports: [{ containerPort: 8080 }] }] },
  },
});
/** The revision the operator computes for a spec (the plugin must agree with it). */
export const rev = (spec: Spec, name = "shop") =>
  revisionOf(
    desiredPodTemplate({ metadata: { name }, spec } as Pick<BlueGreenDeployment, "metadata" | "spec">),
  );
export const templateOf = (spec: Spec, name = "shop") =>
  canonicalJson(
    desiredPodTemplate({ metadata: { name }, spec } as Pick<BlueGreenDeployment, "metadata" | "spec">),
  );

export const V1 = templateSpec("shop:v1");
export const V2 = templateSpec("shop:v2");
export const R1 = rev(V1);
export const R2 = rev(V2);

export function bgd(spec: Spec, status: Record<string, unknown>, meta: Record<string, unknown> = {}) {
  return {
    apiVersion: "bluegreen.io/v1",
    kind: "BlueGreenDeployment",
    metadata: { name: "shop", namespace: "prod", generation: 2, creationTimestamp: ago(3600), ...meta },
    spec,
    status: { observedGeneration: 2, ...status },
  };
}

export function deployment(color: string, spec: Spec, replicas: number, ready: number, annotations = {}) {
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

export function pod(color: string, revision: string, suffix: string, ready: boolean, ageS: number) {
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

export const event = (type: string, reason: string, message: string, s: number, rv: number) => ({
  metadata: { resourceVersion: String(rv) },
  type,
  reason,
  message,
  lastTimestamp: ago(s),
});

export const awaiting: Snapshot = {
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
