/**
 * Notifications to real receivers on 127.0.0.1: signed JSON and Slack bodies, order, bounded retries with
 * backoff, and a receiver that is down delaying nobody else (proved by what arrives first, not by a timer).
 */
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import {
  DELIVERY_HEADER,
  EVENT_HEADER,
  type Notification,
  type NotificationEvent,
  notificationId,
  parseReceivers,
  type Receiver,
  resolveReceivers,
  signature,
} from "../../src/bluegreen/notify/payload.ts";
import { type DeliveryResult, NotificationSender } from "../../src/controller/notify/sender.ts";
import { closedPort, type LocalServer, readBody, serve } from "./support/servers.ts";

interface Received {
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
}

/** A receiver that records what it gets; `answers` are the status codes of its first requests (then 200). */
async function receiver(answers: number[] = []) {
  const got: Received[] = [];
  let requests = 0;
  const waiters: (() => void)[] = [];
  const server = await serve(async (req, res) => {
    const body = await readBody(req);
    const status = answers[requests] ?? 200;
    requests += 1;
    if (status === 200) got.push({ headers: req.headers, body });
    res.writeHead(status).end();
    for (const w of waiters.splice(0)) w();
  });
  const until = async (n: number) => {
    while (got.length < n) await new Promise<void>((r) => waiters.push(r));
  };
  return { server, got, until, requests: () => requests };
}

const servers: LocalServer[] = [];
after(async () => {
  for (const s of servers) await s.close();
});

const note = (event: NotificationEvent, revision = "9a1b2c"): Notification => ({
  id: notificationId("uid-1", revision, event),
  event,
  time: "2026-01-01T00:00:00.000Z",
  bgd: { name: "web", namespace: "shop", uid: "uid-1" },
  revision,
  activeColor: "blue",
  message: `${event} happened`,
});
const fast = { baseDelayMs: 10, maxDelayMs: 40, timeoutMs: 2000 };

describe("a json receiver", () => {
  it("gets the notification signed with the HMAC key, with its event and delivery id", async () => {
    const r = await receiver();
    servers.push(r.server);
    const sender = new NotificationSender(fast);
    const key = Buffer.from("k3y");
    const hook: Receiver = { name: "ops", url: `${r.server.url}/hook`, format: "json" };
    sender.enqueue({ receiver: hook, notification: note("Promoted"), hmacKey: key });
    await sender.idle();
    const [first] = r.got;
    assert.ok(first !== undefined);
    assert.deepEqual(JSON.parse(first.body), note("Promoted"));
    assert.equal(first.headers["x-bluegreen-signature"], signature(first.body, key));
    assert.match(String(first.headers["x-bluegreen-signature"]), /^sha256=[0-9a-f]{64}$/);
    assert.equal(first.headers[EVENT_HEADER.toLowerCase()], "Promoted");
    assert.equal(first.headers[DELIVERY_HEADER.toLowerCase()], "uid-1/9a1b2c/Promoted");
  });
  it("gets transitions in the order they happened, even when one needed retries", async () => {
    const r = await receiver([503, 503]);
    servers.push(r.server);
    const sender = new NotificationSender(fast);
    const hook: Receiver = { name: "ops", url: r.server.url, format: "json" };
    const events: NotificationEvent[] = ["RolloutStarted", "AwaitingPromotion", "Promoted", "Completed"];
    for (const e of events) sender.enqueue({ receiver: hook, notification: note(e) });
    await sender.idle();
    assert.deepEqual(
      r.got.map((g) => (JSON.parse(g.body) as Notification).event),
      events,
    );
    assert.equal(r.requests(), 6);
  });
});

describe("a slack receiver", () => {
  it("gets a text message naming the BGD, revision and failed gate, unsigned", async () => {
    const r = await receiver();
    servers.push(r.server);
    const sender = new NotificationSender(fast);
    const n: Notification = {
      ...note("GateFailed"),
      gate: { name: "error-rate", point: "prePromotion", message: "result < 0.05 does not hold (0.3)" },
    };
    sender.enqueue({
      receiver: { name: "chat", url: r.server.url, format: "slack" },
      notification: n,
      hmacKey: Buffer.from("x"),
    });
    await sender.idle();
    const body = JSON.parse(r.got[0]?.body ?? "{}") as { text?: string };
    assert.equal(
      body.text,
      ":x: *GateFailed* shop/web revision `9a1b2c`: GateFailed happened — gate `error-rate` (prePromotion): result < 0.05 does not hold (0.3)",
    );
    assert.equal(r.got[0]?.headers["x-bluegreen-signature"], undefined);
  });
});

