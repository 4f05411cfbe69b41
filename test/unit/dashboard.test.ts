/** The dashboard's pure parts: action verdicts shared with the plugin, the page's model, the timeline. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { desiredPodTemplate, revisionOf } from "../../src/api/defaults.ts";
import type { BlueGreenDeployment } from "../../src/api/schema.ts";
import { decideAbort, decidePromote } from "../../src/cli/commands/actions.ts";
import { bgdView } from "../../src/cli/objects.ts";
import { ApiError, TransportError } from "../../src/kube/api-errors.ts";
import type { ListWatcher } from "../../src/kube/kube.ts";
import { actionsFor, detailOf, sortedRows } from "../../src/ui/model.ts";
import { parseRequest } from "../../src/ui/server.ts";
import { rolloutTimeline } from "../../src/ui/timeline.ts";
import { ObservedSource } from "../../src/ui/watch.ts";

const NOW = Date.parse("2030-01-01T12:00:00Z");
const at = (s: number) => new Date(NOW + s * 1000).toISOString();

const spec = (image: string) => ({
  replicas: 2,
  selector: { matchLabels: { app: "shop" } },
  template: {
    metadata: { labels: { app: "shop" } },
    spec: { containers: [{ name: "app", image, ports: [{ containerPort: 8080 }] }] },
  },
});
const rev = (image: string) =>
  revisionOf(
    desiredPodTemplate({ metadata: { name: "shop" }, spec: spec(image) } as unknown as Pick<
      BlueGreenDeployment,
      "metadata" | "spec"
    >),
  );
const R1 = rev("shop:v1");
const R2 = rev("shop:v2");
const R3 = rev("shop:v3");

function bgd(image: string, status: Record<string, unknown>, annotations: Record<string, string> = {}) {
  return {
    apiVersion: "bluegreen.io/v1",
    kind: "BlueGreenDeployment",
    metadata: { name: "shop", namespace: "prod", generation: 2, annotations, creationTimestamp: at(-600) },
    spec: spec(image),
    status: { observedGeneration: 2, ...status },
  };
}

const awaiting = bgd("shop:v2", {
  phase: "AwaitingPromotion",
  message: `Revision ${R2} ready on green`,
  activeColor: "blue",
  previewColor: "green",
  activeRevision: R1,
  previewRevision: R2,
  activeImage: "shop:v1",
  previewImage: "shop:v2",
  ready: "2/2",
  rollout: { revision: R2, startedAt: at(-60), previewReadySince: at(-30) },
  history: [{ revision: R1, image: "shop:v1", promotedAt: at(-500), trigger: "FirstDeployment" }],
});

describe("action verdicts (shared by the plugin and the dashboard)", () => {
  it("approves the revision in preview, and only the one a person saw", () => {
    assert.deepEqual(decidePromote(bgdView(awaiting)), { kind: "write", revision: R2 });
    assert.deepEqual(decidePromote(bgdView(awaiting), R2), { kind: "write", revision: R2 });
    const moved = decidePromote(bgdView(awaiting), R3);
    assert.equal(moved.kind, "refuse");
    assert.match(
      moved.kind === "refuse" ? moved.message : "",
      new RegExp(`revision ${R3} is no longer in preview \\(revision ${R2} is\\): nothing was approved`),
    );
  });

  it("refuses to promote on a status the operator has not written for the current spec", () => {
    const stale = { ...awaiting, metadata: { ...awaiting.metadata, generation: 3 } };
    const v = decidePromote(bgdView(stale), R2);
    assert.equal(v.kind, "refuse");
    assert.match(v.kind === "refuse" ? v.message : "", /only reported on 2/);
  });

  it("aborts the revision rolling out, and refuses one that is no longer rolling out", () => {
    assert.deepEqual(decideAbort(bgdView(awaiting), ""), { kind: "write", revision: R2 });
    assert.equal(decideAbort(bgdView(awaiting), "", R3).kind, "refuse");
    const aborted = bgd("shop:v2", { phase: "Aborted" }, { "bluegreen.io/abort": R2 });
    assert.equal(decideAbort(bgdView(aborted), "").kind, "done");
  });
});

describe("the dashboard's model", () => {
  const colorDeployment = (color: string, image: string, replicas: number, ready: number) => ({
    metadata: {
      name: `shop-${color}`,
      namespace: "prod",
      labels: { "bluegreen.io/name": "shop", "bluegreen.io/color": color },
      annotations: {},
    },
    spec: {
      replicas,
      template: {
        metadata: { labels: { "bluegreen.io/revision": rev(image) } },
        spec: { containers: [{ name: "app", image }] },
      },
    },
    status: { readyReplicas: ready },
  });
  const related = {
    deployments: [colorDeployment("blue", "shop:v1", 2, 2), colorDeployment("green", "shop:v2", 2, 1)],
    pods: [],
    events: [
      {
        metadata: { resourceVersion: "5" },
        type: "Normal",
        reason: "Deploying",
        message: "d",
        lastTimestamp: at(-59),
      },
      {
        metadata: { resourceVersion: "2" },
        type: "Normal",
        reason: "Stable",
        message: "old",
        lastTimestamp: at(-400),
      },
    ],
    services: {
      shop: { spec: { selector: { app: "shop", "bluegreen.io/color": "blue" } } },
      "shop-preview": { spec: { selector: { app: "shop", "bluegreen.io/color": "green" } } },
    },
    endpointSlices: {
      shop: [
        {
          endpoints: [{ addresses: ["10.0.0.2"], conditions: { ready: true } }, { addresses: ["10.0.0.1"] }],
        },
      ],
      "shop-preview": [
        {
          endpoints: [
            { addresses: ["10.0.1.1"], conditions: { ready: true } },
            { addresses: ["10.0.1.2"], conditions: { ready: false } },
          ],
        },
      ],
    },
  };

  it("shows both colors with the role each Service gives them, and each Service's ready endpoints", () => {
    const d = detailOf(awaiting, related, false);
    assert.deepEqual(
      d.colors.map((c) => [c.color, c.roles, c.revision, `${c.readyReplicas}/${c.replicas}`]),
      [
        ["blue", ["active"], R1, "2/2"],
        ["green", ["preview"], R2, "1/2"],
      ],
    );
    assert.deepEqual(
      d.services.map((s) => [s.name, s.role, s.color, s.readyEndpoints, s.notReadyEndpoints]),
      [
        ["shop", "active", "blue", ["10.0.0.1", "10.0.0.2"], []],
        ["shop-preview", "preview", "green", ["10.0.1.1"], ["10.0.1.2"]],
      ],
    );
  });

  it("offers promote naming the revision in preview; rollback is refused with the plugin's reason", () => {
    const a = actionsFor(bgdView(awaiting), awaiting, related.deployments, false);
    assert.equal(a.promote.enabled, true);
    assert.equal(a.promote.revision, R2);
    assert.match(
      a.promote.text,
      new RegExp(`Approve revision ${R2} \\(shop:v2\\): traffic switches from blue to green`),
    );
    assert.equal(a.retry.enabled, false);
    assert.match(a.retry.text, /nothing to retry: shop is not aborted/);
    assert.equal(a.rollbackKeepSpec.enabled, false);
    assert.match(
      a.rollbackKeepSpec.text,
      /nothing live to roll back: .*kubectl bluegreen abort shop -n prod/,
    );
    assert.equal(a.resume.enabled, false);
    assert.equal(a.pause.enabled, true);
  });

  it("disables every action, saying why, when read-only", () => {
    const a = actionsFor(bgdView(awaiting), awaiting, related.deployments, true);
    for (const v of Object.values(a)) {
      assert.equal(v.enabled, false);
      assert.match(v.text, /read-only/);
    }
  });

  it("lists BGDs in namespace/name order with what they wait for and the image in preview", () => {
    const other = { ...awaiting, metadata: { ...awaiting.metadata, namespace: "a-team" } };
    const rows = sortedRows([awaiting, other]);
    assert.deepEqual(
      rows.map((r) => r.key),
      ["a-team/shop", "prod/shop"],
    );
    assert.equal(rows[1]?.previewImage, "shop:v2");
    assert.equal(rows[1]?.message, `Revision ${R2} ready on green`);
  });
});

describe("the rollout timeline", () => {
  it("orders the steps of the latest rollout from its Events, leaving out older rollouts' steps", () => {
    const marks = rolloutTimeline(awaiting, [
      { time: at(-400), type: "Normal", reason: "Stable", message: "the previous rollout", count: 1 },
      { time: at(-59), type: "Normal", reason: "Deploying", message: "Deploying revision", count: 1 },
      { time: at(-29), type: "Normal", reason: "AwaitingPromotion", message: "ready", count: 1 },
    ]);
    assert.deepEqual(
      marks.map((m) => [m.stage, m.time]),
      [
        ["template written", at(-59)],
        ["preview ready", at(-29)],
      ],
    );
    assert.equal(marks[1]?.detail, "ready");
  });

  it("starts at the latest template write, even when the status still describes an older rollout", () => {
    const marks = rolloutTimeline(awaiting, [
      { time: at(-30), type: "Normal", reason: "AwaitingPromotion", message: "ready", count: 1 },
      { time: at(-5), type: "Normal", reason: "Deploying", message: "a newer revision", count: 1 },
    ]);
    assert.deepEqual(
      marks.map((m) => [m.stage, m.detail]),
      [["template written", "a newer revision"]],
    );
  });

  it("takes the approval from the status and the switch from the history when their Events are gone", () => {
    const promoted = bgd("shop:v2", {
      phase: "Stable",
      rollout: { revision: R2, startedAt: at(-60), previewReadySince: at(-30), promotedAt: at(-20) },
      history: [{ revision: R2, image: "shop:v2", promotedAt: at(-15) }],
    });
    assert.deepEqual(
      rolloutTimeline(promoted, []).map((m) => [m.stage, m.time]),
      [
        ["template written", at(-60)],
        ["preview ready", at(-30)],
        ["approved", at(-20)],
        ["switched", at(-15)],
      ],
    );
  });

  it("leaves out a superseded revision's steps recorded in the second the new one started", () => {
    const superseded = bgd("shop:v3", {
      phase: "Progressing",
      rollout: { revision: R3, startedAt: at(-10) },
    });
    const marks = rolloutTimeline(superseded, [
      {
        time: at(-11),
        type: "Normal",
        reason: "AwaitingPromotion",
        message: `Revision ${R2} ready`,
        count: 1,
      },
      { time: at(-10), type: "Normal", reason: "Deploying", message: `Deploying revision ${R3}`, count: 1 },
      { time: at(-10), type: "Normal", reason: "Progressing", message: `Deploying revision ${R3}`, count: 1 },
    ]);
    assert.deepEqual(
      marks.map((m) => m.stage),
      ["template written"],
    );
  });

  it("marks failures", () => {
    const marks = rolloutTimeline(awaiting, [
      { time: at(-10), type: "Warning", reason: "Aborted", message: "aborted by a person", count: 1 },
    ]);
    assert.deepEqual(
      marks.map((m) => [m.stage, m.tone]),
      [
        ["template written", "ok"],
        ["preview ready", "ok"],
        ["aborted", "warn"],
      ],
    );
  });
});

describe("action requests", () => {
  it("accepts a well-formed request and refuses anything else", () => {
    assert.deepEqual(
      parseRequest(JSON.stringify({ action: "promote", namespace: "prod", name: "shop", revision: R2 })),
      {
        action: "promote",
        namespace: "prod",
        name: "shop",
        revision: R2,
      },
    );
    assert.equal(parseRequest("{"), "the request is not JSON");
    assert.match(
      String(parseRequest(JSON.stringify({ action: "delete", namespace: "p", name: "s" }))),
      /unknown action/,
    );
    assert.match(
      String(parseRequest(JSON.stringify({ action: "abort", namespace: "P Q", name: "s" }))),
      /namespace/,
    );
    assert.match(
      String(parseRequest(JSON.stringify({ action: "abort", namespace: "p", name: "s", revision: "x;y" }))),
      /revision/,
    );
  });
});

describe("the connection the page shows", () => {
  /** A source whose answers the test decides, one outcome per call. */
  function scripted(outcomes: (Error | "ok")[]): ListWatcher {
    return {
      async list() {
        const next = outcomes.shift() ?? "ok";
        if (next !== "ok") throw next;
        return { items: [], resourceVersion: "1", continue: undefined };
      },
      async *watch() {},
    };
  }

  it("says disconnected while the API server cannot be reached, names a refused kind, and clears on success", async () => {
    const stop = new AbortController();
    let changes = 0;
    const source = new ObservedSource(
      scripted([
        new TransportError("GET", "/api/v1/pods", "fetch failed: connect ECONNREFUSED 127.0.0.1:6443"),
        new ApiError("GET", "/api/v1/events", 403, {
          reason: "Forbidden",
          message: 'events is forbidden: User "u"',
        }),
        "ok",
      ]),
      "https://127.0.0.1:6443",
      () => changes++,
      stop.signal,
    );
    try {
      await assert.rejects(source.list("/api/v1/pods", {}));
      assert.deepEqual(source.connection(true), {
        ok: false,
        message:
          "cannot reach the Kubernetes API server at https://127.0.0.1:6443: connect ECONNREFUSED 127.0.0.1:6443",
      });
      await assert.rejects(source.list("/api/v1/events", {}));
      await source.list("/api/v1/pods", {});
      assert.deepEqual(source.connection(true), {
        ok: true,
        message: 'Error from server (Forbidden): events is forbidden: User "u"',
      });
      assert.equal(changes, 3);
      assert.deepEqual(source.connection(false), {
        ok: true,
        message: 'Error from server (Forbidden): events is forbidden: User "u"',
      });
    } finally {
      stop.abort();
    }
  });
});
