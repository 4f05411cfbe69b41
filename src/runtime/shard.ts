/**
 * Sharding: N operator processes (`--shard-count=N`, each with its `--shard-index`) split the BGDs
 * between them; each shard elects its own leader on a Lease of its own, so every slice has one
 * writer and a warm standby.
 *
 * Ownership is a pure function of the BGD's namespace/name and the shard count, computed where the
 * controller enqueues work: an event on a BGD, or on anything it owns (found by the
 * bluegreen.io/name label), becomes a key only in the shard that owns the BGD. Nothing is written to
 * record ownership, so a BGD needs no label, admission webhook or relabelling when the count
 * changes; a label-based scheme would let each shard filter its watches server-side, but every BGD
 * (and every owned object, pods included, whose template change would start a rollout) would have
 * to carry the label and be relabelled on every rebalance.
 *
 * Rendezvous (highest random weight) hashing rather than hash modulo N: a BGD goes to the shard
 * whose hash of (shard, namespace/name) is highest, so growing N to N+1 moves only the BGDs the new
 * shard wins (about 1/(N+1) of them) and shrinking moves only the removed shard's BGDs; modulo
 * would move about N/(N+1) of the fleet. A moved BGD mid-rollout is safe: all rollout state is in
 * its status and in the cluster, and the planner resumes from there.
 */
import { createHash } from "node:crypto";

export interface Shard {
  readonly index: number;
  readonly count: number;
}

/** The weight of `key` on shard `index`: 48 bits of SHA-256 (exact in a double, well mixed). */
function weight(index: number, key: string): number {
  return createHash("sha256").update(`${index}\n${key}`).digest().readUIntBE(0, 6);
}

/** The shard, in [0, count), that owns the BGD `namespace/name`. */
export function shardOf(namespace: string, name: string, count: number): number {
  if (!Number.isInteger(count) || count < 1) throw new RangeError(`shard count ${count} is not ≥ 1`);
  if (count === 1) return 0;
  const key = `${namespace}/${name}`;
  let best = 0;
  let bestWeight = -1;
  for (let i = 0; i < count; i++) {
    const w = weight(i, key);
    // Ties (2^-48) go to the lower index, so the answer never depends on iteration details.
    if (w > bestWeight) {
      best = i;
      bestWeight = w;
    }
  }
  return best;
}

/** Whether `shard` owns the BGD `namespace/name`; without sharding every BGD is owned. */
export function owns(shard: Shard | undefined, namespace: string, name: string): boolean {
  return shard === undefined || shardOf(namespace, name, shard.count) === shard.index;
}

/**
 * The Lease of a shard's leader election: `<id>-shard-<index>`. With one shard (the default) the
 * Lease keeps the unsharded name, so an existing installation keeps its Lease and its leader.
 */
export function shardLeaseName(id: string, shard: Shard | undefined): string {
  return shard === undefined || shard.count === 1 ? id : `${id}-shard-${shard.index}`;
}
