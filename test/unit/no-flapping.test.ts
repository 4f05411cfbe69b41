/**
 * No flapping at scale: a converged fleet stays free of writes through an hour of simulated time, and
 * the work queue stays bounded by the fleet's size.
 *
 * The operator is the real one: BlueGreenController's informers (list + watch, with its slimming),
 * its event → key wiring, its WorkQueue and its reconciler, against the in-memory store served as
 * list + watch (support/fleet.ts). Time is a fake clock driving the queue's timers (requeues, backoff)
 * and the watches' server-side timeouts.
 *
 * What the hour holds, as the controller meets it:
 * - watches ending at their `timeoutSeconds` (5–10 min, the informer's own choice) and resuming;
 * - etcd compactions: open watches get 410 Gone and every informer relists (client-go's only
 *   "resync" that reaches this controller; it has no informer resync period);
 * - every BGD key re-enqueued every resync period, in a random order: a harsher stand-in for a resync
 *   period (the real controller has none), since every reconcile of a stable BGD must write nothing;
 * - kwok-like pod status churn that does not change readiness (each a watch event → its BGD's key);
 * - the queue's delayed adds (requeueAfter) firing when due.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { pino } from "pino";
import { BlueGreenController } from "../../src/controller/controller.ts";
import {
  clusterCatchUp,
  createBgd,
  FakeClock,
  FleetApi,
  fleetName,
  fleetNamespace,
  podHeartbeat,
} from "./support/fleet.ts";
import { T0 } from "./support/observed.ts";

/**
 * BGDs in the fleet. 1,000 (the bench's size) keeps this file to seconds; FLEET_SIZE=10000 runs the
 * issue's size (minutes: see docs/performance.md, "No flapping"), FLEET_HOURS more random hours.
 */
const N = Number(process.env.FLEET_SIZE ?? 1000);
const HOUR = 3600_000;

interface Stats {
  inFlight: number;
  maxDepth: number;
  reconciles: number;
  requeues: number;
  errors: string[];
}

interface Fleet {
  readonly clock: FakeClock;
  readonly api: FleetApi;
  readonly controller: BlueGreenController;
  readonly stats: Stats;
  readonly keys: readonly string[];
}

const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Lets the informers and workers run until no event is undelivered, no key queued, none in flight. */
async function idle(f: Fleet): Promise<void> {
  let quiet = 0;
  while (quiet < 2) {
    await turn();
    const still = f.api.undelivered() === 0 && f.controller.queue.len() === 0 && f.stats.inFlight === 0;
    quiet = still ? quiet + 1 : 0;
  }
}

const phaseOf = (api: FleetApi, key: string): unknown => {
  const [ns, name] = key.split("/");
  return (
    api.get(`/apis/bluegreen.io/v1/namespaces/${ns}/bluegreendeployments/${name}`)?.status as
      | { phase?: unknown }
      | undefined
  )?.phase;
};

