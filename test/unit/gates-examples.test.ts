/** examples/gates/ parse as the operator reads them: every BGD valid, every receivers ConfigMap readable. */
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { parseAllDocuments } from "yaml";
import { parseBlueGreenDeployment } from "../../src/api/defaults.ts";
import { CHECK_KINDS, checkKind, GATE_POINTS } from "../../src/api/gates.ts";
import { parseReceivers } from "../../src/bluegreen/notify/payload.ts";

const dir = join(import.meta.dirname, "../../examples/gates");
const docs = readdirSync(dir)
  .filter((f) => f.endsWith(".yaml"))
  .flatMap((f) => parseAllDocuments(readFileSync(join(dir, f), "utf8")).map((d) => [f, d.toJS()] as const));

describe("examples/gates", () => {
  for (const [file, doc] of docs) {
    const { kind, metadata } = doc as { kind: string; metadata: { name: string } };
    it(`${file}: ${kind} ${metadata.name} is valid`, () => {
      if (kind === "BlueGreenDeployment") {
        const r = parseBlueGreenDeployment(doc);
        assert.ok(r.ok, r.ok ? "" : r.message);
      } else if (kind === "ConfigMap") {
        const r = parseReceivers((doc as { data: Record<string, string> }).data);
        assert.ok(r.ok && r.receivers.length > 0, JSON.stringify(r));
      }
    });
  }
  it("show every check kind and a migration", () => {
    const kinds = new Set<string>();
    let migration = false;
    for (const [, doc] of docs) {
      const r = parseBlueGreenDeployment(doc);
      if (!r.ok || r.value.spec.gates === undefined) continue;
      for (const p of GATE_POINTS)
        for (const c of r.value.spec.gates[p] ?? []) {
          kinds.add(checkKind(c) ?? "");
          if (p === "preRollout" && c.job !== undefined) migration = true;
        }
    }
    assert.deepEqual([...kinds].sort(), [...CHECK_KINDS].sort());
    assert.ok(migration);
  });
});
