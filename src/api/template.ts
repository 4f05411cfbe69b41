/**
 * What the user asked to run, in one form whether they wrote a full pod template or the image shorthand, and
 * the revision that identifies it. Pure functions: no client, no clock.
 */
import { createHash } from "node:crypto";
import { DEFAULTS } from "./labels.ts";
import type { BlueGreenDeployment } from "./schema.ts";

/** The port of the shorthand's container when spec.port is omitted. */
export const DEFAULT_SHORTHAND_PORT = DEFAULTS.containerPort;

export interface EffectiveContainer {
  name: string;
  image: string;
  [field: string]: unknown;
}

/** A core/v1 PodTemplateSpec as the user meant it; fields we do not model are carried as written. */
export interface EffectivePodTemplate {
  metadata: { labels: Record<string, string>; annotations?: Record<string, string> };
  spec: { containers: EffectiveContainer[]; [field: string]: unknown };
}

type Bgd = Pick<BlueGreenDeployment, "metadata" | "spec">;

/**
 * The pod template to run: a deep copy of spec.template, or for the shorthand one container named after the
 * BlueGreenDeployment with its image and port, labelled app: <name>.
 */
export function desiredPodTemplate(bgd: Bgd): EffectivePodTemplate {
  const { spec } = bgd;
  const name = bgd.metadata.name;
  if (spec.template === undefined) {
    return {
      metadata: { labels: { app: name } },
      spec: {
        containers: [
          { name, image: spec.image ?? "", ports: [{ containerPort: spec.port ?? DEFAULT_SHORTHAND_PORT }] },
        ],
      },
    };
  }
  // structuredClone keeps the fields the schema preserves but does not model (resources, probes, ...).
  const template = structuredClone(spec.template) as {
    metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> };
    spec: EffectivePodTemplate["spec"];
  };
  const metadata: EffectivePodTemplate["metadata"] = { labels: template.metadata?.labels ?? {} };
  if (template.metadata?.annotations !== undefined) metadata.annotations = template.metadata.annotations;
  return { ...template, metadata, spec: template.spec };
}

/**
 * The labels that select this BlueGreenDeployment's pods (without the color label the operator adds):
 * spec.selector.matchLabels, else the template's labels, else app: <name> for the shorthand.
 */
export function effectiveSelector(bgd: Bgd): Record<string, string> {
  const { spec } = bgd;
  if (spec.selector !== undefined) return { ...spec.selector.matchLabels };
  if (spec.template !== undefined) return { ...(spec.template.metadata?.labels ?? {}) };
  return { app: bgd.metadata.name };
}

/**
 * JSON with object keys sorted at every level, so equal values give equal strings whatever order their keys
 * were written or decoded in. Properties whose value is undefined are left out, as JSON.stringify does.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== "object") {
    const s = JSON.stringify(value);
    return s === undefined ? "null" : s;
  }
  if (Array.isArray(value)) return `[${value.map((v) => canonicalJson(v)).join(",")}]`;
  if (value instanceof Date) return JSON.stringify(value);
  const entries = Object.entries(value)
    .filter(([, v]) => v !== undefined && typeof v !== "function" && typeof v !== "symbol")
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
}

/** The revision of a pod template: 10 lowercase hex characters of the SHA-256 of its canonical JSON. */
export function revisionOf(template: EffectivePodTemplate | unknown): string {
  return createHash("sha256").update(canonicalJson(template)).digest("hex").slice(0, 10);
}

/**
 * The hash recorded in bluegreen.io/spec-hash: of a Deployment's spec as stored (defaults filled in),
 * without replicas, which we scale on their own and which drift-repair treats apart.
 */
export function specHashOf(spec: unknown): string {
  const { replicas: _replicas, ...rest } = (spec ?? {}) as Record<string, unknown>;
  return createHash("sha256").update(canonicalJson(rest)).digest("hex").slice(0, 16);
}

/**
 * The template's container images, comma-separated (status and the Image printer column). Takes any pod
 * template shape, e.g. one read back from a Deployment, and skips containers without an image.
 */
export function imagesOf(template: { readonly spec?: unknown }): string {
  const spec = template.spec as { containers?: unknown } | undefined;
  const containers = Array.isArray(spec?.containers) ? (spec.containers as unknown[]) : [];
  return containers
    .map((c) => (typeof c === "object" && c !== null ? (c as { image?: unknown }).image : undefined))
    .filter((image): image is string => typeof image === "string" && image !== "")
    .join(",");
}
