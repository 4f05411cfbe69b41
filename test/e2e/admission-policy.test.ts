/**
 * The guard rails of the Helm chart (and deploy/operator/admission-policy.yaml, the same objects): a
 * ValidatingAdmissionPolicy refuses hand edits of the spec of the Deployments and Services the operator
 * manages, naming the BlueGreenDeployment to change instead, while the operator's own writes pass.
 *
 * The operator runs as it does in a cluster: with the chart's ServiceAccount (a token from the
 * TokenRequest API, as every e2e operator) and the chart's namespaced RBAC (in place of deploy/rbac's,
 * which the other tests grant), and the policy is the chart's, rendered for this
 * test's release (so the exempted identity is that ServiceAccount, and the binding covers only this
 * test's namespace: the other tests, whose operators run as other users, are not affected).
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { join, resolve } from "node:path";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { promisify } from "node:util";
import { parseAllDocuments } from "yaml";
import { auditOf, describeAudit } from "./audit.ts";
import { applyBgd, deployment, serviceSelector, waitStatus } from "./bgd.ts";
import { deleteNamespace, KubectlError, kubectl, newNamespace, waitUntil } from "./lib.ts";
import { type OperatorProcess, startOperator } from "./operator.ts";
import { AUTO } from "./runtime-support.ts";

const REPO = resolve(import.meta.dirname, "../..");
const run = promisify(execFile);

type Obj = { kind: string; metadata: { name: string; namespace?: string } };

/** What kubectl prints when the API server refuses the request; fails if it was accepted. */
async function refused(args: readonly string[]): Promise<string> {
  try {
    await kubectl(args);
  } catch (err) {
    if (err instanceof KubectlError) return err.stderr;
    throw err;
  }
  return assert.fail(`kubectl ${args.join(" ")} was accepted`);
}

let operator: OperatorProcess | undefined;
const namespaces: string[] = [];
const clusterObjects: string[] = [];
after(async () => {
  await operator?.stop();
  for (const o of clusterObjects) await kubectl(["delete", o, "--ignore-not-found"]);
  await Promise.all(namespaces.map((n) => deleteNamespace(n)));
});

describe("the admission policy against hand edits", () => {
  let ns = "";
  let user = "";
  before(async () => {
    const [operatorNs, appNs] = await Promise.all([newNamespace("vap-op"), newNamespace("vap-app")]);
    namespaces.push(operatorNs, appNs);
    ns = appNs;
    const release = `vap-${randomBytes(3).toString("hex")}`;
    const { stdout } = await run(
      "helm",
      [
        "template",
        release,
        join(REPO, "charts/bluegreen-operator"),
        "-n",
        operatorNs,
        "--set",
        `watchNamespaces={${ns}}`,
      ],
      { maxBuffer: 16 << 20 },
    );
    const wanted = [
      "ServiceAccount",
      "Role",
      "RoleBinding",
      "ValidatingAdmissionPolicy",
      "ValidatingAdmissionPolicyBinding",
    ];
    const items = parseAllDocuments(stdout)
      .map((d) => d.toJS() as Obj | null)
      .filter((o): o is Obj => o !== null && wanted.includes(o.kind));
    for (const o of items) {
      if (o.kind.startsWith("ValidatingAdmissionPolicy"))
        clusterObjects.push(`${o.kind.toLowerCase()}.admissionregistration.k8s.io/${o.metadata.name}`);
    }
    assert.deepEqual([...new Set(items.map((o) => o.kind))].sort(), [...wanted].sort());
    await kubectl(["apply", "-f", "-"], JSON.stringify({ apiVersion: "v1", kind: "List", items }));
    const sa = items.find((o) => o.kind === "ServiceAccount")?.metadata.name ?? "";
    // The chart's RBAC, just applied, is what it runs with.
    operator = await startOperator({
      namespaces: [ns],
      name: "sa",
      rbac: "none",
      serviceAccount: { namespace: operatorNs, name: sa },
    });
    user = operator.user;

    await applyBgd(ns, "app", { image: "app:v1", strategy: AUTO });
    await waitStatus(ns, "app", { phase: "Stable", activeColor: "blue" });
    // A policy takes effect a moment after it is created: wait with a dry run, which admission sees too.
    await waitUntil("the policy to refuse a dry-run edit", 30_000, async () => {
      await refused(["set", "image", "--dry-run=server", "-n", ns, "deployment/app-blue", "app=app:probe"]);
      return true;
    });
  });

  it("refuses kubectl set image on a color's Deployment, naming the BlueGreenDeployment", async () => {
    const stderr = await refused(["set", "image", "-n", ns, "deployment/app-blue", "app=app:hand-edit"]);
    assert.ok(
      stderr.includes(
        `Deployment ${ns}/app-blue is managed by the BlueGreenDeployment app: change the BlueGreenDeployment instead (kubectl edit bluegreendeployment app -n ${ns}); only the operator changes the spec of the objects it manages`,
      ),
      stderr,
    );
    assert.equal((await deployment(ns, "app-blue"))?.spec.template.spec.containers[0]?.image, "app:v1");
  });

  it("refuses a hand edit of the active Service's selector", async () => {
    const stderr = await refused([
      "patch",
      "service",
      "app",
      "-n",
      ns,
      "--type=merge",
      "-p",
      JSON.stringify({ spec: { selector: { "bluegreen.io/color": "green" } } }),
    ]);
    assert.ok(stderr.includes(`Service ${ns}/app is managed by the BlueGreenDeployment app`), stderr);
    assert.equal((await serviceSelector(ns, "app"))?.["bluegreen.io/color"], "blue");
  });

  it("refuses taking the managed-by label off (which would take the object out of the policy)", async () => {
    const stderr = await refused(["label", "-n", ns, "deployment/app-blue", "app.kubernetes.io/managed-by-"]);
    assert.ok(
      stderr.includes(
        `Deployment ${ns}/app-blue is managed by the BlueGreenDeployment app: only the operator may remove or change its label app.kubernetes.io/managed-by`,
      ),
      stderr,
    );
  });

  it("lets people annotate (metadata is not the spec)", async () => {
    await kubectl(["annotate", "-n", ns, "deployment/app-blue", "example.com/note=checked"]);
  });

  it("lets the operator's own writes pass: a rollout, and scaling through the BlueGreenDeployment", async () => {
    const since = new Date();
    await applyBgd(ns, "app", { image: "app:v2", strategy: AUTO });
    const done = await waitStatus(ns, "app", { phase: "Stable", activeColor: "green" });
    assert.equal(done.activeImage, "app:v2");
    await kubectl(["scale", "-n", ns, "bgd/app", "--replicas=4"]);
    await waitUntil("green scaled to 4 by the operator", 60_000, async () => {
      const d = await deployment(ns, "app-green");
      return d?.spec.replicas === 4 && d.status.readyReplicas === 4;
    });
    await sleep(1500); // audit batches are flushed every 200 ms
    const writes = auditOf(user, { since, writesOnly: true });
    assert.ok(
      writes.some((e) => e.objectRef?.resource === "deployments" && e.responseStatus?.code === 200),
      "it wrote its Deployments",
    );
    const refusedWrites = writes.filter(
      (e) => (e.responseStatus?.code ?? 0) >= 400 && e.responseStatus?.code !== 409,
    );
    assert.deepEqual(describeAudit(refusedWrites), [], "none of its writes was refused");
  });
});
