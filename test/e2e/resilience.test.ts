/**
 * Crash safety and idempotency, counted by the kube-apiserver's audit log (not by our own code):
 * the operator SIGKILLed right after the selector switch finishes without a second switch, and a
 * reconcile of an unchanged world makes zero writes.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import {
  applyBgd,
  deployment,
  describeRequests,
  operatorRequests,
  serviceSelector,
  waitStatus,
} from "./bgd.ts";
import { deleteNamespace, kubectl, newNamespace, waitUntil } from "./lib.ts";
import { type OperatorProcess, startOperator } from "./operator.ts";

const running: OperatorProcess[] = [];
const namespaces: string[] = [];
after(async () => {
  await Promise.all(running.map((o) => o.kill()));
  await Promise.all(namespaces.map((n) => deleteNamespace(n)));
});

async function namespace(prefix: string): Promise<string> {
  const n = await newNamespace(prefix);
  namespaces.push(n);
  return n;
}
async function operatorFor(n: string, name: string): Promise<OperatorProcess> {
  const o = await startOperator({ namespaces: [n], name });
  running.push(o);
  return o;
}

describe("resilience", { concurrency: true }, () => {
  let crashNs = "";
  let noopNs = "";
  before(async () => {
    [crashNs, noopNs] = await Promise.all([namespace("crash"), namespace("noop")]);
  });

  it("SIGKILLed right after the selector switch, a restarted operator finishes without a second switch", async () => {
    const n = crashNs;
    const first = await operatorFor(n, "first");
    const strategy = { scaleDownDelaySeconds: 2 };
    await applyBgd(n, "app", { image: "app:v1", strategy });
    await waitStatus(n, "app", { phase: "Stable", activeColor: "blue" });
    await applyBgd(n, "app", { image: "app:v2", strategy });
    const waiting = await waitStatus(n, "app", { phase: "AwaitingPromotion" });

    // Kill the operator the moment the watch shows the active Service on green. The watch must be
    // live before the promotion: kubectl prints the object from a GET first and opens its watch a
    // moment later (0.7 s seen under load), and a switch in between was never printed. So a harmless
    // annotation is written first, and its event seen through the watch, before the promotion.
    const watch = spawn("kubectl", [
      "get",
      "service",
      "app",
      "-n",
      n,
      "--watch",
      "-o",
      'jsonpath={.spec.selector.bluegreen\\.io/color}{"\\n"}',
    ]);
    let lines = 0;
    const seen: Array<() => void> = [];
    const switched = new Promise<void>((resolve, reject) => {
      createInterface({ input: watch.stdout }).on("line", (line) => {
        lines++;
        for (const f of seen.splice(0)) f();
        if (line.trim() === "green") {
          first.child.kill("SIGKILL");
          resolve();
        }
      });
      watch.once("exit", (code) => reject(new Error(`kubectl --watch ended (${code}) before the switch`)));
    });
    switched.catch(() => {});
    const nextLine = (after: number) =>
      new Promise<void>((r) => {
        const check = () => (lines > after ? r() : seen.push(check));
        check();
      });
    // Each wait also ends (failing) if kubectl exits.
    await Promise.race([nextLine(0), switched]);
    const beforePing = lines;
    await kubectl([
      "annotate",
      "--overwrite",
      "-n",
      n,
      "service",
      "app",
      `e2e.bluegreen.io/ping=${Date.now()}`,
    ]);
    await Promise.race([nextLine(beforePing), switched]);
    await kubectl(["annotate", "-n", n, "bgd", "app", `bluegreen.io/promote=${waiting.previewRevision}`]);
    await switched;
    watch.kill();
    await first.kill();

    const second = await operatorFor(n, "second");
    const done = await waitStatus(n, "app", { phase: "Stable", activeColor: "green" });
    assert.equal(done.activeRevision, waiting.previewRevision);
    await waitUntil(
      "blue scaled down",
      30_000,
      async () => (await deployment(n, "app-blue"))?.spec.replicas === 0,
    );
    assert.equal((await serviceSelector(n, "app"))?.["bluegreen.io/color"], "green");
    const serviceWrites = (await operatorRequests(second.user, n, { writesOnly: true })).filter(
      (e) => e.objectRef?.resource === "services" && e.objectRef.name === "app",
    );
    // One apply created the Service on blue, one switched it to green: nothing else.
    assert.deepEqual(describeRequests(serviceWrites), [
      "patch services app → 201",
      "patch services app → 200",
    ]);
  });

  it("a reconcile of an unchanged world makes zero API writes", async () => {
    const n = noopNs;
    const first = await operatorFor(n, "noop-first");
    await applyBgd(n, "app", { image: "app:v1", strategy: { scaleDownDelaySeconds: 0 } });
    await waitStatus(n, "app", { phase: "Stable", activeColor: "blue" });
    await applyBgd(n, "app", { image: "app:v2", strategy: { scaleDownDelaySeconds: 0 } });
    const waiting = await waitStatus(n, "app", { phase: "AwaitingPromotion" });
    await kubectl(["annotate", "-n", n, "bgd", "app", `bluegreen.io/promote=${waiting.previewRevision}`]);
    await waitStatus(n, "app", { phase: "Stable", activeColor: "green" });
    await waitUntil(
      "blue scaled down",
      30_000,
      async () => (await deployment(n, "app-blue"))?.status.readyReplicas === undefined,
    );
    await sleep(2000);
    await first.stop();

    // A fresh operator lists everything and reconciles every BGD once: the world is as wanted.
    const since = new Date();
    const second = await operatorFor(n, "noop-second");
    // A bound on a hang: a process start on a loaded machine can take tens of seconds.
    await waitUntil("the new operator's caches", 90_000, async () => {
      const { readFileSync } = await import("node:fs");
      return readFileSync(second.logFile, "utf8").includes("Caches synced");
    });
    // An event that changes nothing we care about triggers another reconcile.
    await kubectl(["annotate", "-n", n, "bgd", "app", "example.com/touched=yes"]);
    await sleep(3000);
    const requests = await operatorRequests(second.user, n, { since });
    const writes = requests.filter((e) => !["get", "list", "watch"].includes(e.verb));
    assert.ok(requests.length > 0, "the audit log saw the new operator's list/watch requests");
    assert.deepEqual(describeRequests(writes), [], "no writes");
  });
});
