import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ApiError } from "../../src/kube/api-errors.ts";
import { diffRelist, Informer, type KubeObject } from "../../src/kube/informer.ts";
import type { ListPage, ListWatcher, Query, WatchEvent } from "../../src/kube/kube.ts";

interface ConfigMap extends KubeObject {
  readonly metadata: {
    readonly name: string;
    readonly namespace: string;
    readonly resourceVersion: string;
    readonly labels?: Record<string, string>;
  };
  readonly data?: Record<string, string>;
}

const cm = (name: string, rv: number, labels?: Record<string, string>, ns = "ns"): ConfigMap => ({
  metadata: { name, namespace: ns, resourceVersion: String(rv), ...(labels === undefined ? {} : { labels }) },
});
const ev = (type: WatchEvent["type"], object: KubeObject): WatchEvent => ({
  type,
  object: object as Record<string, unknown>,
});
const bookmark = (rv: number): WatchEvent => ({
  type: "BOOKMARK",
  object: { metadata: { resourceVersion: String(rv) } },
});

type WatchScript = (signal: AbortSignal | undefined) => AsyncIterable<WatchEvent>;

/** Answers lists and watches from scripts, and records what the informer asked for. */
class ScriptedSource implements ListWatcher {
  readonly lists: Query[] = [];
  readonly watches: Query[] = [];
  readonly listAnswers: (() => ListPage)[] = [];
  readonly watchAnswers: WatchScript[] = [];

  async list(_path: string, query: Query): Promise<ListPage> {
    this.lists.push(query);
    const answer = this.listAnswers.shift();
    if (answer === undefined) throw new Error("unexpected list");
    return answer();
  }

  watch(_path: string, query: Query, signal?: AbortSignal): AsyncIterable<WatchEvent> {
    this.watches.push(query);
    return (this.watchAnswers.shift() ?? hangs)(signal);
  }
}

const page =
  (items: ConfigMap[], resourceVersion: string, cont?: string): (() => ListPage) =>
  () => ({
    items,
    resourceVersion,
    continue: cont,
  });

/** A watch that delivers `events` then, if `end` is given, fails with it; otherwise it ends cleanly. */
const streams = (events: WatchEvent[], end?: Error): WatchScript =>
  async function* () {
    for (const e of events) yield e;
    if (end !== undefined) throw end;
  };

/** A watch that stays open without events until the informer aborts it. */
const hangs: WatchScript = async function* (signal) {
  await new Promise<void>((resolve) => {
    if (signal?.aborted === true) resolve();
    signal?.addEventListener("abort", () => resolve(), { once: true });
  });
};

async function until(what: string, cond: () => boolean): Promise<void> {
  for (let i = 0; i < 2000; i++) {
    if (cond()) return;
    await new Promise((r) => setTimeout(r, 1));
  }
  assert.fail(`never saw: ${what}`);
}

function recorder(inf: Informer<ConfigMap>): string[] {
  const seen: string[] = [];
  inf.onAdd((o) => seen.push(`add ${o.metadata.name}@${o.metadata.resourceVersion}`));
  inf.onUpdate((a, b) =>
    seen.push(`update ${b.metadata.name}@${a.metadata.resourceVersion}->${b.metadata.resourceVersion}`),
  );
  inf.onDelete((o) => seen.push(`delete ${o.metadata.name}`));
  return seen;
}

const fastBackoff = { initialMs: 1, maxMs: 4 };

describe("diffRelist", () => {
  it("reports objects that appeared, changed resourceVersion or vanished, and nothing else", () => {
    const current = new Map([
      ["ns/same", cm("same", 1)],
      ["ns/changed", cm("changed", 2)],
      ["ns/gone", cm("gone", 3)],
    ]);
    const fresh = new Map([
      ["ns/same", cm("same", 1)],
      ["ns/changed", cm("changed", 7)],
      ["ns/new", cm("new", 8)],
    ]);
    const changes = diffRelist(current, fresh).map((c) => `${c.type} ${c.obj.metadata.name}`);
    assert.deepEqual(changes.sort(), ["add new", "delete gone", "update changed"]);
  });
});