async function convergedFleet(n: number): Promise<Fleet> {
  const clock = new FakeClock();
  const api = new FleetApi(clock);
  const keys: string[] = [];
  for (let i = 0; i < n; i++) {
    createBgd(api, i);
    keys.push(`${fleetNamespace(i)}/${fleetName(i)}`);
  }
  const stats: Stats = { inFlight: 0, maxDepth: 0, reconciles: 0, requeues: 0, errors: [] };
  const controller = new BlueGreenController({
    client: api.client(),
    namespaces: [],
    workers: 4,
    log: pino({ level: "silent" }),
    now: () => T0 + clock.now(),
    queueClock: clock,
    queueHooks: {
      onDepthChange: (d) => {
        stats.maxDepth = Math.max(stats.maxDepth, d);
      },
      // Called as a worker takes a key, and as it is done with it.
      onQueueLatency: () => {
        stats.inFlight++;
      },
      onWorkDuration: () => {
        stats.inFlight--;
      },
    },
    onReconcileDone: (_key, _s, result) => {
      stats.reconciles++;
      if (result === "requeue_after") stats.requeues++;
    },
    onReconcileError: (key, err) => stats.errors.push(`${key}: ${String(err)}`),
  });
  const f: Fleet = { clock, api, controller, stats, keys };
  const t0 = performance.now();
  await controller.start();
  // The cluster and the operator take turns until nothing moves: every BGD Stable, nothing written.
  for (let round = 0; ; round++) {
    await idle(f);
    const written = clusterCatchUp(api);
    await idle(f);
    api.trim();
    if (written === 0 && keys.every((k) => phaseOf(api, k) === "Stable")) break;
    assert.ok(round < 100, `the fleet did not converge: ${stats.errors.slice(0, 3).join("; ")}`);
    // Due requeues (the expectations' 100 ms, a conflict's 200 ms) fire as time passes.
    const until = clock.now() + 1000;
    while (clock.fireNext(until)) await idle(f);
    clock.advanceTo(until);
  }
  assert.deepEqual(stats.errors, []);
  if (process.env.FLEET_VERBOSE !== undefined)
    console.log(
      JSON.stringify({
        n,
        converged: {
          reconciles: stats.reconciles,
          writes: api.log.length,
          ms: Math.round(performance.now() - t0),
        },
      }),
    );
  return f;
}

interface HourPlan {
  readonly resyncSeconds: number;
  readonly churnEverySeconds: number;
  /** Pods that heartbeat at each churn tick, per thousand. */
  readonly churnPerMille: number;
  /** When etcd compacts (seconds into the hour): every informer relists. */
  readonly compactions: readonly number[];
  readonly seed: number;
}

/** A small deterministic PRNG (mulberry32): which pods churn, and the order of a resync. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface HourResult {
  readonly writes: readonly string[];
  readonly reconciles: number;
  readonly resyncs: number;
  readonly heartbeats: number;
  readonly relists: number;
  /** Delayed adds already waiting in the queue when the hour began. */
  readonly timersBefore: number;
}

async function simulateHour(f: Fleet, h: HourPlan): Promise<HourResult> {
  const { clock, api, controller, stats } = f;
  const random = prng(h.seed);
  const t0 = performance.now();
  const start = clock.now();
  const end = start + HOUR;
  const writesBefore = api.log.length;
  const reconcilesBefore = stats.reconciles;
  const goneBefore = api.gone;
  // Requeues asked for while the fleet converged (a progress deadline) fire during the hour.
  const timersBefore = clock.pending();
  stats.maxDepth = 0;
  stats.requeues = 0;
  let resyncs = 0;
  let heartbeats = 0;
  const every = (ms: number, fn: () => void) => {
    const tick = () => {
      fn();
      if (clock.now() + ms <= end) clock.schedule(tick, ms);
    };
    clock.schedule(tick, ms);
  };
  every(h.resyncSeconds * 1000, () => {
    resyncs++;
    const order = [...f.keys];
    for (let i = order.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [order[i], order[j]] = [order[j] as string, order[i] as string];
    }
    for (const key of order) controller.queue.add(key);
  });
  every(h.churnEverySeconds * 1000, () => {
    const pods = [...api.objects.keys()].filter((p) => p.includes("/pods/"));
    for (const p of pods) {
      if (random() * 1000 >= h.churnPerMille) continue;
      podHeartbeat(api, p);
      heartbeats++;
    }
  });
  // The API server closes each watch at its timeoutSeconds (checked every 10 s of simulated time).
  every(10_000, () => {
    api.trim();
    api.expireWatches();
  });
  for (const s of h.compactions) clock.schedule(() => api.compact(), s * 1000);
  while (clock.fireNext(end)) await idle(f);
  clock.advanceTo(end);
  if (process.env.FLEET_VERBOSE !== undefined)
    console.log(
      JSON.stringify({
        n: f.keys.length,
        ...h,
        reconciles: stats.reconciles - reconcilesBefore,
        timersBefore,
        resyncs,
        heartbeats,
        relists: api.gone - goneBefore,
        ms: Math.round(performance.now() - t0),
      }),
    );
  return {
    writes: api.log.slice(writesBefore),
    reconciles: stats.reconciles - reconcilesBefore,
    resyncs,
    heartbeats,
    relists: api.gone - goneBefore,
    timersBefore,
  };
}

