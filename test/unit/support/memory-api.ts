/**
 * An in-memory API store for whole-reconcile tests: it takes the writes the executor sends (server-side
 * apply, merge and JSON patches, status PUTs, Event creates) and applies them to plain objects the way
 * the API server would where the operator's correctness depends on it: resourceVersions on every
 * write, 409 on a stale conditional write, generation bumped by a spec change, 404 for what is not
 * there, Deployment defaults filled in. Failures can be injected for the next write (a conflict, an
 * unavailable server, or a crash of the operator between two writes).
 *
 * Informer caches are snapshots of this store (`Snapshot`), synced per kind, so a test can plan on a
 * cache that lags behind what was written.
 */
import { ApiError } from "../../../src/kube/api-errors.ts";

export type Obj = Record<string, unknown> & {
  metadata: Record<string, unknown> & {
    name: string;
    namespace: string;
    resourceVersion: string;
    generation?: number;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
};

/** What the next writes do instead of succeeding. */
export type Fault = "conflict" | "unavailable" | "crash";

/** The operator process died part-way through a plan (not an API answer). */
export class Crash extends Error {}

export const clone = <T>(v: T): T => structuredClone(v);
const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

/** RFC 7386 JSON merge patch (null deletes). */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return clone(patch);
  const out: Record<string, unknown> = isObject(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

/** Server-side apply as far as a single manager sees it: the applied fields set, lists replaced. */
function applyIntent(target: unknown, body: unknown): unknown {
  if (!isObject(body)) return clone(body);
  const out: Record<string, unknown> = isObject(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(body)) out[k] = applyIntent(out[k], v);
  return out;
}

function jsonPatch(target: Obj, ops: unknown): Obj {
  const out = clone(target);
  for (const op of ops as { op: string; path: string; value?: unknown }[]) {
    const keys = op.path.split("/").slice(1);
    const last = keys.pop() ?? "";
    let at: Record<string, unknown> = out;
    for (const k of keys) {
      if (!isObject(at[k])) at[k] = {};
      at = at[k] as Record<string, unknown>;
    }
    if (op.op === "add" || op.op === "replace") at[last] = clone(op.value);
    else if (op.op === "remove") delete at[last];
    else throw new Error(`unsupported JSON patch op ${op.op}`);
  }
  return out;
}

/** The defaults the API server fills into a Deployment's spec (enough to make its stored spec differ). */
function defaultDeployment(obj: Obj): Obj {
  if (obj.kind !== "Deployment") return obj;
  const spec = (obj.spec ?? {}) as Record<string, unknown>;
  return {
    ...obj,
    spec: { progressDeadlineSeconds: 600, minReadySeconds: 0, paused: false, ...spec },
  };
}

export class MemoryApi {
  readonly objects = new Map<string, Obj>();
  readonly events: Obj[] = [];
  /** Every write that reached the store, as "verb path". */
  readonly log: string[] = [];
  /** Injected: what the next writes do, one per write (`undefined`: succeed). */
  faults: (Fault | undefined)[] = [];
  /** Sees every write the operator sends, just before the store applies it. */
  onWrite: ((verb: string, path: string, body: unknown) => void) | undefined;
  #rv = 1;
  #uid = 1;

  nextVersion(): string {
    this.#rv++;
    return String(this.#rv);
  }

  get(path: string): Obj | undefined {
    return this.objects.get(path);
  }

  /** Stores `obj` as its new version (a write by anyone: the operator, a person, a controller). */
  put(path: string, obj: Obj): Obj {
    const old = this.objects.get(path);
    const stored = clone(obj);
    const meta = stored.metadata;
    meta.resourceVersion = this.nextVersion();
    if (meta.uid === undefined) meta.uid = `uid-${this.#uid++}`;
    if (stored.spec !== undefined) {
      const oldGen = old?.metadata.generation ?? 0;
      const changed = old === undefined || JSON.stringify(old.spec) !== JSON.stringify(stored.spec);
      meta.generation = changed ? oldGen + 1 : oldGen;
    }
    this.objects.set(path, stored);
    return stored;
  }

  #fault(method: string, path: string, body: unknown): void {
    const f = this.faults.shift();
    if (f === undefined) this.onWrite?.(method, path, body);
    if (f === undefined) return;
    if (f === "crash") throw new Crash(`crashed before ${method} ${path}`);
    if (f === "conflict") throw new ApiError(method, path, 409, { reason: "Conflict", message: "injected" });
    throw new ApiError(method, path, 503, { reason: "ServiceUnavailable", message: "injected" });
  }

  #existing(method: string, path: string): Obj {
    const obj = this.objects.get(path);
    if (obj === undefined) throw new ApiError(method, path, 404, { reason: "NotFound", message: path });
    return obj;
  }

  #checkVersion(method: string, path: string, current: Obj, body: unknown): void {
    const want = isObject(body) && isObject(body.metadata) ? body.metadata.resourceVersion : undefined;
    if (want !== undefined && want !== current.metadata.resourceVersion) {
      throw new ApiError(method, path, 409, { reason: "Conflict", message: "the object has been modified" });
    }
  }

  async apply<T = unknown>(path: string, body: unknown): Promise<T> {
    this.#fault("PATCH", path, body);
    this.log.push(`apply ${path}`);
    const merged = applyIntent(this.objects.get(path), body) as Obj;
    return clone(this.put(path, defaultDeployment(merged))) as T;
  }

  async patch<T = unknown>(path: string, body: unknown, type: string): Promise<T> {
    this.#fault("PATCH", path, body);
    const current = this.#existing("PATCH", path);
    this.log.push(`patch ${path}`);
    let next: Obj;
    if (type === "merge") {
      this.#checkVersion("PATCH", path, current, body);
      next = mergePatch(current, body) as Obj;
    } else if (type === "json") next = jsonPatch(current, body);
    else throw new Error(`unsupported patch type ${type}`);
    return clone(this.put(path, next)) as T;
  }

  /** Only status is replaced through the operator (PUT .../status). */
  async replace<T = unknown>(path: string, body: unknown): Promise<T> {
    this.#fault("PUT", path, body);
    if (!path.endsWith("/status")) throw new Error(`unexpected replace of ${path}`);
    const objPath = path.slice(0, -"/status".length);
    const current = this.#existing("PUT", objPath);
    this.#checkVersion("PUT", path, current, body);
    this.log.push(`replace ${path}`);
    const stored = this.put(objPath, { ...current, status: clone((body as { status?: unknown }).status) });
    return clone(stored) as T;
  }

  async create<T = unknown>(path: string, body: unknown): Promise<T> {
    this.#fault("POST", path, body);
    this.log.push(`create ${path}`);
    const obj = clone(body) as Obj;
    this.events.push(obj);
    return obj as T;
  }
}

/** An informer's view: a copy of the store's objects of some kinds, as of the last sync of each kind. */
export class Snapshot {
  readonly #api: MemoryApi;
  readonly #seen = new Map<string, Obj>();

  constructor(api: MemoryApi) {
    this.#api = api;
  }

  /** The cache catches up on every object whose path contains `kind` ("/deployments/", "/pods/"...). */
  sync(kind: string): void {
    for (const path of [...this.#seen.keys()]) if (path.includes(kind)) this.#seen.delete(path);
    for (const [path, obj] of this.#api.objects) if (path.includes(kind)) this.#seen.set(path, clone(obj));
  }

  get(path: string): Obj | undefined {
    return this.#seen.get(path);
  }

  list(kind: string, ns: string, label: string, value: string): Obj[] {
    return [...this.#seen.entries()]
      .filter(([p, o]) => p.includes(`/namespaces/${ns}/${kind}/`) && o.metadata.labels?.[label] === value)
      .map(([, o]) => o);
  }
}
