/**
 * Role metadata on pods (Scenario 23): the pods of the live color carry
 * spec.strategy.activeMetadata, those of the preview color previewMetadata, and the keys of a
 * role a color no longer has are removed — so the labels swap on promotion. Written on the pods
 * themselves: changing the Deployment's template would restart the live pods.
 */
import type { Action, Color, Observed } from "./types.ts";

type Meta = {
  readonly labels?: Readonly<Record<string, string>>;
  readonly annotations?: Readonly<Record<string, string>>;
};

function diff(
  have: Readonly<Record<string, string>>,
  want: Readonly<Record<string, string>> | undefined,
  drop: ReadonlyArray<Readonly<Record<string, string>> | undefined>,
): Record<string, string | null> {
  const patch: Record<string, string | null> = {};
  for (const [k, v] of Object.entries(want ?? {})) if (have[k] !== v) patch[k] = v;
  // Only what another role put there, with its value: a label a person set stays.
  for (const other of drop) {
    for (const [k, v] of Object.entries(other ?? {})) {
      if (!(k in (want ?? {})) && have[k] === v) patch[k] = null;
    }
  }
  return patch;
}

export function planPodMetadata(
  o: Observed,
  active: Color | undefined,
  preview: Color | undefined,
): Action[] {
  const activeMeta: Meta | undefined = o.spec.strategy?.activeMetadata;
  const previewMeta: Meta | undefined = o.spec.strategy?.previewMetadata;
  if (activeMeta === undefined && previewMeta === undefined) return [];
  const actions: Action[] = [];
  for (const pod of o.podMetadata ?? []) {
    const role = pod.color === active ? "active" : pod.color === preview ? "preview" : "idle";
    const want = role === "active" ? activeMeta : role === "preview" ? previewMeta : undefined;
    const others = [activeMeta, previewMeta].filter((m) => m !== undefined && m !== want);
    const labels = diff(
      pod.labels,
      want?.labels,
      others.map((m) => m?.labels),
    );
    const annotations = diff(
      pod.annotations,
      want?.annotations,
      others.map((m) => m?.annotations),
    );
    if (Object.keys(labels).length > 0 || Object.keys(annotations).length > 0) {
      actions.push({ type: "PatchPodMetadata", pod: pod.name, labels, annotations });
    }
  }
  return actions;
}