describe("Informer", () => {
  it("lists page by page, announces every object, then reports synced", async () => {
    const src = new ScriptedSource();
    src.listAnswers.push(page([cm("a", 5), cm("b", 6)], "10", "token-1"), page([cm("c", 7)], "10"));
    const inf = new Informer<ConfigMap>({
      source: src,
      path: "/api/v1/configmaps",
      labelSelector: "x=y",
      pageSize: 2,
    });
    const seen = recorder(inf);
    assert.equal(inf.hasSynced(), false);
    inf.start();
    await inf.waitForSync();
    assert.equal(inf.hasSynced(), true);
    assert.deepEqual(seen, ["add a@5", "add b@6", "add c@7"]);
    assert.deepEqual(src.lists, [
      { labelSelector: "x=y", fieldSelector: undefined, limit: 2 },
      { labelSelector: "x=y", fieldSelector: undefined, limit: 2, continue: "token-1" },
    ]);
    assert.equal(inf.get("ns", "c")?.metadata.resourceVersion, "7");
    assert.equal(inf.list("ns").length, 3);
    assert.equal(inf.list("other").length, 0);
    await until("a watch", () => src.watches.length === 1);
    await inf.stop();
  });

  it("watches from the list's resourceVersion with bookmarks and a 5 to 10 minute server timeout", async () => {
    const src = new ScriptedSource();
    src.listAnswers.push(page([], "10"));
    const inf = new Informer<ConfigMap>({ source: src, path: "/api/v1/configmaps" });
    inf.start();
    await until("a watch", () => src.watches.length === 1);
    const q = src.watches[0];
    assert.equal(q?.resourceVersion, "10");
    assert.equal(q?.allowWatchBookmarks, true);
    assert.ok(typeof q?.timeoutSeconds === "number" && q.timeoutSeconds >= 300 && q.timeoutSeconds < 600);
    await inf.stop();
  });

  it("resumes the next watch from the last resourceVersion an event or bookmark carried", async () => {
    const src = new ScriptedSource();
    src.listAnswers.push(page([cm("a", 5)], "10"));
    src.watchAnswers.push(
      streams([ev("ADDED", cm("b", 11)), ev("MODIFIED", cm("a", 12)), bookmark(20)]),
      streams([ev("DELETED", cm("b", 21))], new Error("connection reset")),
    );
    const inf = new Informer<ConfigMap>({ source: src, path: "/api/v1/configmaps", backoff: fastBackoff });
    const seen = recorder(inf);
    inf.start();
    await until("three watches", () => src.watches.length === 3);
    assert.deepEqual(
      src.watches.map((w) => w.resourceVersion),
      ["10", "20", "21"],
    );
    assert.equal(src.lists.length, 1, "a watch that ends or breaks resumes; it does not relist");
    assert.deepEqual(seen, ["add a@5", "add b@11", "update a@5->12", "delete b"]);
    assert.equal(inf.lastSyncResourceVersion(), "21");
    await inf.stop();
  });

  it("relists on 410 Gone and turns the differences into add, update and delete events", async () => {
    const src = new ScriptedSource();
    src.listAnswers.push(
      page([cm("keep", 1), cm("edit", 2), cm("drop", 3)], "10"),
      page([cm("keep", 1), cm("edit", 40), cm("fresh", 41)], "50"),
    );
    const gone = new ApiError("GET", "/api/v1/configmaps", 410, { reason: "Expired", message: "too old" });
    src.watchAnswers.push(streams([], gone));
    const inf = new Informer<ConfigMap>({ source: src, path: "/api/v1/configmaps", backoff: fastBackoff });
    const seen = recorder(inf);
    inf.start();
    await until("a watch after the relist", () => src.watches.length === 2);
    assert.equal(src.lists.length, 2);
    assert.deepEqual(seen.slice(3).sort(), ["add fresh@41", "delete drop", "update edit@2->40"]);
    assert.equal(src.watches[1]?.resourceVersion, "50");
    assert.deepEqual(
      inf
        .list()
        .map((o) => o.metadata.name)
        .sort(),
      ["edit", "fresh", "keep"],
    );
    await inf.stop();
  });

  it("an optional type that is not served (404: no CRD) is an empty synced cache, listed again until it is", async () => {
    const src = new ScriptedSource();
    const notFound = () => {
      throw new ApiError("GET", "/apis/gateway.networking.k8s.io/v1/httproutes", 404, { reason: "NotFound" });
    };
    src.listAnswers.push(notFound, notFound, page([cm("route", 5)], "10"));
    const inf = new Informer<ConfigMap>({
      source: src,
      path: "/apis/gateway.networking.k8s.io/v1/httproutes",
      backoff: fastBackoff,
      optional: true,
    });
    const seen = recorder(inf);
    inf.start();
    await inf.waitForSync();
    assert.equal(inf.list().length, 0);
    await until("the type served at the third list", () => inf.list().length === 1);
    assert.deepEqual(seen, ["add route@5"]);
    assert.equal(src.lists.length, 3);
    await inf.stop();
  });

  it("a 404 on a type that is not optional stays a failure: not synced", async () => {
    const src = new ScriptedSource();
    src.listAnswers.push(() => {
      throw new ApiError("GET", "/api/v1/configmaps", 404, { reason: "NotFound" });
    });
    const inf = new Informer<ConfigMap>({ source: src, path: "/api/v1/configmaps", backoff: fastBackoff });
    inf.start();
    await until("a list retried after the 404", () => src.lists.length >= 2);
    assert.equal(inf.hasSynced(), false);
    await inf.stop();
  });

  it("keeps retrying a failing list until the apiserver answers", async () => {
    const src = new ScriptedSource();
    const down = () => {
      throw new Error("connect ECONNREFUSED 127.0.0.1:6443");
    };
    src.listAnswers.push(down, down, down, page([cm("a", 1)], "5"));
    const warnings: string[] = [];
    const log = { debug() {}, info() {}, warn: (_o: object, msg: string) => warnings.push(msg) };
    const inf = new Informer<ConfigMap>({
      source: src,
      path: "/api/v1/configmaps",
      backoff: fastBackoff,
      log,
    });
    inf.start();
    await inf.waitForSync();
    assert.equal(src.lists.length, 4);
    assert.deepEqual(warnings, ["List failed, retrying", "List failed, retrying", "List failed, retrying"]);
    await inf.stop();
  });

  it("keeps the label index current as labels change and objects go", async () => {
    const src = new ScriptedSource();
    const L = "bluegreen.io/name";
    src.listAnswers.push(page([cm("app-blue", 1, { [L]: "app" }), cm("other", 2, { [L]: "other" })], "10"));
    let release = () => {};
    const gate = new Promise<void>((r) => {
      release = r;
    });
    src.watchAnswers.push(async function* () {
      await gate;
      yield ev("ADDED", cm("app-green", 11, { [L]: "app" }));
      yield ev("ADDED", cm("app-blue", 12, { [L]: "app" }, "elsewhere"));
      yield ev("MODIFIED", cm("other", 13, { [L]: "app" }));
      yield ev("MODIFIED", cm("app-blue", 14, {}));
      yield ev("DELETED", cm("app-green", 15, { [L]: "app" }));
    });
    const inf = new Informer<ConfigMap>({ source: src, path: "/api/v1/configmaps" });
    inf.start();
    await inf.waitForSync();
    const names = () =>
      inf
        .byLabel("ns", L, "app")
        .map((o) => o.metadata.name)
        .sort();
    assert.deepEqual(names(), ["app-blue"]);
    release();
    await until("all events", () => inf.lastSyncResourceVersion() === "15");
    assert.deepEqual(names(), ["other"]);
    assert.deepEqual(
      inf.byLabel("elsewhere", L, "app").map((o) => o.metadata.name),
      ["app-blue"],
    );
    assert.deepEqual(inf.byLabel("ns", L, "other"), []);
    await inf.stop();
  });

  it("caches and hands out what its transform keeps, for listed objects and watch events alike", async () => {
    const src = new ScriptedSource();
    src.listAnswers.push(page([{ ...cm("a", 1), data: { k: "v", big: "x".repeat(100) } }], "10"));
    src.watchAnswers.push(
      streams([
        ev("ADDED", { ...cm("b", 11), data: { k: "w", big: "y" } } as ConfigMap),
        ev("MODIFIED", { ...cm("a", 12), data: { k: "v2", big: "z" } } as ConfigMap),
      ]),
    );
    const keepK = (o: KubeObject): KubeObject => {
      const c = o as ConfigMap;
      return { metadata: c.metadata, data: { k: c.data?.k ?? "" } } as ConfigMap;
    };
    const inf = new Informer<ConfigMap>({ source: src, path: "/api/v1/configmaps", transform: keepK });
    const handed: unknown[] = [];
    inf.onAdd((o) => handed.push(o.data));
    inf.onUpdate((_old, o) => handed.push(o.data));
    inf.start();
    await until("both events", () => inf.lastSyncResourceVersion() === "12");
    assert.deepEqual(inf.get("ns", "a")?.data, { k: "v2" });
    assert.deepEqual(inf.get("ns", "b")?.data, { k: "w" });
    assert.deepEqual(handed, [{ k: "v" }, { k: "w" }, { k: "v2" }]);
    assert.ok(Object.isFrozen(inf.get("ns", "b")));
    await inf.stop();
  });

  it("hands out frozen objects, so a reconcile cannot edit the cache by accident", async () => {
    const src = new ScriptedSource();
    src.listAnswers.push(page([{ ...cm("a", 1), data: { k: "v" } }], "10"));
    const inf = new Informer<ConfigMap>({ source: src, path: "/api/v1/configmaps" });
    inf.start();
    await inf.waitForSync();
    const obj = inf.get("ns", "a") as { data: Record<string, string> };
    assert.throws(() => {
      obj.data.k = "changed";
    }, TypeError);
    await inf.stop();
  });

  it("stops: aborts the open watch and rejects those still waiting for a sync", async () => {
    const src = new ScriptedSource();
    src.listAnswers.push(() => {
      throw new Error("apiserver down");
    });
    const inf = new Informer<ConfigMap>({
      source: src,
      path: "/api/v1/configmaps",
      backoff: { initialMs: 60_000 },
    });
    inf.start();
    const waiting = inf.waitForSync();
    await until("the first list", () => src.lists.length === 1);
    await inf.stop();
    await assert.rejects(waiting, /stopped before it synced/);
    assert.equal(src.lists.length, 1);
  });

  it("refuses handlers registered after start", async () => {
    const src = new ScriptedSource();
    src.listAnswers.push(page([], "1"));
    const inf = new Informer<ConfigMap>({ source: src, path: "/api/v1/configmaps" });
    inf.start();
    assert.throws(() => inf.onAdd(() => {}), /after start/);
    await inf.stop();
  });
});
