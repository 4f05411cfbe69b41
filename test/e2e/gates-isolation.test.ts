/**
 * A check that hangs on one BGD does not delay another BGD's promotion, proved by order of events, not by a
 * timer: BGD `slow`'s prePromotion check is a request to a server that accepts it and answers only when the
 * test says so; once that request is in, BGD `fast` starts a rollout with a check that answers at once, and is
 * promoted while `slow`'s request is still open and its check still Running with no measurement. The operator
 * runs one reconcile worker, so a measurement that held a worker would hold `fast` too; and two measurement
 * slots, so the hung one leaves one for `fast` (with --gate-concurrency 1 `fast`'s check would queue behind it,
 * as that flag documents). Answering the held request then lets `slow` promote: it was that request it waited on.
 */
import assert from "node:assert/strict";
import type { ServerResponse } from "node:http";
import { after, before, describe, it } from "node:test";
import { type LocalServer, serve } from "../unit/support/servers.ts";
import { applyBgd, waitStatus } from "./bgd.ts";
import { namespacesWithOperator } from "./fixture.ts";
import { gateRecord, measured } from "./gates-lib.ts";
import { waitUntil } from "./lib.ts";

// The servers listen on the host's loopback, so the operator runs on the host too.
const { ns } = namespacesWithOperator("giso", ["both"] as const, {
  name: "gates-isolation",
  network: "host",
  args: ["--workers", "1", "--gate-concurrency", "2"],
});

/** Requests the hanging server holds, and whether the client gave up on each (its connection closed). */
const heldRequests: { res: ServerResponse; closed: boolean }[] = [];
let hanging: LocalServer | undefined;
let answering: LocalServer | undefined;
before(async () => {
  hanging = await serve((_req, res) => {
    const h = { res, closed: false };
    res.on("close", () => {
      h.closed = true;
    });
    heldRequests.push(h);
  });
  answering = await serve((_req, res) => res.writeHead(200).end("ok\n"));
});
after(async () => {
  await hanging?.close();
  await answering?.close();
});

const strategy = { promotion: { mode: "Auto", delaySeconds: 0 }, scaleDownDelaySeconds: 0 };
const gate = (url: string, timeoutSeconds: number) => ({
  prePromotion: [{ name: "check", timeoutSeconds, http: { url } }],
});
const WAIT = 180_000;

describe("a hanging check", () => {
  it("does not delay another BGD's promotion: it is promoted while the hanging check's request is still open", {
    timeout: 600_000,
  }, async () => {
    const n = ns.both;
    const slowGates = gate(`${hanging?.url}/check`, 600);
    const fastGates = gate(`${answering?.url}/check`, 10);
    const spec = (image: string, gates: unknown) => ({ image, replicas: 1, strategy, extraSpec: { gates } });
    await Promise.all([
      applyBgd(n, "slow", spec("slow:v1", slowGates)),
      applyBgd(n, "fast", spec("fast:v1", fastGates)),
    ]);
    await Promise.all([
      waitStatus(n, "slow", { phase: "Stable", activeColor: "blue" }, WAIT),
      waitStatus(n, "fast", { phase: "Stable", activeColor: "blue" }, WAIT),
    ]);

    await applyBgd(n, "slow", spec("slow:v2", slowGates));
    await waitUntil("slow's check to send its request", WAIT, async () => heldRequests.length > 0);

    // Only now does fast's rollout begin.
    await applyBgd(n, "fast", spec("fast:v2", fastGates));
    await waitStatus(n, "fast", { phase: "Stable", activeColor: "green", activeImage: "fast:v2" }, WAIT);
    const fastCheck = await gateRecord(n, "check", "fast");
    assert.equal(fastCheck.phase, "Successful", fastCheck.message);

    // slow is where it was: its one request open, its check Running, nothing measured, traffic on v1.
    assert.equal(heldRequests.length, 1);
    assert.equal(heldRequests[0]?.closed, false, "slow's request is still open");
    const slowCheck = await gateRecord(n, "check", "slow");
    assert.equal(slowCheck.phase, "Running", slowCheck.message);
    assert.deepEqual(slowCheck.measurements, []);
    const slow = await waitStatus(n, "slow", { activeColor: "blue", activeImage: "slow:v1" });
    assert.notEqual(slow.phase, "Stable");

    // The answer to that very request is what slow waited for.
    heldRequests[0]?.res.writeHead(200).end("ok\n");
    await waitStatus(n, "slow", { phase: "Stable", activeColor: "green", activeImage: "slow:v2" }, WAIT);
    assert.deepEqual(measured(await gateRecord(n, "check", "slow")), [["Successful", "status 200"]]);
    assert.equal(heldRequests.length, 1, "one request, answered once");
  });
});
