import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { cacheCaughtUp } from "../../src/controller/reconciler.ts";

describe("waiting for the caches to show our own writes", () => {
  it("is caught up when the cache holds the version we wrote or a newer one", () => {
    assert.equal(cacheCaughtUp("120", "120"), true);
    assert.equal(cacheCaughtUp("121", "120"), true);
    assert.equal(cacheCaughtUp("99999999999999999999", "120"), true);
  });
  it("is not caught up while the cache holds an older version or nothing", () => {
    assert.equal(cacheCaughtUp("119", "120"), false);
    assert.equal(cacheCaughtUp(undefined, "120"), false);
  });
  it("compares opaque resourceVersions for equality only", () => {
    assert.equal(cacheCaughtUp("abc", "abd"), false);
    assert.equal(cacheCaughtUp("abc", "abc"), true);
  });
});
