/**
 * One reconcile of one BlueGreenDeployment key: observe (caches) → plan (pure) → execute (writes).
 * It receives a key, never an event, and rebuilds its view from the caches every time. Every outcome
 * (a step of a rollout, an invalid spec, a write the API server refused) is a plan the one executor
 * writes.
 */
import { hostname } from "node:os";
import type { Logger } from "pino";
import type { BlueGreenDeploymentStatus } from "../api/schema.ts";
import type { GateWork } from "../bluegreen/gates/plan-gates.ts";
import { plan } from "../bluegreen/plan.ts";
import { planInvalidSpec, planRefused } from "../bluegreen/refusal.ts";
import { HANDBACK_FINALIZER, type Plan } from "../bluegreen/types.ts";
import { ConflictError, execute, PermanentError, type Writer, type Written } from "./executor.ts";
import { type Caches, type KObject, observe } from "./observe.ts";

export interface ReconcilerDeps {
  readonly client: Writer;
  readonly caches: Caches;
  /** The BGD as the cache has it, or undefined once deleted. */
  readonly getBgd: (namespace: string, name: string) => unknown;
  /** The one clock (ms since the epoch): plans, Event times and the wait for our own writes read it. */
  readonly now: () => number;
  readonly log: Logger;
  /** Names this operator in the Events it records; default the host name. */
  readonly instance?: string;
  /** The gate runner: measurements the plan asks for run there, off this reconcile. */
  readonly gates?: {
    readonly run: (key: string, namespace: string, work: GateWork) => void;
    readonly forget: (id: string) => void;
  };
  /**
   * Told each status this reconcile wrote, after the write went through, with the status it replaced:
   * notifications are derived from that transition (announced once, never again after a restart).
   */
  readonly onStatusWritten?: (
    bgd: unknown,
    before: BlueGreenDeploymentStatus | undefined,
    after: BlueGreenDeploymentStatus,
  ) => void;
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
  const instance = deps.instance ?? hostname();
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
          : e.kind === "service"
            ? deps.caches.service(namespace, e.name)
            : deps.caches.httpRoute?.(namespace, e.name);
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
    if (pending(namespace, key, deps.now())) return { requeueAfterMs: 100 };
    const meta = (raw as KObject).metadata ?? {};
    // Being deleted: only an adopted Service's hand-back (our finalizer) is left to do.
    const finalizers = (meta as { finalizers?: readonly string[] }).finalizers ?? [];
    if (meta.deletionTimestamp !== undefined && !finalizers.includes(HANDBACK_FINALIZER)) return {};
    const resourceVersion = meta.resourceVersion ?? "";
    const observation = observe(raw, deps.caches);
    const log = deps.log.child({ bgd: key });
    const now = deps.now();
    const run = (p: Plan, rv: string) =>
      execute(
        {
          client: deps.client,
          key,
          generation: meta.generation ?? 0,
          resourceVersion: rv,
          log: (msg, fields) => log.info(fields, msg),
          onWritten: (w) => {
            const list = (expectations.get(key) ?? []).filter(
              (e) => !(e.kind === w.kind && e.name === w.name),
            );
            expectations.set(key, [...list, { ...w, at: deps.now() }]);
          },
        },
        p.actions,
      );
    const refused = (message: string) => ({
      owner: observation.owner,
      generation: meta.generation ?? 0,
      status: ((raw as { status?: BlueGreenDeploymentStatus }).status ?? {}) as BlueGreenDeploymentStatus,
      message,
    });

    const p = observation.ok
      ? plan(observation.observed, now, instance)
      : planInvalidSpec(refused(observation.message), now, instance);
    try {
      await run(p, resourceVersion);
    } catch (err) {
      if (err instanceof ConflictError) {
        // Our cache was behind; the watch event on its way will bring the new state.
        log.debug({ err: err.message }, "Conflict, requeueing");
        return { requeueAfterMs: 200 };
      }
      if (err instanceof PermanentError) {
        await run(planRefused(refused(err.message), now, instance), resourceVersion).catch(() => {});
        log.warn({ err: err.message }, "Refused by the API server");
        return {};
      }
      throw err;
    }
    // Only once the plan's writes (its status with the recorded results among them) went through.
    const before = (raw as { status?: BlueGreenDeploymentStatus }).status;
    for (const a of p.actions) {
      if (a.type === "RunMeasurement") deps.gates?.run(key, namespace, a.work);
      else if (a.type === "ForgetMeasurement") deps.gates?.forget(a.id);
      else if (a.type === "UpdateStatus") deps.onStatusWritten?.(raw, before, a.status);
    }
    if (!observation.ok) {
      if (p.actions.length > 0) log.warn({ message: observation.message }, "Refused invalid spec");
      return {};
    }
    return p.requeueAfterMs === undefined ? {} : { requeueAfterMs: p.requeueAfterMs };
  };
}
