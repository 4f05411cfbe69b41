/**
 * The install artifacts against the real API server: the plain manifests (deploy/) and the Helm
 * chart's output pass `kubectl apply --dry-run=server` (schema, defaulting, admission), and the chart
 * with default values renders the same objects as the plain manifests.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { parseAllDocuments } from "yaml";
import { deleteNamespace, kubectl, newNamespace } from "./lib.ts";

const REPO = resolve(import.meta.dirname, "../..");
const CHART = join(REPO, "charts/bluegreen-operator");
const run = promisify(execFile);

type Obj = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [k: string]: unknown;
};

const parse = (text: string): Obj[] =>
  parseAllDocuments(text)
    .map((d) => d.toJS() as Obj | null)
    .filter((o): o is Obj => o !== null);

const file = (path: string) => parse(readFileSync(join(REPO, path), "utf8"));

async function helm(args: readonly string[]): Promise<string> {
  const { stdout } = await run("helm", [...args], { maxBuffer: 16 << 20 });
  return stdout;
}

const template = async (
  sets: readonly string[] = [],
  release = "bluegreen-operator",
  ns = "bluegreen-system",
) => await helm(["template", release, CHART, "--namespace", ns, ...sets.flatMap((s) => ["--set", s])]);

/** Labels only Helm sets (release bookkeeping); everything else must match the plain manifests. */
const HELM_LABELS = ["helm.sh/chart", "app.kubernetes.io/managed-by", "app.kubernetes.io/version"];

function normalize(o: Obj): Obj {
  const copy = structuredClone(o);
  const strip = (labels: Record<string, string> | undefined) => {
    for (const l of HELM_LABELS) delete labels?.[l];
  };
  strip(copy.metadata.labels);
  const spec = copy.spec as { template?: { metadata?: { labels?: Record<string, string> } } } | undefined;
  strip(spec?.template?.metadata?.labels);
  return copy;
}

const key = (o: Obj) => `${o.kind}/${o.metadata.namespace ?? ""}/${o.metadata.name}`;

function assertSameObjects(rendered: readonly Obj[], plain: readonly Obj[]): void {
  const byKey = (objs: readonly Obj[]) => new Map(objs.map((o) => [key(o), normalize(o)]));
  const r = byKey(rendered);
  const p = byKey(plain);
  assert.deepEqual([...r.keys()].sort(), [...p.keys()].sort(), "the same objects");
  for (const [k, o] of p) assert.deepEqual(r.get(k), o, `${k} is the same`);
}

/** Every rendered object names its namespace, so none is passed here. */
async function dryRun(manifests: string): Promise<void> {
  await kubectl(
    ["apply", "--dry-run=server", "--server-side", "--field-manager=manifest-test", "-f", "-"],
    manifests,
  );
}

const namespaces: string[] = [];
after(async () => {
  await Promise.all(namespaces.map((n) => deleteNamespace(n)));
});