describe("delivery", () => {
  it("gives up after maxAttempts, and at once on a refusal that will not change", async () => {
    const r = await receiver([500, 500, 500, 400]);
    servers.push(r.server);
    const results: DeliveryResult[] = [];
    const sender = new NotificationSender({ ...fast, maxAttempts: 3, onResult: (x) => results.push(x) });
    const hook: Receiver = { name: "ops", url: r.server.url, format: "json" };
    sender.enqueue({ receiver: hook, notification: note("Aborted") });
    await sender.idle();
    assert.deepEqual(results, [
      { ok: false, receiver: "ops", id: "uid-1/9a1b2c/Aborted", attempts: 3, reason: "status 500" },
    ]);
    sender.enqueue({ receiver: hook, notification: note("RolledBack") }); // answered 400
    await sender.idle();
    assert.deepEqual(results[1], {
      ok: false,
      receiver: "ops",
      id: "uid-1/9a1b2c/RolledBack",
      attempts: 1,
      reason: "status 400",
    });
    assert.equal(r.requests(), 4);
  });
  it("to a receiver that is down holds up no other receiver", async () => {
    const up = await receiver();
    servers.push(up.server);
    const downUrl = `http://127.0.0.1:${await closedPort()}/`;
    const results: DeliveryResult[] = [];
    let delivered: () => void = () => {};
    const upDelivered = new Promise<void>((resolve) => {
      delivered = resolve;
    });
    // Retries of the down receiver would take minutes: the other receiver must get its notification meanwhile.
    const sender = new NotificationSender({
      baseDelayMs: 60_000,
      maxAttempts: 5,
      onResult: (x) => {
        results.push(x);
        if (x.receiver === "up") delivered();
      },
    });
    sender.enqueue({
      receiver: { name: "down", url: downUrl, format: "json" },
      notification: note("Promoted"),
    });
    sender.enqueue({
      receiver: { name: "up", url: up.server.url, format: "json" },
      notification: note("Promoted"),
    });
    await upDelivered;
    assert.equal(up.got.length, 1);
    assert.deepEqual(
      results.map((x) => [x.receiver, x.ok]),
      [["up", true]],
    );
    await sender.close();
    assert.deepEqual(results.at(-1), {
      ok: false,
      receiver: "down",
      id: "uid-1/9a1b2c/Promoted",
      attempts: 1,
      reason: "shutting down",
    });
  });
  it("keeps a bounded queue, dropping the oldest", async () => {
    const results: DeliveryResult[] = [];
    const sender = new NotificationSender({
      baseDelayMs: 60_000,
      maxQueue: 2,
      onResult: (x) => results.push(x),
    });
    const down: Receiver = { name: "down", url: `http://127.0.0.1:${await closedPort()}/`, format: "json" };
    for (const e of ["RolloutStarted", "AwaitingPromotion", "Promoted", "Completed"] as const)
      sender.enqueue({ receiver: down, notification: note(e) });
    // The first is in flight; of the three queued behind it, the oldest is dropped.
    assert.deepEqual(
      results.map((x) => (x.ok ? "" : `${x.id} ${x.reason}`)),
      ["uid-1/9a1b2c/AwaitingPromotion dropped: queue full"],
    );
    await sender.close();
  });
});

describe("receiver configuration", () => {
  it("reads a list of receivers", () => {
    const r = parseReceivers({
      receivers: [
        "- name: ops",
        "  url: http://hooks.shop.svc/bluegreen",
        "  hmacSecret: {name: webhook-hmac, key: key}",
        "- name: chat",
        "  url: https://chat.example/hooks/abc",
        "  format: slack",
        "- name: pager",
        "  urlSecret: {name: pager-hook, key: url}",
        "  headersSecret: pager-token",
      ].join("\n"),
    });
    assert.deepEqual(r, {
      ok: true,
      receivers: [
        {
          name: "ops",
          url: "http://hooks.shop.svc/bluegreen",
          format: "json",
          hmacSecret: { name: "webhook-hmac", key: "key" },
        },
        { name: "chat", url: "https://chat.example/hooks/abc", format: "slack" },
        {
          name: "pager",
          format: "json",
          urlSecret: { name: "pager-hook", key: "url" },
          headersSecret: "pager-token",
        },
      ],
    });
    assert.deepEqual(parseReceivers(undefined), { ok: true, receivers: [] });
  });
  it("names the entry that is wrong", () => {
    const bad: [string, string][] = [
      ["- url: http://x", "receivers[0] needs a name"],
      ["- name: a\n  url: ftp://x", "receivers[0] (a) needs an http:// or https:// url"],
      ["- name: a", "receivers[0] (a) needs either url or urlSecret"],
      [
        "- name: a\n  url: http://x\n  urlSecret: {name: s, key: url}",
        "receivers[0] (a) needs either url or urlSecret",
      ],
      ["- name: a\n  urlSecret: {name: s}", "receivers[0] (a): urlSecret needs name and key"],
      [
        "- name: a\n  url: http://x\n  headersSecret: 3",
        "receivers[0] (a): headersSecret must be a Secret's name",
      ],
      ["- name: a\n  url: http://x\n  format: teams", "receivers[0] (a): format must be json or slack"],
      ["- name: a\n  url: http://x\n- name: a\n  url: http://y", "receivers[1]: a second receiver named a"],
      ["name: a", "receivers must be a list of receivers"],
    ];
    for (const [text, message] of bad)
      assert.deepEqual(parseReceivers({ receivers: text }), { ok: false, message });
  });
});

describe("which receivers a BGD reaches", () => {
  const ops = (url: string): Receiver => ({
    name: "ops",
    url,
    format: "json",
    hmacSecret: { name: "k", key: "key" },
  });
  it("prefers its namespace's definition, falls back to the operator namespace's, and reports unknown names", () => {
    const r = resolveReceivers(
      ["ops", "chat", "nope", "ops"],
      { name: "shop", receivers: [ops("http://shop-hooks/")] },
      {
        name: "bluegreen-system",
        receivers: [ops("http://global/"), { name: "chat", url: "http://chat/", format: "slack" }],
      },
    );
    assert.deepEqual(
      r.receivers.map((x) => [x.name, x.url, x.secretNamespace]),
      [
        ["ops", "http://shop-hooks/", "shop"],
        ["chat", "http://chat/", "bluegreen-system"],
      ],
    );
    assert.deepEqual(r.unknown, ["nope"]);
  });
});
