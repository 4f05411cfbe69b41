/**
 * What the dashboard shows, as a pure function of the objects its watches hold: the list of BGDs and one
 * BGD in detail, with each action's availability decided by the plugin's own rules (commands/actions.ts,
 * commands/edit.ts), so a disabled button gives the reason the plugin would print.
 */
import { LABEL_COLOR } from "../api/labels.ts";
import {
  decideAbort,
  decidePause,
  decidePromote,
  decideResume,
  decideRetry,
  decideRollbackKeepSpec,
  type Verdict,
} from "../cli/commands/actions.ts";
import { chooseRollback } from "../cli/commands/edit.ts";
import {
  abortAnnotation,
  arr,
  type BgdView,
  bgdView,
  COLORS,
  canaryText,
  deploymentView,
  eventView,
  isColor,
  type Json,
  podView,
  rec,
  routeText,
  str,
  strMap,
} from "../cli/objects.ts";
import { rolloutTimeline } from "./timeline.ts";
import type { ActionName, ActionView, BgdRow, ColorPanel, Detail, EventRow, ServicePanel } from "./view.ts";

/** The objects of one BGD, as the watches hold them. */
export interface Related {
  readonly deployments: readonly unknown[];
  readonly pods: readonly unknown[];
  readonly events: readonly unknown[];
  /** By Service name. */
  readonly services: Readonly<Record<string, unknown>>;
  /** EndpointSlices by the name of their Service. */
  readonly endpointSlices: Readonly<Record<string, readonly unknown[]>>;
}

export function bgdRow(raw: unknown): BgdRow {
  const b = bgdView(raw);
  return {
    key: `${b.namespace}/${b.name}`,
    namespace: b.namespace,
    name: b.name,
    phase: b.status.phase ?? "Pending",
    message: b.status.message ?? "",
    activeColor: b.status.activeColor,
    activeImage: b.status.activeImage,
    previewImage:
      b.status.previewRevision !== undefined && b.status.previewRevision !== b.status.activeRevision
        ? b.status.previewImage
        : undefined,
    ready: b.status.ready ?? "-",
    replicas: b.replicas,
    createdAt: b.creationTimestamp,
    traffic: [routeText(b), canaryText(b)].filter((t) => t !== undefined).join(" · ") || undefined,
  };
}

export function sortedRows(raws: readonly unknown[]): BgdRow[] {
  return raws.map(bgdRow).sort((a, b) => a.key.localeCompare(b.key));
}

const fromVerdict = (v: Verdict, does: (rev: string | undefined) => string): ActionView =>
  v.kind === "write"
    ? { enabled: true, revision: v.revision, text: does(v.revision) }
    : { enabled: false, revision: undefined, text: v.message };

/** Each action: what it would do now, or why it cannot; all disabled when the dashboard is read-only. */
export function actionsFor(
  b: BgdView,
  raw: unknown,
  deployments: readonly unknown[],
  readOnly: boolean,
): Record<ActionName, ActionView> {
  const ns = ` -n ${b.namespace}`;
  const active = b.status.activeColor ?? "the active color";
  let rollback: ActionView;
  try {
    const c = chooseRollback(raw, deployments);
    const how =
      c.role === "warm"
        ? `traffic switches back to ${c.color} at once (still warm)`
        : c.role === "active"
          ? `the rollout in progress stops; ${c.color} keeps serving it`
          : `${c.color} is scaled up again with it`;
    rollback = {
      enabled: true,
      revision: c.revision,
      text: `Roll back to revision ${c.revision} (${c.image}) by editing the spec (a GitOps sync undoes it): ${how}`,
    };
  } catch (err) {
    rollback = { enabled: false, revision: undefined, text: (err as Error).message.replace(/^error: /, "") };
  }
  const keep = decideRollbackKeepSpec(b, deployments.map(deploymentView), ns);
  const rollbackKeepSpec = fromVerdict(
    keep,
    (rev) =>
      `Roll back without editing the spec: live revision ${rev} is aborted; traffic switches back to ${keep.to?.color ?? "?"} (revision ${keep.to?.revision ?? "?"}, still warm) and stays until the spec moves on`,
  );
  const promoteVerdict = decidePromote(b);
  const all: Record<ActionName, ActionView> = {
    promote: fromVerdict(promoteVerdict, (rev) =>
      promoteVerdict.kind === "write" && promoteVerdict.step !== undefined
        ? `Let canary step ${promoteVerdict.step + 1}/${b.canarySteps.length} of revision ${rev} go on`
        : `Approve revision ${rev} (${b.status.previewImage ?? "?"}): traffic switches from ${active} to ${b.status.previewColor ?? "the preview color"}`,
    ),
    abort: fromVerdict(
      decideAbort(b, ns),
      (rev) => `Abort revision ${rev}: it will not be promoted; ${active} keeps serving`,
    ),
    retry: fromVerdict(decideRetry(b), (rev) =>
      abortAnnotation(b) !== undefined
        ? `Retry: revision ${rev} was aborted; the rollout starts again`
        : `Retry: re-run the Inconclusive gate checks of revision ${rev}`,
    ),
    rollback,
    rollbackKeepSpec,
    pause: fromVerdict(decidePause(b), () => `Pause ${b.name}: the rollout stays where it is`),
    resume: fromVerdict(decideResume(b, ns), () => `Resume ${b.name}`),
  };
  if (!readOnly) return all;
  const off: ActionView = {
    enabled: false,
    revision: undefined,
    text: "the dashboard runs read-only (--read-only)",
  };
  return {
    promote: off,
    abort: off,
    retry: off,
    rollback: off,
    rollbackKeepSpec: off,
    pause: off,
    resume: off,
  };
}

