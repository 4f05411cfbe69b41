/**
 * The two rollbacks, as a GitOps tool sees them: the manifest is re-applied unchanged (a sync of a Git
 * that did not move) after each. `rollback --keep-spec` (the abort of the live revision) never edits the
 * spec, so the sync changes nothing and traffic stays on the previous color until Git moves on; the
 * spec-editing `rollback` is undone by the sync, which rolls the revision out again.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { applyBgd, type BgdStatus, deployment, getStatus, serviceSelector, waitStatus } from "./bgd.ts";
import { namespacesWithOperator } from "./fixture.ts";
import { kubectl, kubectlJson, waitUntil } from "./lib.ts";
import { pluginForFile } from "./plugin-bin.ts";

const { ns } = namespacesWithOperator("rb", ["keep", "edit", "cold"] as const, { name: "gitops-rollback" });
/** `kubectl bluegreen ARGS` through the real kubectl, with the plugin from source. */
const plugin = pluginForFile();

interface Bgd {
  metadata: { generation: number; annotations?: Record<string, string> };
  spec: { template: { spec: { containers: { image: string }[] } } };
  status?: BgdStatus;
}
const getBgd = (n: string) => kubectlJson<Bgd>(["get", "bgd", "app", "-n", n]);
const specImage = (b: Bgd) => b.spec.template.spec.containers[0]?.image;

/** v1 then v2 through the "Git" manifest, v2 approved and Stable on green, blue (v1) kept warm. */
async function v2Live(n: string, strategy: Record<string, unknown>): Promise<{ r1: string; r2: string }> {
  await applyBgd(n, "app", { image: "app:v1", replicas: 2, strategy });
  const v1 = await waitStatus(n, "app", { phase: "Stable", activeColor: "blue" });
  await applyBgd(n, "app", { image: "app:v2", replicas: 2, strategy });
  const waiting = await waitStatus(n, "app", { phase: "AwaitingPromotion" });
  const promoted = await plugin(["promote", "app", "-n", n]);
  assert.equal(promoted.code, 0, promoted.stderr);
  await waitStatus(n, "app", { phase: "Stable", activeColor: "green" });
  return { r1: v1.activeRevision ?? "", r2: waiting.previewRevision ?? "" };
}

