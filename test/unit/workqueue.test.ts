import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type Clock, WorkQueue } from "../../src/kube/workqueue.ts";

/** A clock that only moves when the test says so; due timers fire in deadline order. */
class FakeClock implements Clock {
  t = 0;
  #timers: { at: number; fn: () => void; cancelled: boolean }[] = [];
  now(): number {
    return this.t;
  }
  schedule(fn: () => void, ms: number): () => void {
    const timer = { at: this.t + ms, fn, cancelled: false };
    this.#timers.push(timer);
    return () => {
      timer.cancelled = true;
    };
  }
  advance(ms: number): void {
    const target = this.t + ms;
    for (;;) {
      const due = this.#timers.filter((x) => !x.cancelled && x.at <= target).sort((a, b) => a.at - b.at)[0];
      if (due === undefined) break;
      this.#timers = this.#timers.filter((x) => x !== due);
      this.t = due.at;
      due.fn();
    }
    this.t = target;
  }
  pending(): number {
    return this.#timers.filter((x) => !x.cancelled).length;
  }
}

/** Lets every promise continuation that is ready run (workers are async loops). */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve = () => {};
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

/** Drains what is ready now, without waiting, by taking keys until the queue is empty. */
async function takeAll(q: WorkQueue): Promise<string[]> {
  const keys: string[] = [];
  while (q.len() > 0) {
    const k = await q.get();
    if (k === undefined) break;
    keys.push(k);
    q.done(k);
  }
  return keys;
}

