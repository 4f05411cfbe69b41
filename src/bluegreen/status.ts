/** The status a plan writes: built whole from the Step and the cluster, diffed, written once. */
import { LABEL_COLOR, LABEL_NAME } from "../api/labels.ts";
import type { BlueGreenDeploymentStatus } from "../api/schema.ts";
import { type ConditionInput, setConditions } from "./conditions.ts";
import { routeSplit } from "./route.ts";
import { iso, runsDesired, type Settings } from "./situation.ts";
import type { Step } from "./step.ts";
import { COLORS, type Decision, type Observed } from "./types.ts";

export function finish(o: Observed, s: Settings, now: number, step: Step): Decision {
  const active = step.activeColor;
  const live = active !== undefined ? o.colors[active] : undefined;
  const colors: Record<string, unknown> = {};
  for (const c of COLORS) {
    const dep = o.colors[c];
    if (dep === undefined) continue;
    const role = c === active ? "active" : c === step.previewColor ? "preview" : "idle";
    colors[c] = {
      revision: dep.revision,
      image: dep.image,
      replicas: dep.replicas,
      readyReplicas: dep.readyPods,
      role,
    };
  }
  const promoted = live !== undefined && runsDesired(o, live);
  const conditions: ConditionInput[] = [
    {
      type: "Available",
      status:
        live !== undefined && live.readyPods >= s.replicas && o.activeEndpoints[live.color] >= s.replicas
          ? "True"
          : "False",
      reason:
        live === undefined
          ? "NoActiveColor"
          : live.readyPods >= s.replicas
            ? "AllReplicasReady"
            : "ReplicasNotReady",
      message:
        live === undefined
          ? "No color is serving yet"
          : `${live.readyPods}/${s.replicas} ready on ${live.color}`,
    },
    {
      type: "Progressing",
      status: step.phase === "Stable" || step.phase === "Aborted" ? "False" : "True",
      reason: step.phase,
      message: step.message,
    },
  ];
  const stale = step.conditions.find((c) => c.type === "Promoted");
  conditions.push(
    stale ?? {
      type: "Promoted",
      status: promoted ? "True" : "False",
      reason: promoted ? "RevisionActive" : "AwaitingPromotion",
      message: promoted
        ? `Revision ${o.desired.revision} is active`
        : `Revision ${o.desired.revision} is not active yet`,
    },
  );
  const degraded = step.conditions.find((c) => c.type === "Degraded");
  conditions.push(degraded ?? { type: "Degraded", status: "False", reason: "Healthy", message: "" });

  const nowIso = iso(now);
  const selector = Object.entries({
    ...o.desired.selector,
    [LABEL_NAME]: o.name,
    ...(active ? { [LABEL_COLOR]: active } : {}),
  })
    .map(([k, v]) => `${k}=${v}`)
    .join(",");
  const preview = step.previewColor !== undefined ? o.colors[step.previewColor] : undefined;
  const status = compact({
    observedGeneration: o.generation,
    phase: step.phase,
    message: step.message,
    activeColor: active,
    previewColor: step.previewColor,
    activeRevision: live?.revision,
    previewRevision: preview !== undefined ? o.desired.revision : undefined,
    activeImage: live?.image,
    previewImage: preview?.image,
    replicas: live?.replicas ?? 0,
    readyReplicas: live?.readyPods ?? 0,
    ready: `${live?.readyPods ?? 0}/${s.replicas}`,
    selector,
    colors,
    conditions: setConditions(
      o.status.conditions as Parameters<typeof setConditions>[0],
      conditions,
      nowIso,
      o.generation,
    ),
    rollout: step.rollout,
    history: step.history,
    traffic: trafficOf(o),
    gates: step.gates,
    servingPods: o.pods.filter((p) => p.color === active).slice(0, 20),
  }) as BlueGreenDeploymentStatus;

  const actions = [...step.actions];
  // The status write goes first among the bookkeeping: when our cache was stale it fails with a
  // conflict, and the phase Event below is then not recorded twice.
  if (!sameJson(o.status, status)) actions.push({ type: "UpdateStatus", status });
  if (o.status.phase !== status.phase && status.phase !== undefined) {
    actions.push({
      type: "Event",
      eventType: status.phase === "Aborted" || status.phase === "Degraded" ? "Warning" : "Normal",
      reason: status.phase,
      message: step.message,
    });
  }
  const next = step.requeueAt.filter((t) => t >= now);
  const requeueAfterMs = next.length > 0 ? Math.max(10, Math.min(...next) - now) : undefined;
  return { actions, requeueAfterMs };
}

/** The split the route shows now (the cluster's truth; the canary's target is in rollout.canary). */
function trafficOf(o: Observed): BlueGreenDeploymentStatus["traffic"] {
  if (o.route === undefined) return undefined;
  const split = o.route.exists ? routeSplit(o.route) : undefined;
  return {
    httpRoute: o.route.name,
    ...(split !== undefined ? { activeWeight: split.active, previewWeight: split.preview } : {}),
  };
}

function compact<T extends Record<string, unknown>>(o: T): T {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) out[k] = v;
  return out as T;
}

/** Deep equality through canonical JSON (key order ignored, undefined dropped). */
export function sameJson(a: unknown, b: unknown): boolean {
  return stable(a) === stable(b);
}
function stable(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) => {
    if (x !== null && typeof x === "object" && !Array.isArray(x)) {
      return Object.fromEntries(
        Object.entries(x as Record<string, unknown>).sort(([p], [q]) => (p < q ? -1 : p > q ? 1 : 0)),
      );
    }
    return x;
  });
}
