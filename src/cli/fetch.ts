/** Reads for the plugin: one BGD, a list of them, everything `get` shows, and a change feed for --watch. */
import { setTimeout as sleep } from "node:timers/promises";
import { LABEL_NAME } from "../api/labels.ts";
import { ApiError, TransportError } from "../kube/api-errors.ts";
import type { Query } from "../kube/kube.ts";
import { type BgdView, bgdView, type Json, rec, type Snapshot } from "./objects.ts";
import { bgdCollection, bgdPath, bgdTarget, explain, type Session, withTarget } from "./session.ts";

export async function getBgd(s: Session, name: string): Promise<Json> {
  return await withTarget(s, bgdTarget(s, name), async () =>
    rec(await s.client.get(bgdPath(s.namespace, name))),
  );
}

export async function getBgdView(s: Session, name: string): Promise<{ raw: Json; view: BgdView }> {
  const raw = await getBgd(s, name);
  return { raw, view: bgdView(raw) };
}

export async function listBgds(s: Session): Promise<readonly unknown[]> {
  const ns = s.allNamespaces ? undefined : s.namespace;
  const page = await withTarget(s, { kind: "bluegreendeployments" }, () =>
    s.client.listAll(bgdCollection(ns)),
  );
  return page.items;
}

/** The blue and green Deployments of a BGD (labelled by the operator with its name). */
export async function colorDeployments(s: Session, name: string): Promise<readonly Json[]> {
  const path = nsPath(s, "apps/v1", "deployments");
  const page = await withTarget(s, { kind: "deployments" }, () => s.client.listAll(path, ownedBy(name)));
  return page.items.map(rec);
}

const nsPath = (s: Session, group: string, resource: string) =>
  `${group === "" ? "/api/v1" : `/apis/${group}`}/namespaces/${s.namespace}/${resource}`;

/** What owns the BGD's pods and Deployments (the operator labels everything it makes). */
const ownedBy = (name: string): Query => ({ labelSelector: `${LABEL_NAME}=${name}` });
const eventsOf = (name: string): Query => ({
  fieldSelector: `involvedObject.name=${name},involvedObject.kind=BlueGreenDeployment`,
});

/**
 * Everything `get NAME` shows. The BGD itself must exist; the rest is best effort, so a user who may read
 * the BGD but not pods or events still gets the tree (with what they may see).
 */
export async function snapshot(s: Session, name: string): Promise<Snapshot> {
  const bgd = await getBgd(s, name);
  const view = bgdView(bgd);
  const soft = async <T>(p: Promise<T>, fallback: T): Promise<T> => {
    try {
      return await p;
    } catch {
      return fallback;
    }
  };
  const list = async (group: string, resource: string, q: Query) =>
    (await s.client.listAll(nsPath(s, group, resource), q)).items;
  const service = async (svc: string | undefined): Promise<[string, unknown] | undefined> => {
    if (svc === undefined) return undefined;
    const got = await soft(s.client.get(`${nsPath(s, "", "services")}/${svc}`), undefined);
    return [svc, got];
  };
  const [deployments, pods, events, active, preview] = await Promise.all([
    soft(list("apps/v1", "deployments", ownedBy(name)), []),
    soft(list("", "pods", ownedBy(name)), []),
    soft(list("", "events", eventsOf(name)), []),
    service(view.activeServiceName),
    service(view.previewServiceName),
  ]);
  const services: Record<string, unknown> = {};
  for (const e of [active, preview]) if (e !== undefined) services[e[0]] = e[1];
  return { bgd, deployments, pods, events, services };
}

/**
 * Calls `onChange` whenever something `get NAME` shows may have changed: the BGD, its Deployments, pods or
 * events. One watch per kind, restarted (from a fresh list) when the server ends it or it fails.
 */
export function watchChanges(s: Session, name: string, onChange: () => void, signal: AbortSignal): void {
  const feeds: [string, Query][] = [
    [bgdCollection(s.namespace), { fieldSelector: `metadata.name=${name}` }],
    [nsPath(s, "apps/v1", "deployments"), ownedBy(name)],
    [nsPath(s, "", "pods"), ownedBy(name)],
    [nsPath(s, "", "events"), eventsOf(name)],
  ];
  for (const [path, query] of feeds) void follow(s, path, query, onChange, signal);
}

async function follow(
  s: Session,
  path: string,
  query: Query,
  onChange: () => void,
  signal: AbortSignal,
): Promise<void> {
  while (!signal.aborted) {
    try {
      const page = await s.client.list(path, { ...query, limit: 1 }, signal);
      const stream = s.client.watch(
        path,
        { ...query, resourceVersion: page.resourceVersion, allowWatchBookmarks: true, timeoutSeconds: 300 },
        signal,
      );
      for await (const ev of stream) if (ev.type !== "BOOKMARK") onChange();
    } catch {
      // A failed watch only makes the view less live; the periodic refresh still runs. Retry gently.
      await sleep(1000, undefined, { signal }).catch(() => {});
    }
  }
}

/**
 * Yields the BGD each time it changes (and once at the start), until `signal` aborts. Survives watches the
 * server ends and transient failures; a failure that persists (NotFound, Forbidden) is thrown.
 */
export async function* watchBgd(s: Session, name: string, signal: AbortSignal): AsyncGenerator<Json> {
  let failures = 0;
  while (!signal.aborted) {
    let rv: string;
    try {
      const obj = rec(await s.client.get(bgdPath(s.namespace, name), { signal }));
      rv = String(rec(obj.metadata).resourceVersion ?? "");
      failures = 0;
      yield obj;
    } catch (err) {
      if (signal.aborted) return;
      if (++failures >= 5 || !isTransient(err)) throw await explain(err, s, bgdTarget(s, name));
      await sleep(Math.min(5000, 250 * 2 ** failures), undefined, { signal }).catch(() => {});
      continue;
    }
    try {
      const stream = s.client.watch(
        bgdCollection(s.namespace),
        {
          fieldSelector: `metadata.name=${name}`,
          resourceVersion: rv,
          allowWatchBookmarks: true,
          timeoutSeconds: 300,
        },
        signal,
      );
      for await (const ev of stream) {
        if (ev.type === "DELETED") throw await explain(notFound(name), s, bgdTarget(s, name));
        if (ev.type === "ADDED" || ev.type === "MODIFIED") yield rec(ev.object);
      }
    } catch (err) {
      if (signal.aborted) return;
      if (!isTransient(err)) throw err;
    }
  }
}

function isTransient(err: unknown): boolean {
  if (err instanceof TransportError) return true;
  return err instanceof ApiError && (err.code === 410 || err.code === 429 || err.code >= 500);
}

function notFound(name: string): ApiError {
  return new ApiError("GET", bgdPath("", name), 404, { reason: "NotFound", message: `${name} was deleted` });
}
