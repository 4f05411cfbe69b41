/**
 * One reconcile of one BlueGreenDeployment key: observe (caches) → plan (pure) → execute (writes).
 * It receives a key, never an event, and rebuilds its view from the caches every time.
 */
import type { Logger } from "pino";
import type { BlueGreenDeploymentStatus } from "../api/schema.ts";
import { setConditions } from "../bluegreen/conditions.ts";
import { plan, sameJson } from "../bluegreen/plan.ts";
import { HANDBACK_FINALIZER } from "../bluegreen/types.ts";
import { bgdPath, ConflictError, createEvent, execute, PermanentError, type Written } from "./executor.ts";
import type { KubeClient } from "./kube.ts";
import { type Caches, type KObject, observe } from "./observe.ts";

export interface ReconcilerDeps {
  readonly client: KubeClient;
  readonly caches: Caches;
  /** The BGD as the cache has it, or undefined once deleted. */
  readonly getBgd: (namespace: string, name: string) => unknown;
  readonly now: () => number;
  readonly log: Logger;
  /** Called once per reconcile with what happened (metrics hook). */
  readonly onResult?: (r: ReconcileOutcome) => void;
}

export interface ReconcileOutcome {
  readonly key: string;
  readonly writes: number;
  readonly phase: string | undefined;
  readonly activeColor: string | undefined;
  readonly switched: boolean;
  readonly aborted: boolean;
}

export function splitKey(key: string): [string, string] {
  const i = key.indexOf("/");
  return [key.slice(0, i), key.slice(i + 1)];
}

/**
 * Is the cached copy at least as new as the one our write produced? resourceVersions are opaque
 * by contract; etcd's are increasing integers, and anything else is compared for equality.
 */
export function cacheCaughtUp(cached: string | undefined, written: string): boolean {
  if (cached === undefined) return false;
  if (cached === written || written === "") return true;
  try {
    return BigInt(cached) >= BigInt(written);
  } catch {
    return false;
  }
}

/** How long to wait for the caches to show our own writes before planning anyway. */
const EXPECTATION_TIMEOUT_MS = 5000;

interface Expectation extends Written {
  readonly at: number;
}