function servicePanel(
  name: string,
  role: "active" | "preview",
  raw: unknown,
  slices: readonly unknown[],
): ServicePanel {
  const c = strMap(rec(rec(raw).spec).selector)[LABEL_COLOR];
  const ready: string[] = [];
  const notReady: string[] = [];
  for (const slice of slices) {
    for (const ep of arr(rec(slice).endpoints)) {
      const e = rec(ep);
      // EndpointSlice semantics: a missing `ready` counts as ready.
      const isReady = rec(e.conditions).ready !== false;
      for (const a of arr(e.addresses)) {
        const addr = str(a);
        if (addr !== undefined) (isReady ? ready : notReady).push(addr);
      }
    }
  }
  return {
    name,
    role,
    exists: raw !== undefined,
    color: isColor(c) ? c : undefined,
    readyEndpoints: ready.sort(),
    notReadyEndpoints: notReady.sort(),
  };
}

export function eventRows(raws: readonly unknown[]): EventRow[] {
  return raws
    .map(eventView)
    .sort((a, b) => (Date.parse(b.time ?? "") || 0) - (Date.parse(a.time ?? "") || 0) || b.order - a.order)
    .map((e) => ({ time: e.time, type: e.type, reason: e.reason, message: e.message, count: e.count }));
}

export function detailOf(raw: unknown, related: Related, readOnly: boolean): Detail {
  const b = bgdView(raw);
  const deployments = related.deployments.map(deploymentView);
  const pods = related.pods.map(podView);
  const services: ServicePanel[] = [];
  services.push(
    servicePanel(
      b.activeServiceName,
      "active",
      related.services[b.activeServiceName],
      related.endpointSlices[b.activeServiceName] ?? [],
    ),
  );
  if (b.previewServiceName !== undefined) {
    services.push(
      servicePanel(
        b.previewServiceName,
        "preview",
        related.services[b.previewServiceName],
        related.endpointSlices[b.previewServiceName] ?? [],
      ),
    );
  }
  const colors: ColorPanel[] = COLORS.map((color) => {
    const d = deployments.find((x) => x.color === color);
    return {
      color,
      roles: services.filter((s) => s.color === color).map((s) => s.role),
      exists: d !== undefined,
      revision: d?.revision,
      image: d?.image,
      replicas: d?.replicas ?? 0,
      readyReplicas: d?.readyReplicas ?? 0,
      scaleDownAt: d?.scaleDownAt,
      pods: pods
        .filter((p) => p.color === color)
        .sort((x, y) => x.name.localeCompare(y.name))
        .map((p) => ({ name: p.name, ready: p.ready, status: p.status, ip: p.ip })),
    };
  });
  const events = eventRows(related.events);
  const history = arr(rec(rec(raw).status).history).map((h) => {
    const x = rec(h);
    return {
      revision: str(x.revision) ?? "?",
      image: str(x.image),
      promotedAt: str(x.promotedAt),
      switchedFrom: isColor(x.switchedFrom) ? x.switchedFrom : undefined,
      trigger: str(x.trigger),
    };
  });
  return {
    row: bgdRow(raw),
    desiredRevision: b.desiredRevision,
    activeRevision: b.status.activeRevision,
    previewRevision: b.status.previewRevision,
    colors,
    services,
    history,
    timeline: rolloutTimeline(rec(raw) as Json, events),
    events: events.slice(0, 30),
    gates: b.status.gates,
    conditions: b.status.conditions.map((c) => ({
      type: c.type,
      status: c.status,
      reason: c.reason,
      message: c.message,
    })),
    actions: actionsFor(b, raw, related.deployments, readOnly),
  };
}
