/**
 * What an informer keeps: Kubernetes objects by `namespace/name`, and what a relist changed. Plain
 * data and small helpers, shared by the informer and its tests.
 */
export interface ObjectMeta {
  readonly name?: string;
  readonly namespace?: string;
  readonly resourceVersion?: string;
  readonly labels?: Readonly<Record<string, string>>;
}
export interface KubeObject {
  readonly metadata?: ObjectMeta;
}

export type StoreChange<T> =
  | { readonly type: "add"; readonly obj: T }
  | { readonly type: "update"; readonly old: T; readonly obj: T }
  | { readonly type: "delete"; readonly obj: T };

/** The store key of an object: `namespace/name`, or `name` for cluster-scoped objects. */
export function objectKey(obj: KubeObject): string {
  const ns = obj.metadata?.namespace ?? "";
  const name = obj.metadata?.name ?? "";
  return ns === "" ? name : `${ns}/${name}`;
}

/**
 * What a relist changed relative to the cache: objects that appeared, changed (by resourceVersion)
 * or vanished while the watch was not looking. Handlers see these as ordinary add/update/delete.
 */
export function diffRelist<T extends KubeObject>(
  current: ReadonlyMap<string, T>,
  fresh: ReadonlyMap<string, T>,
): StoreChange<T>[] {
  const changes: StoreChange<T>[] = [];
  for (const [key, obj] of fresh) {
    const old = current.get(key);
    if (old === undefined) changes.push({ type: "add", obj });
    else if (old.metadata?.resourceVersion !== obj.metadata?.resourceVersion)
      changes.push({ type: "update", old, obj });
  }
  for (const [key, obj] of current) if (!fresh.has(key)) changes.push({ type: "delete", obj });
  return changes;
}

/** etcd resourceVersions are integers; anything else is opaque and trusted to move forward. */
export function olderThan(rv: string, than: string): boolean {
  if (!/^\d+$/.test(rv) || !/^\d+$/.test(than)) return false;
  return BigInt(rv) < BigInt(than);
}

export function deepFreeze<T>(v: T): T {
  if (typeof v === "object" && v !== null && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const child of Object.values(v)) deepFreeze(child);
  }
  return v;
}

export function isKubeObject(v: unknown): v is KubeObject {
  if (typeof v !== "object" || v === null) return false;
  const meta = (v as { metadata?: unknown }).metadata;
  return typeof meta === "object" && meta !== null && typeof (meta as { name?: unknown }).name === "string";
}

export const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(t);
      resolve();
    };
    const t = setTimeout(() => {
      signal.removeEventListener("abort", done);
      resolve();
    }, ms);
    signal.addEventListener("abort", done, { once: true });
  });