export function makeReconciler(deps: ReconcilerDeps) {
  // Our last writes per key. Planning on a cache that has not seen them could, right after a
  // switch, take the new live color for the idle one and write a template to it; so a reconcile
  // first waits (briefly, as a requeue) for the caches to show what we wrote (client-go's
  // "expectations", by resourceVersion).
  const expectations = new Map<string, Expectation[]>();
  const pending = (namespace: string, key: string, now: number): boolean => {
    const list = expectations.get(key);
    if (list === undefined) return false;
    const left = list.filter((e) => {
      if (now - e.at > EXPECTATION_TIMEOUT_MS) return false;
      const cached =
        e.kind === "deployment"
          ? deps.caches.deployment(namespace, e.name)
          : deps.caches.service(namespace, e.name);
      return !cacheCaughtUp(cached?.metadata?.resourceVersion, e.resourceVersion);
    });
    if (left.length === 0) expectations.delete(key);
    else expectations.set(key, left);
    return left.length > 0;
  };

  return async function reconcile(key: string): Promise<{ requeueAfterMs?: number }> {
    const [namespace, name] = splitKey(key);
    const raw = deps.getBgd(namespace, name);
    // Deleted: owner references let the garbage collector remove what we created.
    if (raw === undefined) {
      expectations.delete(key);
      return {};
    }
    // The watch event of our own write is on its way and will enqueue this key again.
    if (pending(namespace, key, performance.now())) return { requeueAfterMs: 100 };
    const meta = (raw as KObject & { metadata?: { resourceVersion?: string } }).metadata ?? {};
    // Being deleted: only an adopted Service's hand-back (our finalizer) is left to do.
    const finalizers = (meta as { finalizers?: readonly string[] }).finalizers ?? [];
    if (meta.deletionTimestamp !== undefined && !finalizers.includes(HANDBACK_FINALIZER)) return {};
    const resourceVersion = meta.resourceVersion ?? "";
    const observation = observe(raw, deps.caches);
    const log = deps.log.child({ bgd: key });

    if (!observation.ok) {
      // Bad input the schema could not catch: say so in a condition, move nothing, do not retry
      // until the object changes.
      const old = ((raw as { status?: BlueGreenDeploymentStatus }).status ?? {}) as BlueGreenDeploymentStatus;
      const now = new Date(deps.now()).toISOString();
      const status: BlueGreenDeploymentStatus = {
        ...old,
        observedGeneration: observation.generation,
        phase: "Degraded",
        message: observation.message,
        conditions: setConditions(
          old.conditions,
          [{ type: "Degraded", status: "True", reason: "InvalidSpec", message: observation.message }],
          now,
          observation.generation,
        ),
      };
      if (!sameJson(old, status)) {
        await deps.client.replace(`${bgdPath(namespace, name)}/status`, {
          apiVersion: "bluegreen.io/v1",
          kind: "BlueGreenDeployment",
          metadata: { name, namespace, resourceVersion },
          status,
        });
        await createEvent(
          deps.client,
          observation.owner,
          "Warning",
          "InvalidSpec",
          observation.message,
        ).catch(() => {});
        log.warn({ message: observation.message }, "Refused invalid spec");
      }
      return {};
    }

    const p = plan(observation.observed, deps.now());
    try {
      await execute(
        {
          client: deps.client,
          observed: observation.observed,
          owner: observation.owner,
          resourceVersion,
          log: (msg, fields) => log.info(fields, msg),
          onWritten: (w) => {
            const list = (expectations.get(key) ?? []).filter(
              (e) => !(e.kind === w.kind && e.name === w.name),
            );
            expectations.set(key, [...list, { ...w, at: performance.now() }]);
          },
        },
        p.actions,
      );
    } catch (err) {
      if (err instanceof ConflictError) {
        // Our cache was behind; the watch event on its way will bring the new state.
        log.debug({ err: err.message }, "Conflict, requeueing");
        return { requeueAfterMs: 200 };
      }
      if (err instanceof PermanentError) {
        await reportPermanent(deps, observation.owner, raw, resourceVersion, err.message).catch(() => {});
        log.warn({ err: err.message }, "Refused by the API server");
        return {};
      }
      throw err;
    }
    const status = p.actions.find((a) => a.type === "UpdateStatus");
    deps.onResult?.({
      key,
      writes: p.actions.length,
      phase: status?.type === "UpdateStatus" ? status.status.phase : undefined,
      activeColor: status?.type === "UpdateStatus" ? status.status.activeColor : undefined,
      switched: p.actions.some(
        (a) => a.type === "ApplyService" && a.role === "active" && a.reason !== "active Service drifted",
      ),
      aborted: p.actions.some((a) => a.type === "MarkAborted"),
    });
    return p.requeueAfterMs === undefined ? {} : { requeueAfterMs: p.requeueAfterMs };
  };
}

async function reportPermanent(
  deps: ReconcilerDeps,
  owner: { name: string; namespace: string; uid: string },
  raw: unknown,
  resourceVersion: string,
  message: string,
): Promise<void> {
  const old = ((raw as { status?: BlueGreenDeploymentStatus }).status ?? {}) as BlueGreenDeploymentStatus;
  const generation = (raw as KObject).metadata?.generation ?? 0;
  const now = new Date(deps.now()).toISOString();
  const conditions = (old.conditions ?? []).filter((c) => c.type !== "Degraded");
  const status: BlueGreenDeploymentStatus = {
    ...old,
    message,
    conditions: [
      ...conditions,
      ...setConditions(
        old.conditions,
        [{ type: "Degraded", status: "True", reason: "RejectedByAPIServer", message }],
        now,
        generation,
      ),
    ],
  };
  if (sameJson(old, status)) return;
  await deps.client.replace(`${bgdPath(owner.namespace, owner.name)}/status`, {
    apiVersion: "bluegreen.io/v1",
    kind: "BlueGreenDeployment",
    metadata: { name: owner.name, namespace: owner.namespace, resourceVersion },
    status,
  });
  await createEvent(deps.client, owner, "Warning", "RejectedByAPIServer", message);
}
