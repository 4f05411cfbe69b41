/**
 * The leader elector against an in-memory Lease store with the API server's optimistic concurrency
 * (a PUT with a stale resourceVersion is 409 Conflict). Durations are short and real; what is
 * asserted is order (who leads, who stopped first), never speed.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { pino } from "pino";
import { ApiError } from "../../src/kube/api-errors.ts";
import { LeaderElector, type LeaseApi, microTime, parseLease } from "../../src/runtime/leader.ts";

const log = pino({ level: "silent" });
const LEASE = { leaseDurationMs: 600, renewDeadlineMs: 400, retryPeriodMs: 50 };

/** One Lease object, stored as the API server would: resourceVersion bumped on every write. */
class LeaseStore {
  object: { metadata: Record<string, unknown>; spec: Record<string, unknown> } | undefined;
  #rv = 0;
  writes = 0;

  api(partitioned: () => boolean = () => false): LeaseApi {
    const check = (method: string, path: string) => {
      if (partitioned()) throw new Error(`${method} ${path}: connection refused`);
    };
    return {
      get: async <T>(path: string) => {
        check("GET", path);
        if (this.object === undefined) throw new ApiError("GET", path, 404, { reason: "NotFound" });
        return structuredClone(this.object) as T;
      },
      create: async <T>(path: string, body: unknown) => {
        check("POST", path);
        if (this.object !== undefined) throw new ApiError("POST", path, 409, { reason: "AlreadyExists" });
        return this.#write(body) as T;
      },
      replace: async <T>(path: string, body: unknown) => {
        check("PUT", path);
        const rv = (body as { metadata: { resourceVersion?: string } }).metadata.resourceVersion;
        if (rv !== String(this.#rv)) throw new ApiError("PUT", path, 409, { reason: "Conflict" });
        return this.#write(body) as T;
      },
    };
  }

  #write(body: unknown) {
    this.#rv++;
    this.writes++;
    const b = structuredClone(body) as { metadata: Record<string, unknown>; spec: Record<string, unknown> };
    this.object = { metadata: { ...b.metadata, resourceVersion: String(this.#rv) }, spec: b.spec };
    return structuredClone(this.object);
  }

  get holder(): string {
    return parseLease(this.object).spec.holderIdentity;
  }
}

interface Candidate {
  readonly elector: LeaderElector;
  readonly events: string[];
  partitioned: boolean;
  /** Added to the monotonic clock: a process that was paused sees time jump. */
  paused: number;
}

function candidate(store: LeaseStore, identity: string, timeline: string[]): Candidate {
  const c: Candidate = {
    events: [],
    partitioned: false,
    paused: 0,
    elector: undefined as unknown as LeaderElector,
  };
  (c as { elector: LeaderElector }).elector = new LeaderElector({
    api: store.api(() => c.partitioned),
    namespace: "ns",
    name: "lease",
    identity,
    ...LEASE,
    log,
    monotonic: () => performance.now() + c.paused,
    onStartedLeading: () => {
      c.events.push("started");
      timeline.push(`${identity} started`);
    },
    onStoppedLeading: () => {
      c.events.push("stopped");
      timeline.push(`${identity} stopped`);
    },
  });
  return c;
}

async function until(what: string, check: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!check()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

describe("leader election", () => {
  it("lets exactly one of two candidates lead", async () => {
    const store = new LeaseStore();
    const timeline: string[] = [];
    const a = candidate(store, "a", timeline);
    const b = candidate(store, "b", timeline);
    void a.elector.start();
    void b.elector.start();
    await until("a leader", () => store.object !== undefined && timeline.length > 0);
    await sleep(LEASE.leaseDurationMs); // several renewals and attempts
    assert.equal(timeline.length, 1, timeline.join(", "));
    const leader = store.holder === "a" ? a : b;
    const standby = leader === a ? b : a;
    assert.equal(leader.elector.isLeader(), true);
    assert.equal(standby.elector.isLeader(), false);
    await Promise.all([a.elector.stop(), b.elector.stop()]);
  });

  it("renews with the same acquireTime and counts a transition only when the holder changes", async () => {
    const store = new LeaseStore();
    const a = candidate(store, "a", []);
    void a.elector.start();
    await until("a leads", () => a.elector.isLeader());
    const first = parseLease(store.object).spec;
    await until("a renewal", () => parseLease(store.object).spec.renewTime !== first.renewTime);
    const later = parseLease(store.object).spec;
    assert.equal(later.acquireTime, first.acquireTime);
    assert.equal(later.leaseTransitions, 0);
    assert.equal(later.leaseDurationSeconds, 1);
    assert.match(later.renewTime ?? "", /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    await a.elector.stop();
  });

  it("releases the Lease on stop, so the standby takes it without waiting for it to expire", async () => {
    const store = new LeaseStore();
    const timeline: string[] = [];
    const a = candidate(store, "a", timeline);
    void a.elector.start();
    await until("a leads", () => a.elector.isLeader());
    const b = candidate(store, "b", timeline);
    void b.elector.start();
    await sleep(100);
    await a.elector.stop();
    assert.equal(store.holder, "", "released");
    const released = performance.now();
    await until("b leads", () => b.elector.isLeader());
    assert.ok(performance.now() - released < LEASE.leaseDurationMs, "before the lease would have expired");
    assert.equal(parseLease(store.object).spec.leaseTransitions, 1);
    assert.deepEqual(a.events, ["started"], "a release is not a loss");
    await b.elector.stop();
  });

  it("releases the Lease even when a renewal it cut short had reached the API server (a stale resourceVersion)", async () => {
    const store = new LeaseStore();
    const a = candidate(store, "a", []);
    void a.elector.start();
    await until("a leads", () => a.elector.isLeader());
    // The renewal stop() aborts went through on the server, its answer never came back: the
    // Lease's resourceVersion moved on without the elector seeing it.
    const current = structuredClone(store.object);
    await store.api().replace("/lease", current);
    const writes = store.writes;
    await a.elector.stop();
    assert.equal(store.holder, "", "released after reading the Lease again");
    assert.equal(store.writes, writes + 1, "one release write");
  });

  it("a partitioned leader stops before the standby starts (renew deadline < lease duration)", async () => {
    const store = new LeaseStore();
    const timeline: string[] = [];
    const a = candidate(store, "a", timeline);
    void a.elector.start();
    await until("a leads", () => a.elector.isLeader());
    const b = candidate(store, "b", timeline);
    void b.elector.start();
    await sleep(100);
    a.partitioned = true;
    await until("b leads", () => b.elector.isLeader());
    assert.deepEqual(timeline, ["a started", "a stopped", "b started"]);
    assert.equal(a.elector.isLeader(), false);
    await b.elector.stop();
  });

  it("fences at once: a leader whose clock jumped past the renew deadline refuses before any timer runs", async () => {
    const store = new LeaseStore();
    const a = candidate(store, "a", []);
    void a.elector.start();
    await until("a leads", () => a.elector.isLeader());
    a.paused = LEASE.renewDeadlineMs; // as if SIGSTOPped that long
    assert.equal(a.elector.isLeader(), false);
    assert.deepEqual(a.events, ["started", "stopped"]);
    const writes = store.writes;
    await a.elector.stop();
    assert.equal(store.writes, writes, "no release either: it is no longer the leader");
  });

  it("a leader that reads another holder from the Lease (taken over by hand) stops at its next renewal", async () => {
    const store = new LeaseStore();
    const timeline: string[] = [];
    const a = candidate(store, "a", timeline);
    void a.elector.start();
    await until("a leads", () => a.elector.isLeader());
    const taken = store.api();
    const current = parseLease(store.object);
    await taken.replace("/lease", {
      metadata: { resourceVersion: current.metadata.resourceVersion },
      spec: { ...current.spec, holderIdentity: "someone-else" },
    });
    await until("a stops", () => a.events.includes("stopped"));
    assert.equal(a.elector.isLeader(), false);
    assert.equal(store.holder, "someone-else", "it did not take the Lease back");
    await a.elector.stop();
  });

  it("writes MicroTime with six fractional digits", () => {
    assert.equal(microTime(Date.UTC(2026, 0, 2, 3, 4, 5, 678)), "2026-01-02T03:04:05.678000Z");
  });
});
