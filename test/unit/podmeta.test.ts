import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { planPodMetadata } from "../../src/bluegreen/podmeta.ts";
import type { Observed } from "../../src/bluegreen/types.ts";
import { observed } from "./support/observed.ts";

const strategy = {
  activeMetadata: { labels: { role: "active" }, annotations: { "example.com/live": "yes" } },
  previewMetadata: { labels: { role: "preview" } },
};
function withPods(pods: NonNullable<Observed["podMetadata"]>): Observed {
  const o = observed({ image: "app:v1", spec: { strategy } });
  return { ...o, podMetadata: pods };
}

describe("role metadata on pods", () => {
  it("labels the live color's pods active and the preview's preview", () => {
    const o = withPods([
      { name: "b1", color: "blue", labels: {}, annotations: {} },
      { name: "g1", color: "green", labels: {}, annotations: {} },
    ]);
    assert.deepEqual(planPodMetadata(o, "blue", "green"), [
      {
        type: "PatchPodMetadata",
        pod: "b1",
        labels: { role: "active" },
        annotations: { "example.com/live": "yes" },
      },
      { type: "PatchPodMetadata", pod: "g1", labels: { role: "preview" }, annotations: {} },
    ]);
  });
  it("swaps them on promotion and removes the live annotation from the retired color", () => {
    const o = withPods([
      { name: "b1", color: "blue", labels: { role: "active" }, annotations: { "example.com/live": "yes" } },
      { name: "g1", color: "green", labels: { role: "preview" }, annotations: {} },
    ]);
    assert.deepEqual(planPodMetadata(o, "green", undefined), [
      {
        type: "PatchPodMetadata",
        pod: "b1",
        labels: { role: null },
        annotations: { "example.com/live": null },
      },
      {
        type: "PatchPodMetadata",
        pod: "g1",
        labels: { role: "active" },
        annotations: { "example.com/live": "yes" },
      },
    ]);
  });
  it("writes nothing when every pod already carries its role, or when no role metadata is asked for", () => {
    const settled = withPods([
      { name: "b1", color: "blue", labels: { role: "active" }, annotations: { "example.com/live": "yes" } },
    ]);
    assert.deepEqual(planPodMetadata(settled, "blue", undefined), []);
    const none = {
      ...observed({ image: "app:v1" }),
      podMetadata: [{ name: "b1", color: "blue" as const, labels: {}, annotations: {} }],
    };
    assert.deepEqual(planPodMetadata(none, "blue", undefined), []);
  });
  it("leaves a value a person set alone", () => {
    const o = withPods([{ name: "b1", color: "blue", labels: { role: "canary" }, annotations: {} }]);
    assert.deepEqual(planPodMetadata(o, undefined, undefined), []);
  });
});
