/**
 * The objects we own, rendered as plain data from the BGD and a color. Pure: the executor sends
 * them with server-side apply, observe compares them with the cache to decide "nothing to do".
 */
import type { BlueGreenDeploymentSpec } from "../api/schema.ts";
import type { Color, Desired, PodTemplate } from "./types.ts";

export const MANAGED_BY_LABELS = { "app.kubernetes.io/managed-by": "bluegreen-operator" } as const;

export interface Owner {
  readonly name: string;
  readonly namespace: string;
  readonly uid: string;
}

export const deploymentName = (bgd: string, color: Color): string => `${bgd}-${color}`;
export const activeServiceName = (bgd: string, spec: BlueGreenDeploymentSpec): string =>
  spec.service?.name ?? bgd;
export const previewServiceName = (bgd: string, spec: BlueGreenDeploymentSpec): string =>
  spec.preview?.serviceName ?? `${bgd}-preview`;

function ownerReference(owner: Owner) {
  return {
    apiVersion: "bluegreen.io/v1",
    kind: "BlueGreenDeployment",
    name: owner.name,
    uid: owner.uid,
    controller: true,
    blockOwnerDeletion: true,
  };
}

export function colorSelector(owner: Owner, desired: Desired, color: Color): Record<string, string> {
  return { ...desired.selector, "bluegreen.io/name": owner.name, "bluegreen.io/color": color };
}

function antiAffinity(
  spec: BlueGreenDeploymentSpec,
  owner: Owner,
  color: Color,
): Record<string, unknown> | undefined {
  const mode = spec.strategy?.antiAffinity ?? "None";
  if (mode === "None") return undefined;
  // Keep the two colors on different nodes so one node failure cannot take down both the live
  // color and the warm one we would roll back to.
  const term = {
    labelSelector: {
      matchLabels: {
        "bluegreen.io/name": owner.name,
        "bluegreen.io/color": color === "blue" ? "green" : "blue",
      },
    },
    topologyKey: "kubernetes.io/hostname",
  };
  return mode === "Required"
    ? { requiredDuringSchedulingIgnoredDuringExecution: [term] }
    : { preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 100, podAffinityTerm: term }] };
}

export function renderPodTemplate(
  spec: BlueGreenDeploymentSpec,
  owner: Owner,
  desired: Desired,
  color: Color,
): PodTemplate {
  const t = desired.template;
  const podSpec: Record<string, unknown> = { ...t.spec };
  const anti = antiAffinity(spec, owner, color);
  if (anti !== undefined) {
    const affinity = (podSpec.affinity ?? {}) as Record<string, unknown>;
    podSpec.affinity = { ...affinity, podAntiAffinity: anti };
  }
  return {
    metadata: {
      labels: {
        ...(t.metadata?.labels ?? {}),
        "bluegreen.io/name": owner.name,
        "bluegreen.io/color": color,
        "bluegreen.io/revision": desired.revision,
      },
      ...(t.metadata?.annotations !== undefined ? { annotations: { ...t.metadata.annotations } } : {}),
    },
    spec: podSpec,
  };
}

export function renderDeployment(
  spec: BlueGreenDeploymentSpec,
  owner: Owner,
  desired: Desired,
  color: Color,
  replicas: number,
): Record<string, unknown> {
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: {
      name: deploymentName(owner.name, color),
      namespace: owner.namespace,
      labels: { ...MANAGED_BY_LABELS, "bluegreen.io/name": owner.name, "bluegreen.io/color": color },
      annotations: {
        "bluegreen.io/revision": desired.revision,
        "bluegreen.io/template": desired.canonical,
        // Cleared on every new template: a deadline belongs to the revision that retired.
        "bluegreen.io/scale-down-at": "",
      },
      ownerReferences: [ownerReference(owner)],
    },
    spec: {
      replicas,
      selector: { matchLabels: colorSelector(owner, desired, color) },
      // The idle color serves no traffic while its template changes, so replacing all pods at
      // once is safe and halves the pods a rollout needs.
      strategy: { type: "Recreate" },
      revisionHistoryLimit: 1,
      template: renderPodTemplate(spec, owner, desired, color),
    },
  };
}

/** A color's bluegreen.io/template annotation as a pod template; `undefined` when absent or not one. */
export function parsePodTemplate(canonical: string | undefined): PodTemplate | undefined {
  if (canonical === undefined) return undefined;
  try {
    const t = JSON.parse(canonical) as unknown;
    return typeof t === "object" && t !== null && typeof (t as PodTemplate).spec === "object"
      ? (t as PodTemplate)
      : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The JSON patch that puts a hand-edited color Deployment back: its own template (`own`: a warm old
 * color keeps its revision), our strategy, and the fields we never set back at their defaults (a
 * `kubectl rollout pause` included). JSON patch "add" replaces whole values, so a container or env var
 * someone added goes too, which server-side apply would keep (it only removes fields it owned).
 */
export function renderDeploymentRepair(
  spec: BlueGreenDeploymentSpec,
  owner: Owner,
  own: Desired,
  color: Color,
): { op: "add"; path: string; value: unknown }[] {
  const body = renderDeployment(spec, owner, own, color, 0) as { spec: Record<string, unknown> };
  const fields: Record<string, unknown> = {
    template: body.spec.template,
    strategy: body.spec.strategy,
    revisionHistoryLimit: body.spec.revisionHistoryLimit,
    minReadySeconds: 0,
    progressDeadlineSeconds: 600,
    paused: false,
  };
  return Object.entries(fields).map(([f, value]) => ({ op: "add", path: `/spec/${f}`, value }));
}

export function servicePort(spec: BlueGreenDeploymentSpec, desired: Desired): Record<string, unknown> {
  const containers = (desired.template.spec.containers ?? []) as ReadonlyArray<{
    ports?: { containerPort?: number }[];
  }>;
  const first = containers[0]?.ports?.[0]?.containerPort;
  return {
    name: "http",
    protocol: "TCP",
    port: spec.service?.port ?? 80,
    targetPort: spec.service?.targetPort ?? first ?? 8080,
  };
}

export function renderService(
  spec: BlueGreenDeploymentSpec,
  owner: Owner,
  desired: Desired,
  role: "active" | "preview",
  color: Color,
): Record<string, unknown> {
  const name = role === "active" ? activeServiceName(owner.name, spec) : previewServiceName(owner.name, spec);
  const annotations = role === "active" ? spec.service?.annotations : undefined;
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: {
      name,
      namespace: owner.namespace,
      labels: { ...MANAGED_BY_LABELS, "bluegreen.io/name": owner.name, "bluegreen.io/role": role },
      ...(annotations !== undefined ? { annotations: { ...annotations } } : {}),
      ownerReferences: [ownerReference(owner)],
    },
    spec: {
      type: role === "active" ? (spec.service?.type ?? "ClusterIP") : "ClusterIP",
      selector: colorSelector(owner, desired, color),
      ports: [servicePort(spec, desired)],
      sessionAffinity: role === "active" ? (spec.service?.sessionAffinity ?? "None") : "None",
    },
  };
}
