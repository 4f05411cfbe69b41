/**
 * The controller's caches of one kind: one informer per watched namespace (or one cluster-wide), read
 * as one cache by namespace and name or by label.
 */
import type { Logger } from "pino";
import { Informer, type KubeObject } from "../kube/informer.ts";
import type { ListWatcher } from "../kube/kube.ts";

/** One informer per namespace scope (or one cluster-wide), seen as one cache. */
export class ScopedInformers<T extends KubeObject> {
  readonly informers: Informer<T>[];
  readonly #byNamespace = new Map<string, Informer<T>>();
  readonly #clusterWide: Informer<T> | undefined;

  constructor(
    client: ListWatcher,
    namespaces: readonly string[],
    collection: (ns: string | undefined) => string,
    labelSelector: string | undefined,
    transform: (obj: KubeObject) => KubeObject,
    log: Logger,
    fieldSelector?: string,
    optional = false,
  ) {
    const make = (ns: string | undefined) =>
      new Informer<T>({
        source: client,
        path: collection(ns),
        ...(labelSelector !== undefined ? { labelSelector } : {}),
        ...(fieldSelector !== undefined ? { fieldSelector } : {}),
        transform,
        optional,
        log: log.child({ informer: collection(ns) }),
      });
    if (namespaces.length === 0) {
      this.#clusterWide = make(undefined);
      this.informers = [this.#clusterWide];
    } else {
      this.#clusterWide = undefined;
      for (const ns of namespaces) this.#byNamespace.set(ns, make(ns));
      this.informers = [...this.#byNamespace.values()];
    }
  }

  #for(ns: string): Informer<T> | undefined {
    return this.#clusterWide ?? this.#byNamespace.get(ns);
  }
  get(ns: string, name: string): Readonly<T> | undefined {
    return this.#for(ns)?.get(ns, name);
  }
  byLabel(ns: string, label: string, value: string): Readonly<T>[] {
    return this.#for(ns)?.byLabel(ns, label, value) ?? [];
  }
  list(): Readonly<T>[] {
    return this.informers.flatMap((i) => i.list());
  }
  on(handler: (obj: Readonly<T>) => void): void {
    for (const i of this.informers) {
      i.onAdd(handler);
      i.onUpdate((_old, obj) => handler(obj));
      i.onDelete(handler);
    }
  }
}