describe("manifests", { concurrency: true }, () => {
  let watchA = "";
  let watchB = "";
  before(async () => {
    // Namespaced objects need their namespace to exist even for a dry run.
    await kubectl(["apply", "--server-side", "-f", join(REPO, "deploy/operator/namespace.yaml")]);
    namespaces.push("bluegreen-system");
    [watchA, watchB] = await Promise.all([newNamespace("manifests-a"), newNamespace("manifests-b")]);
    namespaces.push(watchA, watchB);
  });

  it("deploy/crd, deploy/rbac and deploy/operator pass a server-side dry run", async () => {
    const { stdout } = await run("kubectl", [
      "apply",
      "--dry-run=server",
      "--server-side",
      "--field-manager=manifest-test",
      "-f",
      join(REPO, "deploy/crd"),
      "-f",
      join(REPO, "deploy/rbac"),
      "-f",
      join(REPO, "deploy/operator"),
    ]);
    for (const kind of [
      "clusterrole",
      "deployment.apps",
      "service/",
      "serviceaccount",
      "poddisruptionbudget",
      "validatingadmissionpolicy.admissionregistration.k8s.io/",
      "validatingadmissionpolicybinding",
    ]) {
      assert.match(stdout, new RegExp(kind), `${kind} applied`);
    }
    // The namespaced-mode Role, in a namespace that exists.
    const role = readFileSync(join(REPO, "deploy/rbac/namespaced/role.yaml"), "utf8").replaceAll(
      "my-apps",
      watchA,
    );
    await dryRun(role);
  });

  it("the Helm chart with default values renders the same objects as deploy/rbac and deploy/operator", async () => {
    const plain = [
      ...file("deploy/rbac/service_account.yaml"),
      ...file("deploy/rbac/cluster_role.yaml"),
      ...file("deploy/rbac/leader_election_role.yaml"),
      ...file("deploy/operator/deployment.yaml"),
      ...file("deploy/operator/service.yaml"),
      ...file("deploy/operator/pdb.yaml"),
      ...file("deploy/operator/admission-policy.yaml"),
    ];
    assertSameObjects(parse(await template()), plain);
  });

  it("the Helm chart's namespaced mode and monitoring render the same objects as deploy/rbac/namespaced and deploy/monitoring", async () => {
    const namespaced = parse(await template(["watchNamespaces={my-apps}"])).filter(
      (o) => o.metadata.namespace === "my-apps",
    );
    assertSameObjects(namespaced, file("deploy/rbac/namespaced/role.yaml"));

    const monitoring = parse(
      await template([
        "monitoring.serviceMonitor.enabled=true",
        "monitoring.prometheusRule.enabled=true",
        "monitoring.grafanaDashboard.enabled=true",
      ]),
    );
    const only = (kind: string) => monitoring.filter((o) => o.kind === kind);
    assertSameObjects(only("ServiceMonitor"), file("deploy/monitoring/servicemonitor.yaml"));
    assertSameObjects(only("PrometheusRule"), file("deploy/monitoring/prometheusrule.yaml"));
    const dashboard = only("ConfigMap")[0] as { data?: Record<string, string> } | undefined;
    assert.deepEqual(
      JSON.parse(dashboard?.data?.["bluegreen-operator.json"] ?? "null"),
      JSON.parse(readFileSync(join(REPO, "deploy/monitoring/grafana-dashboard.json"), "utf8")),
    );
  });

  it("the rendered chart passes helm lint and a server-side dry run, cluster-wide and namespaced", async () => {
    await helm(["lint", "--strict", CHART]);
    const crds = await helm([
      "template",
      "bluegreen-operator",
      CHART,
      "--include-crds",
      "--namespace",
      "bluegreen-system",
    ]);
    await dryRun(crds);
    // Another release name, two watched namespaces, no leader election, in a namespace of its own.
    const namespaced = await template(
      [`watchNamespaces={${watchA},${watchB}}`, "leaderElection.enabled=false", "replicaCount=1"],
      "bgo",
      watchA,
    );
    const objs = parse(namespaced);
    assert.deepEqual(
      objs
        .filter((o) => o.kind === "Role")
        .map((o) => o.metadata.namespace)
        .sort(),
      [watchA, watchB].sort(),
      "one Role per watched namespace, none for leader election",
    );
    assert.equal(objs.filter((o) => o.kind.startsWith("Cluster")).length, 0, "no cluster-wide RBAC");
    await dryRun(namespaced);
  });

  it("the Helm chart with shards=3 renders a Deployment per shard, each with its index, and RBAC for each shard's Lease", async () => {
    const text = await template(["shards=3"]);
    const objs = parse(text);
    type Dep = { spec: { template: { spec: { containers: { args: string[] }[] } } } };
    const deployments = objs.filter((o) => o.kind === "Deployment");
    assert.deepEqual(
      deployments.map((d) => [
        d.metadata.name,
        (d as unknown as Dep).spec.template.spec.containers[0]?.args.filter((a) => a.startsWith("--shard")),
      ]),
      [0, 1, 2].map((i) => [`bluegreen-operator-shard-${i}`, ["--shard-count=3", `--shard-index=${i}`]]),
    );
    const role = objs.find((o) => o.kind === "Role") as unknown as { rules: { resourceNames?: string[] }[] };
    assert.deepEqual(
      role.rules.flatMap((r) => r.resourceNames ?? []),
      [0, 1, 2].map((i) => `bluegreen-operator.bluegreen.io-shard-${i}`),
    );
    await dryRun(text);
  });
});
