/**
 * The packaging agrees with the code, without a cluster: RBAC rules equal src/runtime/rbac.ts, the
 * chart's copies (CRD, alerts, dashboard) equal deploy/, every metric the alerts and the dashboard
 * query is one the operator exports, and the alerts fire (and stay quiet) as intended under
 * `promtool test rules`.
 */
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describe, it } from "node:test";
import { parse, parseAllDocuments } from "yaml";
import type { KubeObject } from "../../src/kube/informer.ts";
import { OperatorMetrics } from "../../src/runtime/metrics.ts";
import { leaderElectionRules, OPERATOR_RULES } from "../../src/runtime/rbac.ts";
import { RolloutMetrics } from "../../src/runtime/rollout-metrics.ts";

const REPO = resolve(import.meta.dirname, "../..");
const CHART = join(REPO, "charts/bluegreen-operator");
const read = (p: string) => readFileSync(join(REPO, p), "utf8");
const docs = (p: string) => parseAllDocuments(read(p)).map((d) => d.toJS() as Record<string, unknown>);
const rulesOf = (p: string, kind: string) =>
  docs(p)
    .filter((d) => d.kind === kind)
    .map((d) => d.rules);

describe("packaging", () => {
  it("deploy/rbac grants exactly src/runtime/rbac.ts's rules", () => {
    const plain = JSON.parse(JSON.stringify(OPERATOR_RULES));
    assert.deepEqual(rulesOf("deploy/rbac/cluster_role.yaml", "ClusterRole"), [plain]);
    assert.deepEqual(rulesOf("deploy/rbac/namespaced/role.yaml", "Role"), [plain]);
    assert.deepEqual(rulesOf("deploy/rbac/leader_election_role.yaml", "Role"), [
      JSON.parse(JSON.stringify(leaderElectionRules("bluegreen-operator.bluegreen.io"))),
    ]);
  });

  it("the chart carries the current CRD, alerts and dashboard", () => {
    for (const f of readdirSync(join(REPO, "deploy/crd"))) {
      assert.equal(
        readFileSync(join(CHART, "crds", f), "utf8"),
        read(`deploy/crd/${f}`),
        `charts/bluegreen-operator/crds/${f} is stale: copy deploy/crd/${f} there`,
      );
    }
    assert.deepEqual(readdirSync(join(CHART, "crds")).sort(), readdirSync(join(REPO, "deploy/crd")).sort());
    assert.equal(
      read("charts/bluegreen-operator/files/grafana-dashboard.json"),
      read("deploy/monitoring/grafana-dashboard.json"),
    );
    const rule = docs("deploy/monitoring/prometheusrule.yaml")[0] as { spec: unknown };
    assert.deepEqual(parse(read("charts/bluegreen-operator/files/prometheus-rules.yaml")), rule.spec);
  });

  it("every metric the alerts and the dashboard query is exported", async () => {
    const m = new OperatorMetrics({ workers: 1 });
    const bgd = {
      metadata: { name: "a", namespace: "n" },
      status: { phase: "Progressing", activeColor: "blue" },
    };
    const r = new RolloutMetrics({
      registry: m.registry,
      list: () => [bgd as KubeObject],
      counting: () => true,
    });
    r.onChange(undefined, bgd as KubeObject);
    m.setLeader("bluegreen-operator.bluegreen.io", true);
    const exported = new Set<string>();
    for (const metric of await m.registry.getMetricsAsJSON()) {
      exported.add(metric.name);
      // prom-client types `type` as a numeric enum; at run time it is the exposition name.
      if (String(metric.type) === "histogram")
        for (const s of ["_bucket", "_sum", "_count"]) exported.add(metric.name + s);
    }
    const queries = [
      read("charts/bluegreen-operator/files/prometheus-rules.yaml"),
      read("deploy/monitoring/grafana-dashboard.json"),
    ].join("\n");
    const used = new Set(
      queries.match(
        /\b(?:controller_runtime|workqueue|rest_client|leader_election|bluegreen|process)_[a-z_]+/g,
      ),
    );
    used.delete("bluegreen_operator"); // the rule group names
    const missing = [...used].filter((n) => !exported.has(n));
    assert.deepEqual(missing, []);
    assert.ok(used.size >= 10, `${used.size} metrics used`);
  });

  it("the alert rules pass promtool check rules and fire only when they should", {}, () => {
    const rules = join(CHART, "files/prometheus-rules.yaml");
    execFileSync("promtool", ["check", "rules", rules], { stdio: "pipe" });
    const dir = mkdtempSync(join(tmpdir(), "bgo-alerts-"));
    const bgd = (phase: string, name: string) =>
      `bluegreen_rollout_phase{namespace="ns",name="${name}",phase="${phase}"}`;
    const lease = 'leader_election_master_status{name="bluegreen-operator.bluegreen.io"';
    const tests = {
      rule_files: [rules],
      evaluation_interval: "1m",
      tests: [
        {
          interval: "1m",
          input_series: [
            { series: bgd("Progressing", "stuck"), values: "1x40" },
            { series: bgd("AwaitingPromotion", "waiting"), values: "1x40" },
            { series: bgd("Aborted", "bad"), values: "1x40" },
            { series: bgd("Degraded", "invalid"), values: "1x40" },
            { series: `${lease},pod="a"}`, values: "1x10 0x30" },
            { series: `${lease},pod="b"}`, values: "0x10 0x30" },
            // Shards: each its own Lease; shard 1 loses its leader, shard 0 keeps one.
            { series: `${lease.replace('io"', 'io-shard-0"')},pod="c"}`, values: "1x40" },
            { series: `${lease.replace('io"', 'io-shard-1"')},pod="d"}`, values: "1x10 0x30" },
            {
              series: 'controller_runtime_reconcile_errors_total{controller="bluegreendeployment"}',
              values: "0+30x40",
            },
            {
              series: 'controller_runtime_reconcile_total{controller="bluegreendeployment"}',
              values: "0+60x40",
            },
          ],
          alert_rule_test: [
            { eval_time: "20m", alertname: "BlueGreenRolloutStuck", exp_alerts: [] },
            {
              eval_time: "35m",
              alertname: "BlueGreenRolloutStuck",
              exp_alerts: [{ exp_labels: { severity: "warning", namespace: "ns", name: "stuck" } }],
            },
            {
              eval_time: "1m",
              alertname: "BlueGreenRolloutAborted",
              exp_alerts: [{ exp_labels: { severity: "warning", namespace: "ns", name: "bad" } }],
            },
            {
              eval_time: "10m",
              alertname: "BlueGreenDeploymentDegraded",
              exp_alerts: [{ exp_labels: { severity: "warning", namespace: "ns", name: "invalid" } }],
            },
            { eval_time: "8m", alertname: "BlueGreenOperatorNoLeader", exp_alerts: [] },
            { eval_time: "14m", alertname: "BlueGreenOperatorNoLeader", exp_alerts: [] },
            {
              eval_time: "17m",
              alertname: "BlueGreenOperatorNoLeader",
              exp_alerts: [
                { exp_labels: { severity: "critical", name: "bluegreen-operator.bluegreen.io" } },
                { exp_labels: { severity: "critical", name: "bluegreen-operator.bluegreen.io-shard-1" } },
              ],
            },
            { eval_time: "10m", alertname: "BlueGreenOperatorReconcileErrors", exp_alerts: [] },
            {
              eval_time: "25m",
              alertname: "BlueGreenOperatorReconcileErrors",
              exp_alerts: [{ exp_labels: { severity: "warning" } }],
            },
          ],
        },
      ],
    };
    // Expected annotations: the rule's own templates, filled in (so the templating is tested too).
    const groups = (
      parse(readFileSync(rules, "utf8")) as {
        groups: { rules: { alert: string; annotations: Record<string, string> }[] }[];
      }
    ).groups;
    const annotations = (alert: string, labels: Record<string, string>) => {
      const rule = groups.flatMap((g) => g.rules).find((r) => r.alert === alert);
      return Object.fromEntries(
        Object.entries(rule?.annotations ?? {}).map(([k, v]) => [
          k,
          v.replace(/\{\{ \$labels\.(\w+) \}\}/g, (_, l: string) => labels[l] ?? ""),
        ]),
      );
    };
    for (const t of tests.tests[0]?.alert_rule_test ?? []) {
      for (const a of t.exp_alerts as { exp_labels: Record<string, string>; exp_annotations?: unknown }[]) {
        a.exp_annotations = annotations(t.alertname, a.exp_labels);
      }
    }
    const file = join(dir, "alerts.test.yaml");
    writeFileSync(file, JSON.stringify(tests));
    const res = spawnSync("promtool", ["test", "rules", file], { encoding: "utf8" });
    assert.equal(res.status, 0, res.stdout + res.stderr);
  });
});
