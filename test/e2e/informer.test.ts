/**
 * The informer and KubeClient against the real local control plane: list, watch, label selectors,
 * a quiet period longer than client-node's 30 s watch idle timeout, and typed API errors.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { ApiError, isAlreadyExists, isConflict, isInvalid, isNotFound } from "../../src/kube/api-errors.ts";
import { Informer, type KubeObject } from "../../src/kube/informer.ts";
import {
  KubeClient,
  type ListPage,
  type ListWatcher,
  loadKubeConfig,
  type Query,
  type WatchEvent,
} from "../../src/kube/kube.ts";
import { deleteNamespace, env, kubectl, newNamespace, waitUntil } from "./lib.ts";

interface ConfigMap extends KubeObject {
  readonly metadata: {
    readonly name: string;
    readonly namespace: string;
    readonly resourceVersion: string;
    readonly labels?: Record<string, string>;
    readonly managedFields?: readonly { readonly manager?: string; readonly operation?: string }[];
  };
  readonly data?: Record<string, string>;
}

/** Counts the requests an informer makes, to tell one long watch from many short ones. */
class CountingSource implements ListWatcher {
  lists = 0;
  watches = 0;
  readonly #inner: ListWatcher;
  constructor(inner: ListWatcher) {
    this.#inner = inner;
  }
  list(path: string, query: Query, signal?: AbortSignal): Promise<ListPage> {
    this.lists++;
    return this.#inner.list(path, query, signal);
  }
  watch(path: string, query: Query, signal?: AbortSignal): AsyncIterable<WatchEvent> {
    this.watches++;
    return this.#inner.watch(path, query, signal);
  }
}

function recorder(inf: Informer<ConfigMap>): string[] {
  const seen: string[] = [];
  inf.onAdd((o) => seen.push(`add ${o.metadata.name}`));
  inf.onUpdate((_a, b) => seen.push(`update ${b.metadata.name}`));
  inf.onDelete((o) => seen.push(`delete ${o.metadata.name}`));
  return seen;
}

describe("Informer on the local control plane", { concurrency: true }, () => {
  let client: KubeClient;
  const namespaces: string[] = [];
  before(() => {
    client = new KubeClient(loadKubeConfig(env("KUBECONFIG")));
  });
  after(async () => {
    for (const ns of namespaces) await deleteNamespace(ns);
  });

  it("lists existing ConfigMaps, then follows kubectl's create, update and delete", async () => {
    const ns = await newNamespace("informer");
    namespaces.push(ns);
    await kubectl(["create", "configmap", "existing", "-n", ns, "--from-literal=k=v1"]);
    const inf = new Informer<ConfigMap>({ source: client, path: `/api/v1/namespaces/${ns}/configmaps` });
    const seen = recorder(inf);
    assert.equal(inf.hasSynced(), false);
    inf.start();
    try {
      await inf.waitForSync(AbortSignal.timeout(30_000));
      assert.equal(inf.hasSynced(), true);
      assert.equal(inf.get(ns, "existing")?.data?.k, "v1");
      assert.ok(seen.includes("add existing"));

      await kubectl(["create", "configmap", "created", "-n", ns, "--from-literal=k=a"]);
      await waitUntil("the created ConfigMap in the cache", 20_000, async () => inf.get(ns, "created"));
      await kubectl(["patch", "configmap", "created", "-n", ns, "-p", '{"data":{"k":"b"}}']);
      await waitUntil("the update in the cache", 20_000, async () => inf.get(ns, "created")?.data?.k === "b");
      await kubectl(["delete", "configmap", "created", "-n", ns]);
      await waitUntil("the delete in the cache", 20_000, async () => inf.get(ns, "created") === undefined);
      assert.deepEqual(
        seen.filter((s) => s.endsWith(" created")),
        ["add created", "update created", "delete created"],
      );
      assert.deepEqual(
        inf
          .list(ns)
          .map((o) => o.metadata.name)
          .sort(),
        ["existing", "kube-root-ca.crt"],
      );
    } finally {
      await inf.stop();
    }
  });

  it("caches only what its label selector selects, and drops what stops matching", async () => {
    const ns = await newNamespace("informer-sel");
    namespaces.push(ns);
    await kubectl(["create", "configmap", "mine", "-n", ns]);
    await kubectl(["label", "configmap", "mine", "-n", ns, "bluegreen.io/name=app"]);
    await kubectl(["create", "configmap", "theirs", "-n", ns]);
    const inf = new Informer<ConfigMap>({
      source: client,
      path: `/api/v1/namespaces/${ns}/configmaps`,
      labelSelector: "bluegreen.io/name",
    });
    const seen = recorder(inf);
    inf.start();
    try {
      await inf.waitForSync(AbortSignal.timeout(30_000));
      assert.deepEqual(
        inf.list().map((o) => o.metadata.name),
        ["mine"],
      );
      assert.deepEqual(
        inf.byLabel(ns, "bluegreen.io/name", "app").map((o) => o.metadata.name),
        ["mine"],
      );

      await kubectl(["label", "configmap", "theirs", "-n", ns, "bluegreen.io/name=other"]);
      await waitUntil("the newly labelled ConfigMap", 20_000, async () => inf.get(ns, "theirs"));
      await kubectl(["label", "configmap", "mine", "-n", ns, "bluegreen.io/name-"]);
      await waitUntil("the unlabelled ConfigMap gone", 20_000, async () => inf.get(ns, "mine") === undefined);
      assert.deepEqual(inf.byLabel(ns, "bluegreen.io/name", "app"), []);
      assert.deepEqual(
        inf.byLabel(ns, "bluegreen.io/name", "other").map((o) => o.metadata.name),
        ["theirs"],
      );
      assert.deepEqual(seen, ["add mine", "add theirs", "delete mine"]);
    } finally {
      await inf.stop();
    }
  });

  it("keeps one watch open through 45 s without events and still sees the next change", async () => {
    const ns = await newNamespace("informer-quiet");
    namespaces.push(ns);
    const source = new CountingSource(client);
    const inf = new Informer<ConfigMap>({ source, path: `/api/v1/namespaces/${ns}/configmaps` });
    inf.start();
    try {
      await inf.waitForSync(AbortSignal.timeout(30_000));
      await waitUntil("the watch to open", 10_000, async () => source.watches === 1);
      // Longer than client-node's Watch idle timeout (30 s), during which nothing in `ns` changes.
      await sleep(45_000);
      await kubectl(["create", "configmap", "after-quiet", "-n", ns]);
      await waitUntil("the change after the quiet period", 20_000, async () => inf.get(ns, "after-quiet"));
      assert.equal(source.lists, 1);
      assert.equal(source.watches, 1, "the first watch was never dropped or replaced");
    } finally {
      await inf.stop();
    }
  });
});

