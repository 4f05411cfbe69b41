/**
 * `make bench SIZE=N`'s last scenario: a fleet-wide change. Every BGD gets a new image at once (one
 * server-side apply per 200, automatic promotion with no delay), and the running operator takes the whole
 * fleet through a release: time until every BGD is Stable on the other color again, the operator's API
 * requests by verb and resource per rollout (kube-apiserver audit log, Events included), and its work
 * queue over time (depth sampled from its /metrics every second; the mean time a key waited in the
 * queue from the histogram's sum and count).
 */
import { setTimeout as sleep } from "node:timers/promises";
import { auditOf, countBy, verbAndResource, waitQuiet } from "./common.ts";

export interface FleetChangeInput {
  readonly size: number;
  /** Applies the N manifests of the given image (the scale bench's own apply). */
  readonly apply: (image: string) => Promise<void>;
  /** "<phase> <activeColor>" of every BGD. */
  readonly phases: () => string[];
  readonly metricsPort: number;
  readonly auditLog: string;
  readonly user: string;
  readonly log: (line: string) => void;
}

interface QueueSample {
  readonly atS: number;
  readonly depth: number;
}

async function scrape(port: number): Promise<{ depth: number; waitSum: number; waitCount: number }> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const sum = (name: string) =>
    [...text.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, "gm"))].reduce(
      (s, m) => s + Number(m[1]),
      0,
    );
  return {
    depth: sum("workqueue_depth"),
    waitSum: sum("workqueue_queue_duration_seconds_sum"),
    waitCount: sum("workqueue_queue_duration_seconds_count"),
  };
}

export async function fleetChange(input: FleetChangeInput) {
  const before = input.phases();
  const from = new Set(before.map((p) => p.split(" ")[1]));
  if (from.size !== 1) throw new Error(`the fleet is not on one color before the change: ${[...from]}`);
  const to = from.has("blue") ? "green" : "blue";
  const startScrape = await scrape(input.metricsPort);
  const t0 = Date.now();
  await input.apply("app:v2");
  const appliedS = (Date.now() - t0) / 1000;
  input.log(
    `fleet-wide change applied in ${appliedS.toFixed(1)} s; waiting for ${input.size} Stable on ${to}`,
  );

  const samples: QueueSample[] = [];
  let done = 0;
  for (;;) {
    const m = await scrape(input.metricsPort);
    samples.push({ atS: Number(((Date.now() - t0) / 1000).toFixed(1)), depth: m.depth });
    done = input.phases().filter((p) => p === `Stable ${to}`).length;
    if (done === input.size) break;
    if (Date.now() - t0 > 3_600_000)
      throw new Error(`fleet-wide change: ${done}/${input.size} after an hour`);
    await sleep(1000);
  }
  const allStableAt = Date.now();
  const endScrape = await scrape(input.metricsPort);
  // The old colors scale down after their delay: the rollout's writes end there.
  const quiet = await waitQuiet(input.auditLog, input.user, allStableAt, 15_000, 600_000);
  await sleep(1500); // the audit log is flushed in batches
  const requests = auditOf(input.auditLog, input.user).filter(
    (e) => Date.parse(e.requestReceivedTimestamp) >= t0,
  );
  const byVerb = countBy(requests, verbAndResource);
  const perRollout = Object.fromEntries(
    Object.entries(byVerb)
      .sort((a, b) => b[1] - a[1])
      .map(([k, v]) => [k, Number((v / input.size).toFixed(2))]),
  );
  const waits = endScrape.waitCount - startScrape.waitCount;
  return {
    to,
    appliedS,
    allStableS: (allStableAt - t0) / 1000,
    afterApplyS: (allStableAt - t0) / 1000 - appliedS,
    writesAfterAllStable: quiet.writes,
    lastWriteAfterAllStableS: quiet.lastWriteS,
    requests: requests.length,
    requestsPerRollout: Number((requests.length / input.size).toFixed(2)),
    requestsPerRolloutBy: perRollout,
    queue: {
      maxDepth: Math.max(...samples.map((s) => s.depth)),
      meanWaitMs: waits > 0 ? Math.round(((endScrape.waitSum - startScrape.waitSum) / waits) * 1000) : 0,
      reconciles: waits,
      // Every 5th second is enough to draw it; the JSON keeps them all.
      depthOverTime: samples,
    },
  };
}
