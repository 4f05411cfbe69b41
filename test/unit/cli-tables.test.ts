/** The plugin's list and history tables, status verdicts and exit codes. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { EXIT_FAILED, EXIT_STABLE, judge } from "../../src/cli/commands/status.ts";
import { bgdView } from "../../src/cli/objects.ts";
import { PLAIN } from "../../src/cli/style.ts";
import { renderHistory, renderList } from "../../src/cli/tables.ts";
import { awaiting, bgd, NOW, R1, R2, type Spec, V1, V2 } from "./support/cli-objects.ts";

describe("list and history tables", () => {
  it("lists BGDs like kubectl get, with the namespace column for -A and more with -o wide", () => {
    const other = bgd(
      V1,
      { phase: "Stable", activeColor: "blue", ready: "3/3", activeImage: "shop:v1" },
      { name: "cart", namespace: "dev" },
    );
    const out = renderList([awaiting.bgd, other], {
      now: NOW,
      painter: PLAIN,
      allNamespaces: true,
      wide: true,
    });
    const lines = out.split("\n");
    assert.match(
      lines[0] ?? "",
      /^NAMESPACE +NAME +ACTIVE +PHASE +READY +IMAGE +PREVIEW +AGE +REVISION +PREVIEW-REVISION +MESSAGE$/,
    );
    assert.match(lines[1] ?? "", /^dev +cart +blue +✔ Stable +3\/3 +shop:v1 +- +60m/);
    assert.match(
      lines[2] ?? "",
      new RegExp(`^prod +shop +blue +◇ AwaitingPromotion +3/3 +shop:v1 +shop:v2 +60m +${R1} +${R2}`),
    );
  });

  it("lists the revision in progress first, then promoted revisions, with the color that still holds each", () => {
    const out = renderHistory(awaiting.bgd, awaiting.deployments, { now: NOW, painter: PLAIN });
    assert.deepEqual(out.split("\n"), [
      "REVISION      IMAGE     PROMOTED       SWITCHED-FROM   HELD-BY",
      `${R2}*   shop:v2   not promoted                   green (warm)`,
      `${R1}    shop:v1   58m ago        -               blue (serving)`,
    ]);
  });
});

describe("status: when to stop and with which exit code", () => {
  const view = (spec: Spec, status: Record<string, unknown>, meta: Record<string, unknown> = {}) =>
    bgdView(bgd(spec, status, meta));
  const cases: [string, ReturnType<typeof view>, boolean, number | undefined][] = [
    [
      "Stable on the revision the spec asks for: done, 0",
      view(V2, { phase: "Stable", activeRevision: R2 }),
      true,
      EXIT_STABLE,
    ],
    [
      "Stable for an older generation (just after set image): keep waiting",
      view(V2, { phase: "Stable", activeRevision: R1, observedGeneration: 1 }),
      false,
      undefined,
    ],
    [
      "Stable but still serving another revision: keep waiting",
      view(V2, { phase: "Stable", activeRevision: R1 }),
      false,
      undefined,
    ],
    [
      "Aborted with the abort annotation: done, 1",
      view(V2, { phase: "Aborted" }, { annotations: { "bluegreen.io/abort": R2 } }),
      true,
      EXIT_FAILED,
    ],
    [
      "Aborted but the annotation was removed (retry on its way): keep waiting",
      view(V2, { phase: "Aborted" }),
      false,
      undefined,
    ],
    ["Degraded (invalid spec): done, 1", view(V2, { phase: "Degraded", message: "bad" }), true, EXIT_FAILED],
    [
      "progress deadline exceeded without abort: done, 1",
      view(V2, {
        phase: "Progressing",
        conditions: [
          { type: "Degraded", status: "True", reason: "ProgressDeadlineExceeded", message: "late" },
        ],
      }),
      true,
      EXIT_FAILED,
    ],
    ["awaiting promotion: keep waiting", view(V2, { phase: "AwaitingPromotion" }), false, undefined],
  ];
  for (const [name, b, done, code] of cases) {
    it(name, () => {
      const v = judge(b);
      assert.equal(v.done, done);
      if (v.done) assert.equal(v.exitCode, code);
    });
  }
  it("tells how to promote while awaiting promotion", () => {
    assert.match(
      judge(view(V2, { phase: "AwaitingPromotion", message: "ready" })).line,
      /kubectl bluegreen promote shop/,
    );
  });
});
