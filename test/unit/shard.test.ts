/**
 * Shard ownership (src/runtime/shard.ts): a pure function of namespace/name and the count. Every
 * BGD has exactly one owner for every count; the answer never changes for the same inputs; changing
 * the count moves only the BGDs it must (rendezvous hashing), which is what makes a rebalance cheap.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { owns, shardLeaseName, shardOf } from "../../src/runtime/shard.ts";

// Kubernetes names: DNS labels / subdomains (the property does not depend on it, but stay realistic).
const dnsName = fc.stringMatching(/^[a-z0-9]([-a-z0-9]{0,30}[a-z0-9])?$/);
const bgd = fc.record({ namespace: dnsName, name: dnsName });
const count = fc.integer({ min: 1, max: 32 });

describe("shard ownership", () => {
  it("every BGD has exactly one owner among the shards, for every count", () => {
    fc.assert(
      fc.property(bgd, count, ({ namespace, name }, n) => {
        const owners = Array.from({ length: n }, (_, index) => index).filter((index) =>
          owns({ index, count: n }, namespace, name),
        );
        assert.equal(owners.length, 1);
        assert.equal(owners[0], shardOf(namespace, name, n));
      }),
      { numRuns: 200 },
    );
  });

  it("is stable: the same BGD and count give the same shard, whatever else is in the fleet", () => {
    fc.assert(
      fc.property(fc.array(bgd, { minLength: 1, maxLength: 30 }), count, (fleet, n) => {
        const first = fleet.map((b) => shardOf(b.namespace, b.name, n));
        // Another order, duplicates: each answer depends on that BGD alone.
        const again = [...fleet].reverse().map((b) => shardOf(b.namespace, b.name, n));
        assert.deepEqual(again.reverse(), first);
      }),
      { numRuns: 200 },
    );
  });

  it("growing from N to N+1 shards moves a BGD only to the new shard", () => {
    fc.assert(
      fc.property(bgd, count, ({ namespace, name }, n) => {
        const before = shardOf(namespace, name, n);
        const after = shardOf(namespace, name, n + 1);
        assert.ok(after === before || after === n, `moved from ${before} to ${after} of ${n + 1}`);
      }),
      { numRuns: 500 },
    );
  });

  it("shrinking from N+1 to N shards moves only the BGDs of the removed shard", () => {
    fc.assert(
      fc.property(bgd, count, ({ namespace, name }, n) => {
        const before = shardOf(namespace, name, n + 1);
        if (before !== n) assert.equal(shardOf(namespace, name, n), before);
      }),
      { numRuns: 500 },
    );
  });

  it("does not change between releases: shards of different builds agree during an upgrade", () => {
    // Pinned on purpose: a rolling upgrade runs old and new builds side by side with the same count,
    // so a change of the hash would hand BGDs to two shards at once. Change these only with a
    // documented rebalance (docs/operations.md, "Shards").
    const fleet = Array.from({ length: 8 }, (_, i) => shardOf("prod", `app-${i}`, 3));
    assert.deepEqual(fleet, [1, 0, 1, 2, 0, 1, 1, 1]);
    assert.equal(shardOf("payments", "api", 7), 4);
  });

  it("splits a fleet evenly enough: 3,000 names over 3 shards, each within 10 % of a third", () => {
    const sizes = [0, 0, 0];
    for (let i = 0; i < 3000; i++) {
      const s = shardOf(`team-${i % 17}`, `app-${i}`, 3);
      sizes[s] = (sizes[s] ?? 0) + 1;
    }
    for (const size of sizes) assert.ok(Math.abs(size - 1000) <= 100, `shard sizes ${sizes.join(", ")}`);
  });

  it("one shard owns everything; a count below 1 is refused", () => {
    assert.equal(shardOf("ns", "app", 1), 0);
    assert.ok(owns(undefined, "ns", "app"));
    assert.throws(() => shardOf("ns", "app", 0), RangeError);
  });

  it("names each shard's Lease after the election id; one shard keeps the unsharded name", () => {
    assert.equal(shardLeaseName("bgo.io", { index: 2, count: 3 }), "bgo.io-shard-2");
    assert.equal(shardLeaseName("bgo.io", { index: 0, count: 1 }), "bgo.io");
    assert.equal(shardLeaseName("bgo.io", undefined), "bgo.io");
  });
});
