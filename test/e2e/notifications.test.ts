/**
 * Notifications on the real control plane: receivers configured in a bluegreen-notifications ConfigMap (their
 * HMAC key and a Slack address in Secrets read by name) hear a real rollout's transitions in order, signed; an
 * operator killed and restarted announces nothing twice; a receiver answering 500 gets a bounded number of
 * attempts, the failure is a Warning Event on the BGD, and the rollout does not wait for it.
 */
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { after, before, describe, it } from "node:test";
import { type LocalServer, readBody, serve } from "../unit/support/servers.ts";
import { applyBgd, waitStatus } from "./bgd.ts";
import { namespacesWithOperator } from "./fixture.ts";
import { kubectl, kubectlJson, waitUntil } from "./lib.ts";
import { type OperatorProcess, startOperator } from "./operator.ts";

// The receivers listen on the host's loopback, so the operator runs on the host (inside the cluster's network
// namespace 127.0.0.1 is the namespace's own loopback).
const fixture = namespacesWithOperator("notify", ["ok", "down"] as const, {
  name: "notify",
  network: "host",
});
const { ns } = fixture;

interface Received {
  readonly path: string;
  readonly event: string;
  readonly delivery: string;
  readonly signature: string | undefined;
  readonly body: string;
}

const HMAC_KEY = "s3cret-key";
const received: Received[] = [];
let receiver: LocalServer | undefined;
let failing: LocalServer | undefined;
let restarted: OperatorProcess | undefined;

const header = (req: IncomingMessage, name: string): string | undefined => {
  const v = req.headers[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
};
const record = async (req: IncomingMessage): Promise<Received> => ({
  path: req.url ?? "",
  event: header(req, "X-Bluegreen-Event") ?? "",
  delivery: header(req, "X-Bluegreen-Delivery") ?? "",
  signature: header(req, "X-Bluegreen-Signature"),
  body: await readBody(req),
});

const failed: Received[] = [];
before(async () => {
  receiver = await serve((req, res) => {
    void record(req).then((r) => {
      received.push(r);
      res.writeHead(204).end();
    });
  });
  failing = await serve((req, res) => {
    void record(req).then((r) => {
      failed.push(r);
      res.writeHead(500).end();
    });
  });
});
after(async () => {
  await restarted?.stop();
  await receiver?.close();
  await failing?.close();
});

const auto = { promotion: { mode: "Auto" }, scaleDownDelaySeconds: 0 };
const subscribe = (receivers: string[]) => ({ notifications: { receivers } });

async function configure(n: string, receivers: unknown[], secrets: Record<string, Record<string, string>>) {
  for (const [name, data] of Object.entries(secrets))
    await kubectl([
      "create",
      "secret",
      "generic",
      name,
      "-n",
      n,
      ...Object.entries(data).map(([k, v]) => `--from-literal=${k}=${v}`),
    ]);
  await kubectl(
    ["apply", "-n", n, "-f", "-"],
    JSON.stringify({
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "bluegreen-notifications" },
      data: { receivers: JSON.stringify(receivers) },
    }),
  );
}

const revisionOf = async (n: string, name: string): Promise<string> =>
  (await kubectlJson<{ status: { activeRevision: string } }>(["get", "bgd", name, "-n", n])).status
    .activeRevision;

