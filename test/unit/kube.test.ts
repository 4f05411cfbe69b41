import assert from "node:assert/strict";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { after, before, describe, it } from "node:test";
import { KubeConfig } from "@kubernetes/client-node";
import { ApiError, isAlreadyExists, isConflict, isGone, TransportError } from "../../src/kube/api-errors.ts";
import { KubeClient, resourcePath, type WatchEvent } from "../../src/kube/kube.ts";

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

/** A plain-HTTP stand-in for the apiserver (client-node allows http only with skip-TLS-verify). */
async function fakeApiserver(): Promise<{ server: Server; url: string; handle: (h: Handler) => void }> {
  let handler: Handler = (_req, res) => res.end();
  const server = createServer((req, res) => handler(req, res));
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const addr = server.address();
  if (addr === null || typeof addr === "string") throw new Error("no port");
  return {
    server,
    url: `http://127.0.0.1:${addr.port}`,
    handle: (h) => {
      handler = h;
    },
  };
}

function clientFor(url: string): KubeClient {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: "fake", server: url, skipTLSVerify: true }],
    users: [{ name: "u", token: "t" }],
    contexts: [{ name: "c", cluster: "fake", user: "u" }],
    currentContext: "c",
  });
  return new KubeClient(kc);
}

async function collect(it: AsyncIterable<WatchEvent>): Promise<{ events: string[]; err: unknown }> {
  const events: string[] = [];
  try {
    for await (const ev of it)
      events.push(`${ev.type} ${String((ev.object.metadata as { name?: string }).name)}`);
    return { events, err: undefined };
  } catch (err) {
    return { events, err };
  }
}

const line = (type: string, name: string) =>
  `${JSON.stringify({ type, object: { metadata: { name, resourceVersion: "5" } } })}\n`;

describe("resourcePath", () => {
  it("builds core, group, namespaced, cluster-scoped and subresource paths", () => {
    assert.equal(
      resourcePath({ group: "", version: "v1", plural: "services", namespace: "ns" }),
      "/api/v1/namespaces/ns/services",
    );
    assert.equal(
      resourcePath({
        group: "bluegreen.io",
        version: "v1",
        plural: "bluegreendeployments",
        namespace: "ns",
        name: "app",
        subresource: "status",
      }),
      "/apis/bluegreen.io/v1/namespaces/ns/bluegreendeployments/app/status",
    );
    assert.equal(
      resourcePath({ group: "apps", version: "v1", plural: "deployments" }),
      "/apis/apps/v1/deployments",
    );
  });
});

describe("KubeClient over HTTP", () => {
  let fake: Awaited<ReturnType<typeof fakeApiserver>>;
  before(async () => {
    fake = await fakeApiserver();
  });
  after(() => {
    fake.server.closeAllConnections();
    fake.server.close();
  });

  it("parses watch events split anywhere across chunks, including a last line without newline", async () => {
    let query = "";
    fake.handle((req, res) => {
      query = req.url ?? "";
      res.writeHead(200, { "content-type": "application/json" });
      const body = Buffer.from(
        line("ADDED", "a") + line("MODIFIED", "blå") + line("BOOKMARK", "c").trimEnd(),
      );
      // One-byte chunks: every line and the two UTF-8 bytes of "å" arrive split.
      let i = 0;
      const next = () => {
        if (i >= body.length) return res.end();
        res.write(body.subarray(i, i + 1));
        i += 1;
        setImmediate(next);
      };
      next();
    });
    const { events, err } = await collect(
      clientFor(fake.url).watch("/api/v1/configmaps", { resourceVersion: "4", allowWatchBookmarks: true }),
    );
    assert.equal(err, undefined);
    assert.deepEqual(events, ["ADDED a", "MODIFIED blå", "BOOKMARK c"]);
    assert.match(query, /watch=1/);
    assert.match(query, /resourceVersion=4/);
    assert.match(query, /allowWatchBookmarks=true/);
  });

  it("throws an ERROR event as ApiError with the Status code, after the events before it", async () => {
    fake.handle((_req, res) => {
      res.writeHead(200);
      res.write(line("ADDED", "a"));
      res.end(
        `${JSON.stringify({ type: "ERROR", object: { kind: "Status", code: 410, reason: "Expired", message: "too old resource version: 1 (900)" } })}\n`,
      );
    });
    const { events, err } = await collect(
      clientFor(fake.url).watch("/api/v1/configmaps", { resourceVersion: "1" }),
    );
    assert.deepEqual(events, ["ADDED a"]);
    assert.ok(isGone(err));
    assert.match(String(err), /GET \/api\/v1\/configmaps: 410 Expired: too old resource version/);
  });

  it("turns an HTTP failure into ApiError with the reason from the Status body", async () => {
    fake.handle((_req, res) => {
      res.writeHead(409, { "content-type": "application/json" });
      res.end(
        JSON.stringify({
          kind: "Status",
          code: 409,
          reason: "AlreadyExists",
          message: 'configmaps "a" already exists',
        }),
      );
    });
    const err = await clientFor(fake.url)
      .create("/api/v1/namespaces/ns/configmaps", { metadata: { name: "a" } })
      .catch((e: unknown) => e);
    assert.ok(err instanceof ApiError);
    assert.ok(isAlreadyExists(err) && !isConflict(err));
    assert.equal(err.code, 409);
  });

  it("falls back to the HTTP status for the reason when the body is not a Status, and reads Retry-After", async () => {
    fake.handle((_req, res) => {
      res.writeHead(429, { "retry-after": "3" });
      res.end("slow down");
    });
    const err = await clientFor(fake.url)
      .get("/api/v1/namespaces")
      .catch((e: unknown) => e);
    assert.ok(err instanceof ApiError);
    assert.equal(err.reason, "TooManyRequests");
    assert.equal(err.retryAfterSeconds, 3);
  });

  it("sends server-side apply as apply-patch+yaml, forced, as field manager bluegreen-operator", async () => {
    let seen = { method: "", url: "", type: "", body: "" };
    fake.handle((req, res) => {
      let body = "";
      req.on("data", (c: Buffer) => {
        body += c.toString();
      });
      req.on("end", () => {
        seen = {
          method: req.method ?? "",
          url: req.url ?? "",
          type: req.headers["content-type"] ?? "",
          body,
        };
        res.writeHead(200, { "content-type": "application/json" });
        res.end("{}");
      });
    });
    await clientFor(fake.url).apply("/api/v1/namespaces/ns/configmaps/a", {
      kind: "ConfigMap",
      data: { k: "v" },
    });
    assert.equal(seen.method, "PATCH");
    assert.equal(seen.type, "application/apply-patch+yaml");
    const q = new URL(seen.url, "http://x").searchParams;
    assert.equal(q.get("fieldManager"), "bluegreen-operator");
    assert.equal(q.get("force"), "true");
    assert.deepEqual(JSON.parse(seen.body), { kind: "ConfigMap", data: { k: "v" } });
  });

  it("reports a refused connection as TransportError naming the cause", async () => {
    const closed = await fakeApiserver();
    await new Promise<void>((r) => closed.server.close(() => r()));
    const err = await clientFor(closed.url)
      .get("/api/v1/namespaces")
      .catch((e: unknown) => e);
    assert.ok(err instanceof TransportError, String(err));
    assert.match(String(err), /ECONNREFUSED/);
  });
});