describe("rollback and GitOps", { concurrency: true }, () => {
  it("rollback --keep-spec switches back to the warm color without touching the spec, and a sync keeps it there until Git moves on", async () => {
    const n = ns.keep;
    const strategy = { scaleDownDelaySeconds: 600, abortScaleDownDelaySeconds: 2 };
    const { r1, r2 } = await v2Live(n, strategy);
    const before = await getBgd(n);

    const r = await plugin(["rollback", "app", "-n", n, "--keep-spec"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stdout,
      new RegExp(
        `rolled back without editing the spec: live revision ${r2} aborted \\(annotation bluegreen.io/abort\\); traffic switches from green back to blue \\(revision ${r1}, still warm\\) and stays there until the spec moves on`,
      ),
    );
    const back = await waitStatus(n, "app", { phase: "Aborted", activeColor: "blue", activeRevision: r1 });
    assert.equal((await serviceSelector(n, "app"))?.["bluegreen.io/color"], "blue");
    assert.match(
      back.message ?? "",
      new RegExp(`Rolled back: revision ${r2} was aborted while live on green`),
    );
    const degraded = back.conditions?.find((c) => c.type === "Degraded");
    assert.equal(degraded?.reason, "RolledBack");
    const promotedCond = back.conditions?.find((c) => c.type === "Promoted");
    assert.equal(promotedCond?.status, "False");
    // The spec is what Git says: same image, same generation.
    const after = await getBgd(n);
    assert.equal(specImage(after), "app:v2");
    assert.equal(after.metadata.generation, before.metadata.generation);
    assert.equal(after.metadata.annotations?.["bluegreen.io/abort"], r2);

    // A second press says so instead of writing again.
    const again = await plugin(["rollback", "app", "-n", n, "--keep-spec"]);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, new RegExp(`revision ${r2} is already rolled back`));

    // A GitOps sync of the unchanged Git: nothing moves. The aborted color retires after its delay.
    await applyBgd(n, "app", { image: "app:v2", replicas: 2, strategy });
    await waitUntil(
      "green (the aborted v2) scaled down",
      60_000,
      async () => (await deployment(n, "app-green"))?.spec.replicas === 0,
    );
    await sleep(2000);
    const held = await getStatus(n, "app");
    assert.equal(held.phase, "Aborted");
    assert.equal(held.activeColor, "blue");
    assert.equal((await serviceSelector(n, "app"))?.["bluegreen.io/color"], "blue");
    assert.match(held.message ?? "", /Rolled back: /);

    // Git moves on (the fix, v3): the abort is cleared and v3 rolls out as usual.
    await applyBgd(n, "app", { image: "app:v3", replicas: 2, strategy });
    const v3 = await waitStatus(n, "app", { phase: "AwaitingPromotion" });
    assert.notEqual(v3.previewRevision, r2);
    assert.equal((await getBgd(n)).metadata.annotations?.["bluegreen.io/abort"], undefined);
    assert.equal((await plugin(["promote", "app", "-n", n])).code, 0);
    const done = await waitStatus(n, "app", { phase: "Stable", activeColor: "green" });
    assert.equal(done.activeImage, "app:v3");
  });

  it("the spec-editing rollback is undone by the next sync, which rolls the revision out again", async () => {
    const n = ns.edit;
    const strategy = { scaleDownDelaySeconds: 600 };
    const { r1, r2 } = await v2Live(n, strategy);
    const r = await plugin(["rollback", "app", "-n", n]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stdout,
      new RegExp(
        `rolled back by editing the spec to revision ${r1} \\(app:v1\\): blue is still warm: traffic switches back to it now\\. A GitOps tool syncing this BGD will undo the edit; to leave the spec alone use: kubectl bluegreen rollback app -n ${n} --keep-spec`,
      ),
    );
    assert.equal(specImage(await getBgd(n)), "app:v1");
    await waitStatus(n, "app", { phase: "Stable", activeColor: "blue", activeRevision: r1 });

    // The sync puts Git's v2 back: a rollout of v2 starts again (v2 served before, so the
    // operator takes it as a rollback and promotes it without a new approval).
    await applyBgd(n, "app", { image: "app:v2", replicas: 2, strategy });
    const again = await waitStatus(n, "app", { activeColor: "green", activeRevision: r2 });
    assert.equal(again.activeImage, "app:v2");
  });

  it("rollback --keep-spec refuses when the previous color is no longer warm, naming the other rollback", async () => {
    const n = ns.cold;
    await v2Live(n, { scaleDownDelaySeconds: 0 });
    await waitUntil(
      "blue scaled down",
      60_000,
      async () => (await deployment(n, "app-blue"))?.spec.replicas === 0,
    );
    const r = await plugin(["rollback", "app", "-n", n, "--keep-spec"]);
    assert.equal(r.code, 1, r.stdout);
    assert.match(
      r.stderr,
      new RegExp(
        `^error: cannot roll back app without editing the spec: blue \\(revision [0-9a-f]{10}\\) is not warm \\(0/2 ready\\); use: kubectl bluegreen rollback app -n ${n} \\(edits the spec\\)`,
      ),
    );
    assert.equal((await getBgd(n)).metadata.annotations?.["bluegreen.io/abort"], undefined);
    // The annotation set by hand anyway (as a GitOps user might): traffic stays, the BGD says why.
    await kubectl([
      "annotate",
      "-n",
      n,
      "bgd",
      "app",
      `bluegreen.io/abort=${(await getStatus(n, "app")).activeRevision}`,
    ]);
    const st = await waitUntil("the BGD to say the abort cannot roll back", 30_000, async () => {
      const s = await getStatus(n, "app");
      return /cannot roll back: no color that served before is warm/.test(s.message ?? "") ? s : undefined;
    });
    assert.equal(st.activeColor, "green");
    assert.equal((await serviceSelector(n, "app"))?.["bluegreen.io/color"], "green");
  });
});