// One after the other: the second kills the operator both namespaces share.
describe("notifications", () => {
  it("a receiver answering 500: bounded retries, a Warning Event, and the rollout does not wait", async () => {
    const n = ns.down;
    await configure(n, [{ name: "broken", url: `${failing?.url ?? ""}/hook` }], {});
    await applyBgd(n, "api", { image: "api:v1", strategy: auto, extraSpec: subscribe(["broken"]) });
    // Stable while the receiver has not even had all its attempts (5, with 1+2+4+8 s between them).
    await waitStatus(n, "api", { phase: "Stable", activeColor: "blue" });
    type Ev = { reason: string; type: string; message: string; involvedObject: { name: string } };
    const warnings = async () =>
      (await kubectlJson<{ items: Ev[] }>(["get", "events", "-n", n])).items.filter(
        (e) => e.reason === "NotificationFailed" && e.involvedObject.name === "api",
      );
    const attempted = () => new Set(failed.map((r) => r.delivery));
    const events = await waitUntil("a NotificationFailed Event per notification", 90_000, async () => {
      const w = await warnings();
      return w.length > 0 && w.length >= attempted().size ? w : undefined;
    });
    for (const e of events) {
      assert.equal(e.type, "Warning");
      assert.match(e.message, /^receiver broken: \w+ not delivered after 5 attempt\(s\): status 500$/);
    }
    for (const id of attempted())
      assert.equal(failed.filter((r) => r.delivery === id).length, 5, `${id}: 5 attempts, no more`);
    const st = await kubectlJson<{ status: { phase: string; activeColor: string } }>([
      "get",
      "bgd",
      "api",
      "-n",
      n,
    ]);
    assert.equal(st.status.phase, "Stable");
  });

  it("receivers hear a rollout in order, signed; a restarted operator announces nothing twice", async () => {
    const n = ns.ok;
    const url = receiver?.url ?? "";
    await configure(
      n,
      [
        { name: "ops", url: `${url}/ops`, hmacSecret: { name: "hook-key", key: "key" } },
        { name: "chat", format: "slack", urlSecret: { name: "chat-hook", key: "url" } },
      ],
      { "hook-key": { key: HMAC_KEY }, "chat-hook": { url: `${url}/chat` } },
    );
    const spec = { strategy: auto, extraSpec: subscribe(["ops", "chat"]) };
    await applyBgd(n, "web", { image: "web:v1", ...spec });
    await waitStatus(n, "web", { phase: "Stable", activeColor: "blue" });
    await applyBgd(n, "web", { image: "web:v2", ...spec });
    await waitStatus(n, "web", { phase: "Stable", activeColor: "green" }, 90_000);
    const v2 = await revisionOf(n, "web");

    const ops = (rev: string) =>
      received
        .filter((r) => r.path === "/ops")
        .map((r) => ({ ...r, n: JSON.parse(r.body) as { event: string; revision: string } }))
        .filter((r) => r.n.revision === rev);
    const completed = (rev: string) => ops(rev).some((r) => r.event === "Completed");
    await waitUntil("the v2 rollout's Completed at ops", 30_000, async () => completed(v2));
    assert.deepEqual(
      ops(v2)
        .map((r) => r.event)
        .filter((e) => ["RolloutStarted", "Promoted", "Completed"].includes(e)),
      ["RolloutStarted", "Promoted", "Completed"],
      "in the order they happened",
    );
    for (const r of ops(v2)) {
      const want = `sha256=${createHmac("sha256", HMAC_KEY).update(r.body).digest("hex")}`;
      assert.equal(r.signature, want, `${r.event} is signed with the key from the Secret`);
    }
    await waitUntil("the Slack-compatible Completed at chat", 30_000, async () =>
      received.some((r) => r.path === "/chat" && r.event === "Completed" && r.body.includes(v2)),
    );
    const chat = received.find((r) => r.path === "/chat");
    assert.ok(chat !== undefined);
    assert.equal(chat.signature, undefined, "slack bodies are not signed");
    assert.match((JSON.parse(chat.body) as { text: string }).text, /^:\S+: \*\w+\* /);

    // kill -9, a new operator, and one more rollout: once its Completed is in, anything the restart would have
    // announced again is in too.
    await fixture.operator().kill();
    restarted = await startOperator({
      namespaces: [ns.ok, ns.down],
      name: "notify-restarted",
      network: "host",
    });
    await applyBgd(n, "web", { image: "web:v3", ...spec });
    await waitStatus(n, "web", { phase: "Stable", activeColor: "blue" }, 90_000);
    const v3 = await revisionOf(n, "web");
    await waitUntil("the v3 rollout's Completed at ops", 30_000, async () => completed(v3));
    const ids = received.map((r) => `${r.path} ${r.delivery}`);
    assert.deepEqual(
      ids.filter((id, i) => ids.indexOf(id) !== i),
      [],
      "no transition delivered twice",
    );
  });
});
