/**
 * The dashboard in the cluster: deploy/dashboard/ and the chart's `dashboard.enabled` render the same
 * objects and pass a server-side dry run; its ServiceAccount may read everything the page shows (no gaps)
 * and write nothing, so an action is refused by the API server itself.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { parseAllDocuments } from "yaml";
import { applyBgd, waitStatus } from "./bgd.ts";
import { type DashboardProcess, startDashboard } from "./dashboard-support.ts";
import { deleteNamespace, env, kubectl, kubectlJson, newNamespace, waitUntil } from "./lib.ts";
import { type OperatorProcess, startOperator } from "./operator.ts";

const REPO = resolve(import.meta.dirname, "../..");
const CHART = join(REPO, "charts/bluegreen-operator");
const run = promisify(execFile);

type Obj = { kind: string; metadata: { name: string; namespace?: string; labels?: Record<string, string> } };
const parse = (text: string): Obj[] =>
  parseAllDocuments(text)
    .map((d) => d.toJS() as Obj | null)
    .filter((o): o is Obj => o !== null);

/** Labels only Helm sets; everything else must match the plain manifests. */
function normalize(o: Obj): Obj {
  const copy = structuredClone(o) as Obj & {
    spec?: { template?: { metadata?: { labels?: Record<string, string> } } };
  };
  for (const labels of [copy.metadata.labels, copy.spec?.template?.metadata?.labels])
    for (const l of ["helm.sh/chart", "app.kubernetes.io/managed-by", "app.kubernetes.io/version"])
      delete labels?.[l];
  return copy;
}

async function template(release: string, ns: string, sets: readonly string[]): Promise<string> {
  const args = ["template", release, CHART, "--namespace", ns, ...sets.flatMap((s) => ["--set", s])];
  return (await run("helm", args, { maxBuffer: 16 << 20 })).stdout;
}

describe("the dashboard in the cluster", () => {
  let ns = "";
  let operator: OperatorProcess | undefined;
  let dashboard: DashboardProcess | undefined;
  let applied = "";
  before(async () => {
    ns = await newNamespace("dashmanifests");
  });
  after(async () => {
    await dashboard?.stop();
    await operator?.stop();
    if (applied !== "") await kubectl(["delete", "--ignore-not-found", "-f", "-"], applied).catch(() => {});
    if (ns !== "") await deleteNamespace(ns);
  });

  it("deploy/dashboard is what the chart renders with dashboard.enabled, and passes a server-side dry run", async () => {
    const plain = ["rbac.yaml", "deployment.yaml"].flatMap((f) =>
      parse(readFileSync(join(REPO, "deploy/dashboard", f), "utf8")),
    );
    const rendered = parse(
      await template("bluegreen-operator", "bluegreen-system", ["dashboard.enabled=true"]),
    ).filter((o) => o.metadata.labels?.["app.kubernetes.io/component"] === "dashboard");
    const byKey = (objs: readonly Obj[]) =>
      new Map(objs.map((o) => [`${o.kind}/${o.metadata.namespace ?? ""}/${o.metadata.name}`, normalize(o)]));
    assert.deepEqual(byKey(rendered), byKey(plain));
    // The default chart renders no dashboard at all.
    const defaults = parse(await template("bluegreen-operator", "bluegreen-system", []));
    assert.equal(defaults.filter((o) => o.metadata.name.includes("dashboard")).length, 0);
    // In this test's namespace (bluegreen-system belongs to the manifests test), for a server-side dry run.
    await kubectl(
      ["apply", "--dry-run=server", "--server-side", "--field-manager=manifest-test", "-f", "-"],
      await template("dry", ns, ["dashboard.enabled=true"]),
    );
  });

  it("its read-only ServiceAccount sees every BGD with no gaps, and an action is refused by the API server", async () => {
    operator = await startOperator({ namespaces: [ns], name: "dashmanifests" });
    await applyBgd(ns, "web", { image: "web:v1" });
    await waitStatus(ns, "web", { phase: "Stable" });
    // The chart's dashboard objects, applied for real under a release name of this test's own.
    applied = (await template("dashtest", ns, ["dashboard.enabled=true"]))
      .split(/^---$/m)
      .filter(
        (doc) =>
          /app\.kubernetes\.io\/component: dashboard/.test(doc) && !/kind: (Deployment|Service)\n/.test(doc),
      )
      .join("\n---\n");
    await kubectl(["apply", "-f", "-"], applied);
    const sa = "dashtest-bluegreen-operator-dashboard";
    const token = (await kubectl(["create", "token", sa, "-n", ns])).trim();
    const admin = await kubectlJson<{ clusters: { cluster: { server: string } }[] }>([
      "config",
      "view",
      "--raw",
      "--minify",
    ]);
    const kubeconfig = join(env("BGO_CLUSTER_DIR"), `kubeconfig-${ns}-dashboard`);
    writeFileSync(
      kubeconfig,
      JSON.stringify({
        apiVersion: "v1",
        kind: "Config",
        clusters: [{ name: "c", cluster: admin.clusters[0]?.cluster }],
        users: [{ name: "u", user: { token } }],
        contexts: [{ name: "c", context: { cluster: "c", user: "u" } }],
        "current-context": "c",
      }),
    );
    // Without --read-only, so the page would act: the ServiceAccount's RBAC is what refuses.
    dashboard = await startDashboard(["-A", "--kubeconfig", kubeconfig]);
    const url = dashboard.url;
    const state = await waitUntil("the dashboard's state with web and its pods in it", 60_000, async () => {
      const s = (await (await fetch(`${url}api/state?detail=${ns}/web`)).json()) as {
        connection: { ok: boolean; message: string; connecting?: boolean };
        rows: { key: string }[];
        detail: { colors: { pods: unknown[] }[] } | null;
      };
      const pods = (s.detail?.colors ?? []).some((c) => c.pods.length > 0);
      // Rows and pods can arrive before every collection has answered once (still "connecting"); judge
      // the connection only once each has answered, allowed or refused.
      const answered = s.connection.connecting !== true;
      return s.rows.some((r) => r.key === `${ns}/web`) && pods && answered ? s : undefined;
    });
    assert.deepEqual(state.connection, { ok: true, message: "" }, "every watch is allowed");
    const res = await fetch(`${url}api/actions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ action: "pause", namespace: ns, name: "web" }),
    });
    const body = (await res.json()) as { ok: boolean; message: string };
    assert.equal(body.ok, false);
    assert.match(body.message, new RegExp(`Forbidden.*system:serviceaccount:${ns}:${sa}.* cannot patch`));
  });
});