function assertQuietHour(f: Fleet, h: HourPlan, r: HourResult): void {
  const what = JSON.stringify(h);
  assert.deepEqual(r.writes.slice(0, 10), [], `writes in the hour (${r.writes.length} in all) with ${what}`);
  assert.deepEqual(f.stats.errors, [], what);
  // A stable BGD asks for no timer: one that did would keep the queue busy for ever.
  assert.equal(f.stats.requeues, 0, `${f.stats.requeues} stable reconciles asked for a requeue (${what})`);
  // Bounded and deduplicated: never more keys waiting than there are BGDs.
  assert.ok(f.stats.maxDepth <= f.keys.length, `queue depth ${f.stats.maxDepth} > ${f.keys.length} BGDs`);
  assert.ok(f.stats.maxDepth > 0, "the queue never held a key: the hour exercised nothing");
  // The stimuli reached the operator: every resync reconciled every BGD, compactions made relists.
  assert.ok(r.resyncs > 0 && r.reconciles >= r.resyncs * f.keys.length, `${r.reconciles} reconciles`);
  if (h.compactions.length > 0) assert.ok(r.relists > 0, "no informer relisted after a compaction");
  // Every reconcile has a cause from outside: a resync, a pod's change, a timer set before the hour.
  // More would mean reconciles feeding reconciles (a relist or a requeue loop).
  const causes = r.resyncs * f.keys.length + r.heartbeats + r.timersBefore;
  assert.ok(r.reconciles <= causes, `${r.reconciles} reconciles for ${causes} causes`);
  // Nothing left behind: no key queued, no delayed add waiting (the hour's own ticks have all
  // fired by its end), no event undelivered.
  assert.equal(f.controller.queue.len(), 0);
  assert.equal(f.clock.pending(), 0, "timers left at the end of the hour");
  assert.equal(f.api.undelivered(), 0);
}

describe(`a stable fleet of ${N} BlueGreenDeployments (the real controller, in memory)`, () => {
  let fleet: Fleet | undefined;
  const fleetOnce = async () => {
    fleet ??= await convergedFleet(N);
    return fleet;
  };

  it("converges every BGD to Stable without an error", async () => {
    const f = await fleetOnce();
    assert.ok(f.keys.every((k) => phaseOf(f.api, k) === "Stable"));
  });

  it("an hour with resyncs every 10 minutes, pod churn and two compactions writes nothing", async () => {
    const f = await fleetOnce();
    const h: HourPlan = {
      resyncSeconds: 600,
      churnEverySeconds: 30,
      churnPerMille: 20,
      compactions: [900, 2700],
      seed: 1,
    };
    const r = await simulateHour(f, h);
    assertQuietHour(f, h, r);
    assert.ok(r.heartbeats > 0);
  });

  it("stays write-free over random resync periods, orders, churn and compactions (fast-check)", async () => {
    const f = await fleetOnce();
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          resyncSeconds: fc.integer({ min: 600, max: 1800 }),
          churnEverySeconds: fc.integer({ min: 10, max: 300 }),
          churnPerMille: fc.integer({ min: 0, max: 50 }),
          compactions: fc.array(fc.integer({ min: 1, max: 3599 }), { maxLength: 3 }),
          seed: fc.integer(),
        }),
        async (h) => {
          const r = await simulateHour(f, h);
          assertQuietHour(f, h, r);
        },
      ),
      { numRuns: Number(process.env.FLEET_HOURS ?? 2) },
    );
  });
});