describe("KubeClient on the local control plane", () => {
  let client: KubeClient;
  let ns = "";
  before(async () => {
    client = new KubeClient(loadKubeConfig(env("KUBECONFIG")));
    ns = await newNamespace("kubeclient");
  });
  after(async () => {
    await deleteNamespace(ns);
  });

  const cm = (name: string, data: Record<string, string>) => ({
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name, namespace: ns },
    data,
  });

  it("tells NotFound, AlreadyExists, Conflict and Invalid apart by status code and reason", async () => {
    const path = `/api/v1/namespaces/${ns}/configmaps`;
    const missing = await client.get(`${path}/nope`).catch((e: unknown) => e);
    assert.ok(isNotFound(missing), String(missing));
    assert.ok(missing instanceof ApiError && missing.reason === "NotFound");
    assert.match(String(missing), new RegExp(`GET ${path}/nope: 404 NotFound`));

    const created = await client.create<ConfigMap>(path, cm("c", { k: "1" }));
    const again = await client.create(path, cm("c", { k: "1" })).catch((e: unknown) => e);
    assert.ok(isAlreadyExists(again) && !isConflict(again), String(again));

    await client.patch(`${path}/c`, { data: { k: "2" } }, "merge");
    const stale = { ...cm("c", { k: "3" }), metadata: { ...created.metadata } };
    const conflict = await client.replace(`${path}/c`, stale).catch((e: unknown) => e);
    assert.ok(isConflict(conflict), String(conflict));

    const invalid = await client.create(path, cm("Not_A_Valid_Name", {})).catch((e: unknown) => e);
    assert.ok(isInvalid(invalid), String(invalid));
  });

  it("server-side applies as field manager bluegreen-operator", async () => {
    const path = `/api/v1/namespaces/${ns}/configmaps/applied`;
    await client.apply(path, cm("applied", { k: "1" }));
    const second = await client.apply<ConfigMap>(path, cm("applied", { k: "2" }));
    assert.equal(second.data?.k, "2");
    const managers = second.metadata.managedFields?.map((f) => `${f.manager}/${f.operation}`);
    assert.deepEqual(managers, ["bluegreen-operator/Apply"]);
    await client.delete(path);
    const gone = await client.get(path).catch((e: unknown) => e);
    assert.ok(isNotFound(gone));
  });
});
