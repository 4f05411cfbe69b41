/**
 * Least privilege, proven on the local control plane with the manifests in deploy/rbac (every e2e
 * operator runs with them, see identity.ts; this file grants them step by step):
 * - the operator, given nothing but its ServiceAccount's token (TokenRequest API), runs a whole
 *   rollout in namespaced mode; the apiserver refused none of its requests once its Role existed;
 * - /readyz stays 503 while the informers cannot list (no Role yet) and turns 200 once they sync;
 * - `kubectl auth can-i --as=system:serviceaccount:...` shows what it cannot do: list or watch Secrets,
 *   delete anything, touch a namespace it does not watch, or another Lease.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { auditOf, describeAudit } from "./audit.ts";
import { applyBgd, waitStatus } from "./bgd.ts";
import { grantRbac, revokeRbac } from "./identity.ts";
import { deleteNamespace, KubectlError, kubectl, kubectlJson, newNamespace, waitUntil } from "./lib.ts";
import { type OperatorProcess, startOperator } from "./operator.ts";
import { AUTO, endpointOf } from "./runtime-support.ts";

const SA = "bluegreen-operator";

async function canI(as: string, args: readonly string[]): Promise<boolean> {
  try {
    return (await kubectl(["auth", "can-i", ...args, `--as=${as}`])).trim() === "yes";
  } catch (err) {
    // `can-i` answers "no" with exit code 1; a misspelt resource would be a "no" too, so it fails.
    if (
      err instanceof KubectlError &&
      err.code === 1 &&
      !/^error:|doesn't have a resource type/m.test(err.stderr)
    ) {
      return false;
    }
    throw err;
  }
}

const running: OperatorProcess[] = [];
const namespaces: string[] = [];
const clusterObjects: string[] = [];
after(async () => {
  await Promise.all(running.map((o) => o.stop()));
  await Promise.all(namespaces.map((n) => deleteNamespace(n)));
  await revokeRbac(clusterObjects);
});

// In order: the can-i matrix reads the objects the rollout test applied.
describe("RBAC", () => {
  let operatorNs = "";
  let watchedNs = "";
  let otherNs = "";
  let clusterNs = "";
  before(async () => {
    [operatorNs, watchedNs, otherNs, clusterNs] = await Promise.all([
      newNamespace("rbac-op"),
      newNamespace("rbac-app"),
      newNamespace("rbac-other"),
      newNamespace("rbac-cw"),
    ]);
    namespaces.push(operatorNs, watchedNs, otherNs, clusterNs);
  });

  it("with only its ServiceAccount token and the namespaced Role, the operator completes a rollout", async () => {
    const sa = { namespace: operatorNs, name: SA };
    // The ServiceAccount and its Lease's Role, but no Role in the namespace it watches yet.
    await grantRbac({ sa, mode: "namespaced", watched: [], leaseNamespace: operatorNs });
    const op = await startOperator({
      namespaces: [watchedNs],
      name: "sa",
      network: "host", // the test reads the operator's health port
      rbac: "none",
      serviceAccount: sa,
      args: [
        "--health-probe-bind-address=127.0.0.1:0",
        "--leader-elect",
        "--leader-elect-namespace",
        operatorNs,
      ],
    });
    running.push(op);
    const user = op.user;
    const health = await endpointOf(op, "Serving health probes");
    const status = async (path: string) => (await fetch(`${health}${path}`)).status;

    // No Role in the watched namespace yet: the informers are refused, so not ready (but alive).
    await waitUntil("a refused list", 15_000, async () =>
      auditOf(user).some((e) => e.verb === "list" && e.responseStatus?.code === 403),
    );
    for (let i = 0; i < 3; i++) {
      assert.equal(await status("/readyz"), 503, "not ready before the caches sync");
      assert.equal(await status("/healthz"), 200);
      await sleep(300);
    }
    await grantRbac({ sa, mode: "namespaced", watched: [watchedNs] });
    await waitUntil(
      "/readyz 200 once the caches synced",
      30_000,
      async () => (await status("/readyz")) === 200,
    );
    const synced = new Date();

    await applyBgd(watchedNs, "app", { image: "app:v1", strategy: AUTO });
    await waitStatus(watchedNs, "app", { phase: "Stable", activeColor: "blue" });
    await applyBgd(watchedNs, "app", { image: "app:v2", strategy: AUTO });
    const done = await waitStatus(watchedNs, "app", { phase: "Stable", activeColor: "green" });
    assert.equal(done.activeImage, "app:v2");

    await sleep(1500); // audit batches are flushed every 200 ms
    const requests = auditOf(user, { since: synced });
    // Its Events, as a user sees them (the audit log has their creates too: a refused one would fail below).
    const events = await kubectlJson<{ items: { reason: string; source?: { component?: string } }[] }>([
      "get",
      "events",
      "-n",
      watchedNs,
      "--field-selector",
      "involvedObject.kind=BlueGreenDeployment,involvedObject.name=app",
    ]);
    assert.ok(
      events.items.some((e) => e.source?.component === "bluegreen-operator" && e.reason === "Switched"),
      "it records Events",
    );
    assert.ok(
      requests.some((e) => e.objectRef?.resource === "leases" && e.verb === "update"),
      "it renews its Lease",
    );
    const refused = requests.filter((e) => e.responseStatus?.code === 403);
    assert.deepEqual(describeAudit(refused), [], "nothing it needs is refused");
    const elsewhere = requests.filter(
      (e) => e.objectRef?.namespace !== watchedNs && e.objectRef?.namespace !== operatorNs,
    );
    assert.deepEqual(describeAudit(elsewhere), [], "it stays in its namespaces");
  });

  it("can-i: in namespaced mode it cannot list Secrets, delete, or touch other namespaces", async () => {
    const as = `system:serviceaccount:${operatorNs}:${SA}`;
    const lease = "leases.coordination.k8s.io/bluegreen-operator.bluegreen.io";
    const matrix: [string, boolean][] = [
      [`list bluegreendeployments.bluegreen.io -n ${watchedNs}`, true],
      [`watch bluegreendeployments.bluegreen.io -n ${watchedNs}`, true],
      [`patch bluegreendeployments.bluegreen.io -n ${watchedNs}`, true],
      [`update bluegreendeployments.bluegreen.io --subresource=status -n ${watchedNs}`, true],
      [`create deployments.apps -n ${watchedNs}`, true],
      [`patch deployments.apps -n ${watchedNs}`, true],
      [`patch services -n ${watchedNs}`, true],
      [`watch endpointslices.discovery.k8s.io -n ${watchedNs}`, true],
      [`list pods -n ${watchedNs}`, true],
      [`create events -n ${watchedNs}`, true],
      [`create leases.coordination.k8s.io -n ${operatorNs}`, true],
      [`update ${lease} -n ${operatorNs}`, true],
      // Gates: the Jobs of job checks, and the one Secret an http check names for its headers (read
      // by name; never listed or watched, so no Secret is ever cached).
      [`create jobs.batch -n ${watchedNs}`, true],
      [`get secrets -n ${watchedNs}`, true],
      // A failed Job's log tail: logs only, and only where it works.
      [`get pods --subresource=log -n ${watchedNs}`, true],
      [`get pods --subresource=log -n ${otherNs}`, false],
      // What it does not need:
      [`list secrets -n ${watchedNs}`, false],
      [`watch secrets -n ${watchedNs}`, false],
      [`get secrets -n ${operatorNs}`, false],
      [`list secrets -n ${operatorNs}`, false],
      [`delete jobs.batch -n ${watchedNs}`, false],
      // Notifications: the one ConfigMap of receivers, listed and watched by name; no other.
      [`list configmaps/bluegreen-notifications -n ${watchedNs}`, true],
      [`watch configmaps/bluegreen-notifications -n ${watchedNs}`, true],
      [`get configmaps -n ${watchedNs}`, false],
      [`list configmaps -n ${watchedNs}`, false],
      [`update bluegreendeployments.bluegreen.io -n ${watchedNs}`, false],
      [`delete bluegreendeployments.bluegreen.io -n ${watchedNs}`, false],
      [`delete deployments.apps -n ${watchedNs}`, false],
      [`update deployments.apps -n ${watchedNs}`, false],
      [`delete services -n ${watchedNs}`, false],
      [`create pods -n ${watchedNs}`, false],
      [`create pods --subresource=exec -n ${watchedNs}`, false],
      [`get pods -n ${watchedNs}`, false],
      [`update leases.coordination.k8s.io/kube-scheduler -n ${operatorNs}`, false],
      [`get ${lease} -n ${watchedNs}`, false],
      [`create leases.coordination.k8s.io -n ${watchedNs}`, false],
      [`list bluegreendeployments.bluegreen.io -n ${otherNs}`, false],
      [`list deployments.apps -n ${otherNs}`, false],
      [`patch services -n ${otherNs}`, false],
      [`create events -n ${otherNs}`, false],
      [`list bluegreendeployments.bluegreen.io --all-namespaces`, false],
      [`list namespaces`, false],
    ];
    const answers = await Promise.all(matrix.map(([q]) => canI(as, q.split(" "))));
    const wrong = matrix
      .filter(([, want], i) => answers[i] !== want)
      .map(([q, want]) => `${q}: want ${want}`);
    assert.deepEqual(wrong, []);
  });

  it("can-i: in cluster-wide mode it reaches every namespace, still without listing Secrets or deleting", async () => {
    clusterObjects.push(
      ...(await grantRbac({ sa: { namespace: clusterNs, name: SA }, mode: "cluster", watched: [] })),
    );
    const as = `system:serviceaccount:${clusterNs}:${SA}`;
    const matrix: [string, boolean][] = [
      [`list bluegreendeployments.bluegreen.io --all-namespaces`, true],
      [`watch pods --all-namespaces`, true],
      [`patch deployments.apps -n ${otherNs}`, true],
      [`create services -n ${otherNs}`, true],
      [`update bluegreendeployments.bluegreen.io --subresource=status -n ${otherNs}`, true],
      [`get secrets -n ${otherNs}`, true],
      [`list secrets --all-namespaces`, false],
      [`watch secrets --all-namespaces`, false],
      [`list secrets -n ${otherNs}`, false],
      [`delete deployments.apps -n ${otherNs}`, false],
      [`delete bluegreendeployments.bluegreen.io -n ${otherNs}`, false],
      [`create pods -n ${otherNs}`, false],
      [`create clusterrolebindings.rbac.authorization.k8s.io`, false],
      [`list nodes`, false],
      // No leader-election Role bound in this namespace: Leases stay out of reach.
      [`create leases.coordination.k8s.io -n ${clusterNs}`, false],
    ];
    const answers = await Promise.all(matrix.map(([q]) => canI(as, q.split(" "))));
    const wrong = matrix
      .filter(([, want], i) => answers[i] !== want)
      .map(([q, want]) => `${q}: want ${want}`);
    assert.deepEqual(wrong, []);
  });
});
