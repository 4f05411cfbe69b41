/**
 * The objects we own, rendered as plain data from the BGD and a color. Pure: writes.ts puts them in
 * the writes the executor sends, services.ts compares a cached Service with them ("nothing to do").
 */
import {
  ANNOTATION_REVISION,
  ANNOTATION_SCALE_DOWN_AT,
  ANNOTATION_TEMPLATE,
  API_VERSION,
  activeServiceName,
  DEFAULTS,
  deploymentName,
  KIND,
  LABEL_COLOR,
  LABEL_MANAGED_BY,
  LABEL_NAME,
  LABEL_REVISION,
  LABEL_ROLE,
  MANAGED_BY,
  previewServiceName,
} from "../api/labels.ts";
import type { BlueGreenDeploymentSpec } from "../api/schema.ts";
import type { Color, Desired, PodTemplate } from "./types.ts";

export { activeServiceName, deploymentName, previewServiceName };

export const MANAGED_BY_LABELS = { [LABEL_MANAGED_BY]: MANAGED_BY } as const;

export interface Owner {
  readonly name: string;
  readonly namespace: string;
  readonly uid: string;
}

function ownerReference(owner: Owner) {
  return {
    apiVersion: API_VERSION,
    kind: KIND,
    name: owner.name,
    uid: owner.uid,
    controller: true,
    blockOwnerDeletion: true,
  };
}

export function colorSelector(owner: Owner, desired: Desired, color: Color): Record<string, string> {
  return { ...desired.selector, [LABEL_NAME]: owner.name, [LABEL_COLOR]: color };
}

function antiAffinity(
  spec: BlueGreenDeploymentSpec,
  owner: Owner,
  color: Color,
): Record<string, unknown> | undefined {
  const mode = spec.strategy?.antiAffinity ?? DEFAULTS.antiAffinity;
  if (mode === "None") return undefined;
  // Keep the two colors on different nodes so one node failure cannot take down both the live
  // color and the warm one we would roll back to.
  const term = {
    labelSelector: {
      matchLabels: {
        [LABEL_NAME]: owner.name,
        [LABEL_COLOR]: color === "blue" ? "green" : "blue",
      },
    },
    topologyKey: "kubernetes.io/hostname",
  };
  return mode === "Required"
    ? { requiredDuringSchedulingIgnoredDuringExecution: [term] }
    : { preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 100, podAffinityTerm: term }] };
}

/**
 * The user's own pod anti-affinity (spread over zones, away from another app) stays: our term is
 * added to its list, never put in its place. Rendered from the user's template every time, so the
 * term is never added twice.
 */
function mergeAntiAffinity(user: unknown, ours: Record<string, unknown>): Record<string, unknown> {
  const merged: Record<string, unknown> = { ...((user ?? {}) as Record<string, unknown>) };
  for (const [key, terms] of Object.entries(ours)) {
    const theirs = Array.isArray(merged[key]) ? (merged[key] as unknown[]) : [];
    merged[key] = [...theirs, ...(terms as unknown[])];
  }
  return merged;
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
    podSpec.affinity = { ...affinity, podAntiAffinity: mergeAntiAffinity(affinity.podAntiAffinity, anti) };
  }
  return {
    metadata: {
      labels: {
        ...(t.metadata?.labels ?? {}),
        [LABEL_NAME]: owner.name,
        [LABEL_COLOR]: color,
        [LABEL_REVISION]: desired.revision,
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
      labels: { ...MANAGED_BY_LABELS, [LABEL_NAME]: owner.name, [LABEL_COLOR]: color },
      annotations: {
        [ANNOTATION_REVISION]: desired.revision,
        [ANNOTATION_TEMPLATE]: desired.canonical,
        // Cleared on every new template: a deadline belongs to the revision that retired.
        [ANNOTATION_SCALE_DOWN_AT]: "",
      },
      ownerReferences: [ownerReference(owner)],
    },
    spec: {
      replicas,
      selector: { matchLabels: colorSelector(owner, desired, color) },
      // The idle color serves no traffic while its template changes, so replacing all pods at
      // once is safe and halves the pods a rollout needs. Not `Recreate`: that creates no new pod
      // until every old one has finished its graceful termination, which on a release onto the
      // warm previous color costs up to its terminationGracePeriodSeconds. Surging the whole new
      // template while the whole old one goes at once starts both together; a color with no pods
      // (nothing warm) gets exactly its new pods, as with `Recreate`.
      strategy: { type: "RollingUpdate", rollingUpdate: { maxSurge: "100%", maxUnavailable: "100%" } },
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

/**
 * The Service's ports: the main one, always named http (what traffic and the preview are about), then
 * spec.service.additionalPorts in their order (e.g. metrics), each with its targetPort made explicit
 * so the rendered Service compares equal to what the API server stores.
 */
export function servicePorts(spec: BlueGreenDeploymentSpec, desired: Desired): Record<string, unknown>[] {
  const extra = (spec.service?.additionalPorts ?? []).map((p) => ({
    name: p.name,
    protocol: p.protocol ?? "TCP",
    port: p.port,
    targetPort: p.targetPort ?? p.port,
  }));
  return [servicePort(spec, desired), ...extra];
}

export function servicePort(spec: BlueGreenDeploymentSpec, desired: Desired): Record<string, unknown> {
  const containers = (desired.template.spec.containers ?? []) as ReadonlyArray<{
    ports?: { containerPort?: number }[];
  }>;
  const first = containers[0]?.ports?.[0]?.containerPort;
  return {
    name: "http",
    protocol: "TCP",
    port: spec.service?.port ?? DEFAULTS.servicePort,
    targetPort: spec.service?.targetPort ?? first ?? DEFAULTS.containerPort,
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
      labels: { ...MANAGED_BY_LABELS, [LABEL_NAME]: owner.name, [LABEL_ROLE]: role },
      ...(annotations !== undefined ? { annotations: { ...annotations } } : {}),
      ownerReferences: [ownerReference(owner)],
    },
    spec: {
      type: role === "active" ? (spec.service?.type ?? DEFAULTS.serviceType) : DEFAULTS.serviceType,
      selector: colorSelector(owner, desired, color),
      ports: servicePorts(spec, desired),
      sessionAffinity:
        role === "active"
          ? (spec.service?.sessionAffinity ?? DEFAULTS.sessionAffinity)
          : DEFAULTS.sessionAffinity,
    },
  };
}
