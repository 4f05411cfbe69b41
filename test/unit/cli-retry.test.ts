/** `retry`: an aborted rollout, or the Inconclusive gate checks of the revision rolling out, and nothing else. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { decideRetry, inconclusiveGates } from "../../src/cli/commands/actions.ts";
import { bgdView } from "../../src/cli/objects.ts";

const raw = (status: Record<string, unknown>, annotations: Record<string, string> = {}) => ({
  metadata: { name: "web", namespace: "shop", generation: 2, annotations },
  spec: { replicas: 2, image: "web:v2" },
  status: { observedGeneration: 2, phase: "Progressing", ...status },
});
const rev = bgdView(raw({})).desiredRevision ?? "";
const gate = (name: string, phase: string, revision = rev) => ({
  name,
  point: "prePromotion",
  kind: "prometheus",
  revision,
  phase,
});

describe("retry", () => {
  it("re-runs the Inconclusive checks of the revision rolling out", () => {
    const b = bgdView(
      raw({
        rollout: { revision: rev },
        gates: [gate("smoke", "Successful"), gate("errors", "Inconclusive"), gate("latency", "Running")],
      }),
    );
    assert.deepEqual(inconclusiveGates(b), ["errors"]);
    assert.deepEqual(decideRetry(b), { kind: "write", revision: rev });
  });

  it("leaves alone an Inconclusive check of another revision", () => {
    const b = bgdView(
      raw({ rollout: { revision: rev }, gates: [gate("errors", "Inconclusive", "0123456789")] }),
    );
    assert.deepEqual(inconclusiveGates(b), []);
    assert.equal(decideRetry(b).kind, "refuse");
  });

  it("undoes an abort first: the aborted revision rolls out again", () => {
    const b = bgdView(
      raw(
        { rollout: { revision: rev }, gates: [gate("errors", "Inconclusive")] },
        { "bluegreen.io/abort": rev },
      ),
    );
    assert.deepEqual(decideRetry(b), { kind: "write", revision: rev });
  });

  it("refuses with the reason when there is nothing to retry", () => {
    const v = decideRetry(bgdView(raw({ rollout: { revision: rev }, gates: [gate("errors", "Failed")] })));
    assert.equal(v.kind, "refuse");
    assert.match(
      v.kind === "refuse" ? v.message : "",
      /^nothing to retry: web is not aborted and no gate check is Inconclusive/,
    );
  });
});