describe("WorkQueue", () => {
  it("processes a key added many times before a worker takes it only once", async () => {
    const q = new WorkQueue({ clock: new FakeClock() });
    for (let i = 0; i < 5; i++) q.add("ns/a");
    q.add("ns/b");
    q.add("ns/a");
    assert.equal(q.len(), 2);
    const runs: string[] = [];
    const running = q.run(2, async (key) => {
      runs.push(key);
      return {};
    });
    await settle();
    q.shutDown();
    await running;
    assert.deepEqual(runs, ["ns/a", "ns/b"]);
  });

  it("runs a key re-added while it is processed exactly once more, afterwards, never concurrently", async () => {
    const q = new WorkQueue({ clock: new FakeClock() });
    const release = deferred();
    let concurrent = 0;
    let maxConcurrent = 0;
    let runs = 0;
    const running = q.run(4, async () => {
      runs++;
      concurrent++;
      maxConcurrent = Math.max(maxConcurrent, concurrent);
      if (runs === 1) await release.promise;
      concurrent--;
      return {};
    });
    q.add("ns/a");
    await settle();
    assert.equal(runs, 1);
    // Three idle workers are free, yet none may take the key while the first run holds it.
    q.add("ns/a");
    q.add("ns/a");
    q.add("ns/a");
    await settle();
    assert.equal(runs, 1);
    assert.equal(q.len(), 0, "held back, not queued, while processing");
    release.resolve();
    await settle();
    assert.equal(runs, 2);
    await settle();
    assert.equal(runs, 2, "re-added three times during the run, processed once after it");
    assert.equal(maxConcurrent, 1);
    q.shutDown();
    await running;
  });

  it("keeps the earliest deadline when a key is added after different delays", async () => {
    const clock = new FakeClock();
    const q = new WorkQueue({ clock });
    q.addAfter("ns/a", 100);
    q.addAfter("ns/a", 50);
    q.addAfter("ns/a", 200);
    clock.advance(49);
    assert.equal(q.len(), 0);
    clock.advance(1);
    assert.equal(q.len(), 1);
    assert.deepEqual(await takeAll(q), ["ns/a"]);
    clock.advance(1000);
    assert.equal(q.len(), 0, "the later deadlines were dropped, not kept as extra adds");
    assert.equal(clock.pending(), 0);
  });

  it("adds a key with a zero or negative delay at once", () => {
    const q = new WorkQueue({ clock: new FakeClock() });
    q.addAfter("ns/a", 0);
    q.addAfter("ns/b", -5);
    assert.equal(q.len(), 2);
  });

  it("backs a failing key off 5 ms, 10 ms, 20 ms… up to 1000 s, and forget starts it over", async () => {
    const clock = new FakeClock();
    const q = new WorkQueue({ clock });
    const delays: number[] = [];
    for (let i = 0; i < 4; i++) {
      const start = clock.t;
      q.addRateLimited("ns/a");
      while (q.len() === 0) clock.advance(1);
      delays.push(clock.t - start);
      await takeAll(q);
    }
    assert.deepEqual(delays, [5, 10, 20, 40]);
    assert.equal(q.numRequeues("ns/a"), 4);
    // Failures count even while an earlier retry is still pending (it keeps its earlier deadline).
    for (let i = 0; i < 39; i++) q.addRateLimited("ns/b");
    clock.advance(5);
    assert.deepEqual(await takeAll(q), ["ns/b"]);
    q.addRateLimited("ns/b");
    clock.advance(999_999);
    assert.equal(q.len(), 0);
    clock.advance(1);
    assert.deepEqual(await takeAll(q), ["ns/b"]);

    q.forget("ns/a");
    assert.equal(q.numRequeues("ns/a"), 0);
    clock.advance(60_000); // refill the token bucket the loop above drained
    q.addRateLimited("ns/a");
    clock.advance(4);
    assert.equal(q.len(), 0);
    clock.advance(1);
    assert.equal(q.len(), 1);
  });

  it("spreads retries beyond the burst of 100 at 10 per second", () => {
    const clock = new FakeClock();
    const q = new WorkQueue({ clock });
    for (let i = 0; i < 100; i++) q.addRateLimited(`ns/k${i}`);
    q.addRateLimited("ns/k100");
    q.addRateLimited("ns/k101");
    clock.advance(5);
    assert.equal(q.len(), 100, "the burst goes out after the per-key delay");
    clock.advance(94);
    assert.equal(q.len(), 100);
    clock.advance(1);
    assert.equal(q.len(), 101, "the 101st waits one token, 100 ms");
    clock.advance(100);
    assert.equal(q.len(), 102);
  });

  it("retries a reconcile that throws with backoff, and forgets the key once it succeeds", async () => {
    const clock = new FakeClock();
    const retried: string[] = [];
    const q = new WorkQueue({ clock, hooks: { onRetry: (k) => retried.push(k) } });
    let calls = 0;
    const errors: unknown[] = [];
    const running = q.run(
      1,
      async () => {
        calls++;
        if (calls <= 2) throw new Error("apiserver unavailable");
        return {};
      },
      { onError: (_k, err) => errors.push(err) },
    );
    q.add("ns/a");
    await settle();
    assert.equal(calls, 1);
    assert.equal(q.numRequeues("ns/a"), 1);
    clock.advance(5);
    await settle();
    assert.equal(calls, 2);
    clock.advance(9);
    await settle();
    assert.equal(calls, 2, "second retry waits 10 ms");
    clock.advance(1);
    await settle();
    assert.equal(calls, 3);
    assert.equal(q.numRequeues("ns/a"), 0, "success forgets the failures");
    assert.deepEqual(retried, ["ns/a", "ns/a"]);
    assert.equal(errors.length, 2);
    q.shutDown();
    await running;
  });

  it("does not retry a reconcile that fails with an error marked permanent", async () => {
    const clock = new FakeClock();
    const q = new WorkQueue({ clock });
    let calls = 0;
    const requeued: boolean[] = [];
    class InvalidSpec extends Error {}
    const running = q.run(
      1,
      async () => {
        calls++;
        throw new InvalidSpec("spec.image and spec.template are both set");
      },
      { isPermanent: (e) => e instanceof InvalidSpec, onError: (_k, _e, r) => requeued.push(r) },
    );
    q.add("ns/a");
    await settle();
    clock.advance(10_000);
    await settle();
    assert.equal(calls, 1);
    assert.deepEqual(requeued, [false]);
    assert.equal(q.numRequeues("ns/a"), 0);
    q.shutDown();
    await running;
  });

  it("reconciles again after requeueAfterMs when a reconcile asks to", async () => {
    const clock = new FakeClock();
    const q = new WorkQueue({ clock });
    let calls = 0;
    const running = q.run(1, async () => {
      calls++;
      return calls === 1 ? { requeueAfterMs: 30_000 } : {};
    });
    q.add("ns/a");
    await settle();
    clock.advance(29_999);
    await settle();
    assert.equal(calls, 1);
    clock.advance(1);
    await settle();
    assert.equal(calls, 2);
    clock.advance(60_000);
    await settle();
    assert.equal(calls, 2);
    q.shutDown();
    await running;
  });

  it("on shutdown with drain waits for running reconciles and hands out no further keys", async () => {
    const clock = new FakeClock();
    const q = new WorkQueue({ clock });
    const release = deferred();
    const started: string[] = [];
    let finished = 0;
    const running = q.run(1, async (key) => {
      started.push(key);
      await release.promise;
      finished++;
      return {};
    });
    q.add("ns/a");
    q.add("ns/b");
    q.addAfter("ns/c", 10);
    await settle();
    let drained = false;
    const drain = q.shutDownWithDrain().then(() => {
      drained = true;
    });
    q.add("ns/d");
    await settle();
    assert.equal(drained, false, "ns/a is still running");
    release.resolve();
    await drain;
    await running;
    clock.advance(100);
    await settle();
    assert.equal(finished, 1);
    assert.deepEqual(started, ["ns/a"]);
    assert.equal(q.len(), 0);
    assert.equal(await q.get(), undefined);
  });

  it("never runs more reconciles at once than it has workers", async () => {
    const q = new WorkQueue({ clock: new FakeClock() });
    let concurrent = 0;
    let maxConcurrent = 0;
    const done = new Set<string>();
    const running = q.run(3, async (key) => {
      concurrent++;
      maxConcurrent = Math.max(maxConcurrent, concurrent);
      await settle();
      concurrent--;
      done.add(key);
      return {};
    });
    for (let i = 0; i < 10; i++) q.add(`ns/k${i}`);
    while (done.size < 10) await settle();
    q.shutDown();
    await running;
    assert.equal(maxConcurrent, 3);
  });

  it("reports depth, adds, queue latency and work duration to its hooks", async () => {
    const clock = new FakeClock();
    const depths: number[] = [];
    const adds: string[] = [];
    const latencies: number[] = [];
    const durations: number[] = [];
    const q = new WorkQueue({
      clock,
      hooks: {
        onAdd: (k) => adds.push(k),
        onDepthChange: (d) => depths.push(d),
        onQueueLatency: (s) => latencies.push(s),
        onWorkDuration: (s) => durations.push(s),
      },
    });
    q.add("ns/a");
    q.add("ns/a");
    q.add("ns/b");
    clock.advance(2000);
    const running = q.run(1, async () => {
      clock.advance(500);
      return {};
    });
    await settle();
    q.shutDown();
    await running;
    assert.deepEqual(adds, ["ns/a", "ns/b"]);
    assert.deepEqual(depths.slice(0, 4), [1, 2, 1, 0]);
    assert.deepEqual(latencies, [2, 2.5]);
    assert.deepEqual(durations, [0.5, 0.5]);
  });
});
