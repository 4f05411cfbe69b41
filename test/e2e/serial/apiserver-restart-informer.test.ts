/**
 * The informer across kube-apiserver restarts (serial: the restart disrupts every other test).
 * The second test cuts the informer off with a TCP relay of its own, changes things while it cannot
 * see them, compacts etcd and restarts kube-apiserver, so neither etcd nor the new watch cache has
 * history from before: resuming from the informer's old resourceVersion must fail with 410, and the
 * relist must report the changes. (Without the compaction kube-apiserver 1.36 serves a watch from a
 * resourceVersion older than its watch cache from etcd, and no 410 happens.)
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { connect, createServer, type Server, type Socket } from "node:net";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { isGone } from "../../../src/kube/api-errors.ts";
import { Informer, type InformerLogger, type KubeObject } from "../../../src/kube/informer.ts";
import { KubeClient, loadKubeConfig } from "../../../src/kube/kube.ts";
import { restartApiserver } from "../../harness/cluster.ts";
import { deleteNamespace, env, kubectl, newNamespace, waitUntil } from "../lib.ts";

interface ConfigMap extends KubeObject {
  readonly metadata: { readonly name: string; readonly namespace: string; readonly resourceVersion: string };
  readonly data?: Record<string, string>;
}

/** A TCP relay to the apiserver that the test can take down (dropping every connection) and back up. */
class Relay {
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  #up = true;
  private constructor(server: Server) {
    this.#server = server;
  }
  static async start(host: string, port: number): Promise<{ relay: Relay; port: number }> {
    const server = createServer();
    const relay = new Relay(server);
    server.on("connection", (client) => {
      if (!relay.#up) {
        client.destroy();
        return;
      }
      const upstream = connect(port, host);
      for (const [a, b] of [
        [client, upstream],
        [upstream, client],
      ] as const) {
        relay.#sockets.add(a);
        a.pipe(b);
        a.on("error", () => b.destroy());
        a.on("close", () => {
          relay.#sockets.delete(a);
          b.destroy();
        });
      }
    });
    await new Promise<void>((res) => server.listen(0, "127.0.0.1", res));
    const addr = server.address();
    if (addr === null || typeof addr === "string") throw new Error("relay has no port");
    return { relay, port: addr.port };
  }
  down(): void {
    this.#up = false;
    for (const s of this.#sockets) s.destroy();
  }
  up(): void {
    this.#up = true;
  }
  async close(): Promise<void> {
    this.down();
    await new Promise<void>((res) => this.#server.close(() => res()));
  }
}

/**
 * Compacts the cluster's etcd at its current revision through etcd's JSON gateway, as kube-apiserver
 * does every 5 minutes: every older resourceVersion is gone from then on. Returns the revision.
 */
async function compactEtcd(clusterDir: string): Promise<string> {
  const state = JSON.parse(readFileSync(join(clusterDir, "state.json"), "utf8")) as {
    ports: { etcd: number };
  };
  const etcd = `http://127.0.0.1:${state.ports.etcd}`;
  const post = async (path: string, body: unknown): Promise<unknown> => {
    const res = await fetch(etcd + path, { method: "POST", body: JSON.stringify(body) });
    if (!res.ok) throw new Error(`etcd ${path}: ${res.status} ${await res.text()}`);
    return await res.json();
  };
  const range = (await post("/v3/kv/range", { key: Buffer.from("/").toString("base64") })) as {
    header: { revision: string };
  };
  await post("/v3/kv/compaction", { revision: range.header.revision, physical: true });
  return range.header.revision;
}

/** Collects the informer's log messages, to show which recovery path it took. */
function memoryLog(): InformerLogger & { messages: string[] } {
  const messages: string[] = [];
  const push = (_o: object, msg: string) => messages.push(msg);
  return { messages, debug: push, info: push, warn: push };
}

function recorder(inf: Informer<ConfigMap>): string[] {
  const seen: string[] = [];
  inf.onAdd((o) => seen.push(`add ${o.metadata.name}`));
  inf.onUpdate((_a, b) => seen.push(`update ${b.metadata.name}`));
  inf.onDelete((o) => seen.push(`delete ${o.metadata.name}`));
  return seen;
}

describe("Informer across kube-apiserver restarts", () => {
  const namespaces: string[] = [];
  after(async () => {
    for (const ns of namespaces) await deleteNamespace(ns);
  });
  let clusterDir = "";
  before(() => {
    clusterDir = env("BGO_CLUSTER_DIR");
  });

  it("keeps following the cluster after kube-apiserver restarts under it", async (t) => {
    const ns = await newNamespace("restart");
    namespaces.push(ns);
    const log = memoryLog();
    const inf = new Informer<ConfigMap>({
      source: new KubeClient(loadKubeConfig(env("KUBECONFIG"))),
      path: `/api/v1/namespaces/${ns}/configmaps`,
      log,
    });
    const seen = recorder(inf);
    inf.start();
    try {
      await inf.waitForSync(AbortSignal.timeout(30_000));
      await kubectl(["create", "configmap", "before", "-n", ns, "--from-literal=k=1"]);
      await waitUntil("the ConfigMap made before the restart", 20_000, async () => inf.get(ns, "before"));

      await restartApiserver(clusterDir);

      await kubectl(["create", "configmap", "after", "-n", ns]);
      await kubectl(["patch", "configmap", "before", "-n", ns, "-p", '{"data":{"k":"2"}}']);
      await waitUntil("the ConfigMap made after the restart", 60_000, async () => inf.get(ns, "after"));
      await waitUntil(
        "the update made after the restart",
        20_000,
        async () => inf.get(ns, "before")?.data?.k === "2",
      );
      await kubectl(["delete", "configmap", "before", "-n", ns]);
      await waitUntil(
        "the delete made after the restart",
        20_000,
        async () => inf.get(ns, "before") === undefined,
      );
      assert.deepEqual(
        seen.filter((s) => !s.includes("kube-root-ca")),
        ["add before", "add after", "update before", "delete before"],
      );
      t.diagnostic(`informer log: ${log.messages.join(" | ")}`);
    } finally {
      await inf.stop();
    }
  });

  it("relists after 410 Gone and reports what changed while it was cut off", async (t) => {
    const ns = await newNamespace("relist");
    namespaces.push(ns);
    for (const name of ["keep", "edit", "drop"]) await kubectl(["create", "configmap", name, "-n", ns]);
    const kc = loadKubeConfig(env("KUBECONFIG"));
    const server = new URL(kc.getCurrentCluster()?.server ?? "");
    const { relay, port } = await Relay.start(server.hostname, Number(server.port));
    const cluster = kc.getCurrentCluster();
    assert.ok(cluster !== null);
    // The apiserver's certificate names 127.0.0.1, so TLS holds through the relay.
    kc.loadFromOptions({
      clusters: [{ ...cluster, server: `https://127.0.0.1:${port}` }],
      users: kc.getUsers(),
      contexts: kc.getContexts(),
      currentContext: kc.getCurrentContext(),
    });
    const log = memoryLog();
    const inf = new Informer<ConfigMap>({
      source: new KubeClient(kc),
      path: `/api/v1/namespaces/${ns}/configmaps`,
      log,
      backoff: { initialMs: 200, maxMs: 2000 },
    });
    const seen = recorder(inf);
    inf.start();
    try {
      await inf.waitForSync(AbortSignal.timeout(30_000));
      const lastSeen = inf.lastSyncResourceVersion();
      relay.down();
      await kubectl(["delete", "configmap", "drop", "-n", ns]);
      await kubectl(["patch", "configmap", "edit", "-n", ns, "-p", '{"data":{"k":"changed"}}']);
      await kubectl(["create", "configmap", "fresh", "-n", ns]);
      // Neither etcd nor the restarted apiserver's watch cache can replay these writes now.
      await compactEtcd(clusterDir);
      await restartApiserver(clusterDir);
      assert.equal(inf.lastSyncResourceVersion(), lastSeen, "the informer saw nothing while cut off");
      relay.up();

      await waitUntil("the cache to catch up", 60_000, async () => inf.get(ns, "fresh"));
      assert.equal(inf.get(ns, "drop"), undefined);
      assert.equal(inf.get(ns, "edit")?.data?.k, "changed");
      assert.ok(log.messages.includes("Watch expired, relisting"), log.messages.join(" | "));
      assert.deepEqual(
        seen
          .filter((s) => !s.includes("kube-root-ca"))
          .slice(3)
          .sort(),
        ["add fresh", "delete drop", "update edit"],
      );
      t.diagnostic(`informer log: ${log.messages.join(" | ")}`);
    } finally {
      await inf.stop();
      await relay.close();
    }
  });

  it("reports a watch from a compacted resourceVersion as 410 Gone", async () => {
    const ns = await newNamespace("gone");
    namespaces.push(ns);
    const client = new KubeClient(loadKubeConfig(env("KUBECONFIG")));
    // Older than anything the watch cache holds (so it asks etcd), and compacted away in etcd.
    await compactEtcd(clusterDir);
    const err = await (async () => {
      for await (const _ of client.watch(`/api/v1/namespaces/${ns}/configmaps`, {
        resourceVersion: "1",
        timeoutSeconds: 10,
      })) {
        // no event can come before the error
      }
    })().catch((e: unknown) => e);
    assert.ok(isGone(err), `expected 410, got ${String(err)}`);
  });
});
