/** Which notifications a status write announces, and that writing the same status again announces nothing. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { BlueGreenDeploymentStatus } from "../../src/api/status.ts";
import { transitions } from "../../src/bluegreen/notify/transitions.ts";

const subject = { name: "web", namespace: "shop", uid: "u1" };
const NOW = "2026-01-01T00:00:00.000Z";
const cond = (reason: string) => ({
  type: "Degraded",
  status: "True" as const,
  reason,
  message: "",
  lastTransitionTime: NOW,
});
const stable: BlueGreenDeploymentStatus = {
  phase: "Stable",
  activeColor: "blue",
  activeRevision: "r1",
  rollout: { revision: "r1" },
  history: [{ revision: "r1", trigger: "FirstDeployment" }],
};
const events = (b: BlueGreenDeploymentStatus | undefined, a: BlueGreenDeploymentStatus) =>
  transitions(subject, b, a, NOW).map((n) => `${n.event} ${n.revision}${n.gate ? ` ${n.gate.name}` : ""}`);

describe("transitions announced", () => {
  const progressing: BlueGreenDeploymentStatus = {
    ...stable,
    phase: "Progressing",
    rollout: { revision: "r2" },
  };
  const awaiting: BlueGreenDeploymentStatus = { ...progressing, phase: "AwaitingPromotion" };
  const promoted: BlueGreenDeploymentStatus = {
    ...awaiting,
    phase: "Verifying",
    activeColor: "green",
    activeRevision: "r2",
    history: [{ revision: "r2", trigger: "Approval" }, ...(stable.history ?? [])],
  };
  const gateFailed: BlueGreenDeploymentStatus = {
    ...awaiting,
    phase: "Aborted",
    gates: [
      {
        name: "errors",
        point: "prePromotion",
        kind: "prometheus",
        revision: "r2",
        phase: "Failed",
        startedAt: NOW,
        successful: 0,
        failed: 1,
        inconclusive: 0,
        measurements: [],
        message: "1 of 3 measurements: 0 successful, 1 failed (limit 0); last Failed (0.3)",
      },
    ],
  };
  const table: [string, BlueGreenDeploymentStatus | undefined, BlueGreenDeploymentStatus, string[]][] = [
    ["a new revision", stable, progressing, ["RolloutStarted r2"]],
    ["a ready preview", progressing, awaiting, ["AwaitingPromotion r2"]],
    ["the switch", awaiting, promoted, ["Promoted r2"]],
    ["the end of the rollout", promoted, { ...promoted, phase: "Stable" }, ["Completed r2"]],
    [
      "a failed gate and its abort, in that order",
      awaiting,
      gateFailed,
      ["GateFailed r2 errors", "Aborted r2"],
    ],
    [
      "a switch back",
      promoted,
      { ...promoted, phase: "Aborted", activeColor: "blue", conditions: [cond("SwitchedBack")] },
      ["SwitchedBack r2", "Aborted r2"],
    ],
    [
      "a rollback",
      promoted,
      {
        ...promoted,
        activeColor: "blue",
        activeRevision: "r1",
        history: [{ revision: "r1", trigger: "Rollback" }],
      },
      ["RolledBack r1"],
    ],
    ["nothing when the status is written again", gateFailed, gateFailed, []],
    [
      // The switch's status write lost to a conflict (or a crash): it was never announced, so it is now.
      "a promotion recorded after its status write was lost is announced, once",
      awaiting,
      { ...promoted, history: [{ revision: "r2", trigger: "Recorded" }] },
      ["Promoted r2"],
    ],
    [
      "nothing for a revision found live that no stored rollout was rolling out",
      { phase: "Stable", activeColor: "blue", activeRevision: "r1" },
      {
        phase: "Stable",
        activeColor: "blue",
        activeRevision: "r1",
        history: [{ revision: "r1", trigger: "Recorded" }],
      },
      [],
    ],
  ];
  for (const [what, before, after, expected] of table) {
    it(what, () => assert.deepEqual(events(before, after), expected));
  }
  it("gives each transition a stable id receivers can deduplicate by", () => {
    const [n] = transitions(subject, awaiting, gateFailed, NOW);
    assert.equal(n?.id, "u1/r2/GateFailed/errors");
    assert.deepEqual(n?.gate, {
      name: "errors",
      point: "prePromotion",
      message: "1 of 3 measurements: 0 successful, 1 failed (limit 0); last Failed (0.3)",
    });
  });
});
