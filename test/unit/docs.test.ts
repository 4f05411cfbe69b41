/** What the docs promise about generated artifacts stays true: the RBAC table in docs/operations.md. */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { it } from "node:test";
import { leaderElectionRules, OPERATOR_RULES, type PolicyRule } from "../../src/runtime/rbac.ts";

const repo = resolve(import.meta.dirname, "../..");

/** "group resource" → verbs, merging rules that differ only in resourceNames. */
function byResource(rules: readonly PolicyRule[]): Map<string, string[]> {
  const out = new Map<string, Set<string>>();
  for (const r of rules)
    for (const g of r.apiGroups)
      for (const res of r.resources) {
        const key = `${g === "" ? "core" : g} ${res}`;
        const verbs = out.get(key) ?? new Set<string>();
        for (const v of r.verbs) verbs.add(v);
        out.set(key, verbs);
      }
  return new Map([...out].map(([k, v]) => [k, [...v].sort()]));
}

it("the RBAC table in docs/operations.md lists exactly the rules of src/runtime/rbac.ts", () => {
  const doc = readFileSync(join(repo, "docs/operations.md"), "utf8");
  const section = doc.slice(doc.indexOf("## RBAC"), doc.indexOf("\n## ", doc.indexOf("## RBAC") + 1));
  const rows = section
    .split("\n")
    .filter((l) => l.startsWith("| ") && !l.startsWith("| API group") && !l.startsWith("|---"))
    .map((l) => l.split("|").map((c) => c.trim().replaceAll("`", "")));
  assert.ok(rows.length > 0, "the table is there");
  const documented = new Map(
    rows.map((c) => [
      `${c[1]} ${c[2]}`,
      (c[3] ?? "")
        .split(",")
        .map((v) => v.trim())
        .sort(),
    ]),
  );
  const generated = byResource([...OPERATOR_RULES, ...leaderElectionRules("lease")]);
  assert.deepEqual(Object.fromEntries(documented), Object.fromEntries(generated));
});
