/** The plugin's spec edits: `set image` and which revision a rollback picks; and the rollback that keeps the spec. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { decideRollbackKeepSpec } from "../../src/cli/commands/actions.ts";
import { chooseRollback, parseAssignment, setImages } from "../../src/cli/commands/edit.ts";
import { bgdView, deploymentView } from "../../src/cli/objects.ts";
import { CliError } from "../../src/cli/session.ts";
import {
  bgd,
  deployment,
  R1,
  R2,
  rev,
  type Spec,
  templateOf,
  templateSpec,
  V1,
  V2,
} from "./support/cli-objects.ts";

describe("set image", () => {
  const edit = (spec: Spec, args: string[]) => {
    const obj = structuredClone(bgd(spec, {})) as Record<string, unknown>;
    const changes = setImages(obj, args.map(parseAssignment));
    return { changes, spec: obj.spec as Spec };
  };
  it("sets spec.image of a shorthand BGD", () => {
    const r = edit({ replicas: 2, image: "shop:v1" }, ["shop:v2"]);
    assert.deepEqual(r.changes, ["shop=shop:v2"]);
    assert.equal(r.spec.image, "shop:v2");
  });
  it("sets the only container without a name, a named one, and every container with *", () => {
    assert.deepEqual(edit(V1, ["shop:v2"]).changes, ["app=shop:v2"]);
    assert.deepEqual(edit(V1, ["app=shop:v2"]).changes, ["app=shop:v2"]);
    const two = templateSpec("shop:v1");
    (two.template as { spec: { initContainers?: unknown[] } }).spec.initContainers = [
      { name: "migrate", image: "m:1" },
    ];
    assert.deepEqual(edit(two, ["*=x:9"]).changes, ["app=x:9", "migrate=x:9"]);
  });
  it("reports no change for the same image", () => {
    assert.deepEqual(edit(V1, ["app=shop:v1"]).changes, []);
  });
  it("refuses an unknown container and an ambiguous one, naming the containers", () => {
    assert.throws(
      () => edit(V1, ["web=shop:v2"]),
      (e: unknown) => e instanceof CliError && /no container "web" \(it has: app\)/.test(e.message),
    );
    const two = templateSpec("shop:v1");
    (two.template as { spec: { containers: unknown[] } }).spec.containers.push({
      name: "proxy",
      image: "p:1",
    });
    assert.throws(() => edit(two, ["shop:v2"]), /has 2 containers \(app, proxy\): say which one/);
    assert.throws(() => edit({ image: "shop:v1" }, ["other=x:1"]), /image shorthand/);
  });
});

describe("rollback: which revision and how", () => {
  const stableOnV2 = bgd(V2, {
    phase: "Stable",
    activeColor: "green",
    activeRevision: R2,
    history: [
      { revision: R2, image: "shop:v2" },
      { revision: R1, image: "shop:v1" },
    ],
  });
  it("goes back to the other color's previously promoted revision: warm while it runs at full size", () => {
    const c = chooseRollback(stableOnV2, [deployment("blue", V1, 3, 3), deployment("green", V2, 3, 3)]);
    assert.equal(c.revision, R1);
    assert.equal(c.color, "blue");
    assert.equal(c.role, "warm");
    assert.equal(c.promotedBefore, true);
    const obj = structuredClone(stableOnV2) as Record<string, unknown>;
    c.apply(obj);
    assert.equal(rev(obj.spec as Spec), R1, "the spec asks for the old revision again");
  });
  it("is cold when the old color was scaled down", () => {
    const c = chooseRollback(stableOnV2, [deployment("blue", V1, 0, 0), deployment("green", V2, 3, 3)]);
    assert.equal(c.role, "cold");
  });
  it("during a rollout goes back to the live color's revision", () => {
    const rolling = bgd(V2, {
      phase: "AwaitingPromotion",
      activeColor: "blue",
      activeRevision: R1,
      history: [{ revision: R1 }],
    });
    const c = chooseRollback(rolling, [deployment("blue", V1, 3, 3), deployment("green", V2, 3, 3)]);
    assert.equal(c.revision, R1);
    assert.equal(c.role, "active");
  });
  it("takes a revision prefix with --to-revision, and explains the limit for one no color holds", () => {
    const deps = [deployment("blue", V1, 3, 3), deployment("green", V2, 3, 3)];
    assert.equal(chooseRollback(stableOnV2, deps, R1.slice(0, 4)).revision, R1);
    assert.throws(
      () => chooseRollback(stableOnV2, deps, "abcdef"),
      new RegExp(
        `only a revision still held by shop-blue or shop-green can be rolled back to \\(they hold ${R1} on blue, ${R2} on green\\)`,
      ),
    );
    assert.throws(() => chooseRollback(stableOnV2, deps, R2), /already what shop's spec asks for/);
  });
  it("refuses when no color holds a previously promoted revision", () => {
    const first = bgd(V1, {
      phase: "Stable",
      activeColor: "blue",
      activeRevision: R1,
      history: [{ revision: R1 }],
    });
    assert.throws(
      () => chooseRollback(first, [deployment("blue", V1, 3, 3)]),
      /no previously promoted revision/,
    );
  });
  it("sets spec.image back on a shorthand BGD whose old revision is shorthand-shaped", () => {
    const s1 = { replicas: 3, image: "shop:v1" };
    const s2 = { replicas: 3, image: "shop:v2" };
    const b = bgd(s2, {
      phase: "Stable",
      activeColor: "green",
      activeRevision: rev(s2),
      history: [{ revision: rev(s2) }, { revision: rev(s1) }],
    });
    const shorthandDeployment = (color: string, spec: Spec) => {
      const d = deployment(color, V1, 3, 3);
      d.metadata.annotations["bluegreen.io/template"] = templateOf(spec);
      d.spec.template.metadata.labels["bluegreen.io/revision"] = rev(spec);
      return d;
    };
    const c = chooseRollback(b, [shorthandDeployment("blue", s1), shorthandDeployment("green", s2)]);
    const obj = structuredClone(b) as Record<string, unknown>;
    c.apply(obj);
    assert.deepEqual(obj.spec, { replicas: 3, image: "shop:v1" });
  });
});

describe("rollback --keep-spec: the abort of the live revision", () => {
  const history = [
    { revision: R2, image: "shop:v2" },
    { revision: R1, image: "shop:v1" },
  ];
  const stableOnV2 = bgd(V2, { phase: "Stable", activeColor: "green", activeRevision: R2, history });
  const views = (...raw: unknown[]) => raw.map(deploymentView);
  it("names the live revision and the warm color traffic goes back to", () => {
    const v = decideRollbackKeepSpec(
      bgdView(stableOnV2),
      views(deployment("blue", V1, 3, 3), deployment("green", V2, 3, 3)),
      " -n prod",
    );
    assert.equal(v.kind, "write");
    assert.equal(v.kind === "write" ? v.revision : undefined, R2);
    assert.equal(v.to?.color, "blue");
    assert.equal(v.to?.revision, R1);
  });
  it("refuses when the previous color is scaled down or not fully ready, pointing to the spec-editing rollback", () => {
    for (const blue of [deployment("blue", V1, 0, 0), deployment("blue", V1, 3, 2)]) {
      const v = decideRollbackKeepSpec(
        bgdView(stableOnV2),
        views(blue, deployment("green", V2, 3, 3)),
        " -n prod",
      );
      assert.equal(v.kind, "refuse");
      assert.match(
        v.kind === "refuse" ? v.message : "",
        /cannot roll back shop without editing the spec: blue .* is not warm .*kubectl bluegreen rollback shop -n prod \(edits the spec\)/,
      );
    }
  });
  it("refuses a color whose revision never served", () => {
    const neverServed = bgd(V2, {
      phase: "Stable",
      activeColor: "green",
      activeRevision: R2,
      history: [{ revision: R2, image: "shop:v2" }],
    });
    const v = decideRollbackKeepSpec(
      bgdView(neverServed),
      views(deployment("blue", V1, 3, 3), deployment("green", V2, 3, 3)),
      "",
    );
    assert.equal(v.kind, "refuse");
    assert.match(v.kind === "refuse" ? v.message : "", /no other color holds a revision that served before/);
  });
  it("refuses during a rollout (that is abort's job) and says when it is already done", () => {
    const rolling = bgd(V2, { phase: "AwaitingPromotion", activeColor: "blue", activeRevision: R1, history });
    const deps = views(deployment("blue", V1, 3, 3), deployment("green", V2, 3, 3));
    const v = decideRollbackKeepSpec(bgdView(rolling), deps, "");
    assert.equal(v.kind, "refuse");
    assert.match(
      v.kind === "refuse" ? v.message : "",
      /nothing live to roll back.*kubectl bluegreen abort shop/,
    );
    const rolledBack = bgd(
      V2,
      { phase: "Aborted", activeColor: "blue", activeRevision: R1, history },
      { annotations: { "bluegreen.io/abort": R2 } },
    );
    assert.equal(decideRollbackKeepSpec(bgdView(rolledBack), deps, "").kind, "done");
  });
});
