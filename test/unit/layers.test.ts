/**
 * The layers of src/ (docs/architecture.md, "Modules"): which directory may import which, and no
 * file over 400 lines. Read from the source itself, so a new import across a layer fails here.
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const SRC = join(REPO, "src");
const MAX_LINES = 400;

/** Which layers each layer may import (its own always). A layer not listed may not import these. */
const ALLOWED: Readonly<Record<string, readonly string[]>> = {
  api: [],
  kube: ["api"],
  bluegreen: ["api"],
  controller: ["api", "kube", "bluegreen"],
  runtime: ["api", "kube"],
  // The plugin and its dashboard are one program: `kubectl bluegreen dashboard` serves src/ui, and the
  // page's actions go through the plugin's own verdicts and requests (one module, not a copy).
  cli: ["api", "kube", "ui"],
  ui: ["api", "kube", "cli"],
};
/** What any other directory (the dashboard, say) may never import: the operator's insides. */
const NEVER_ELSEWHERE = ["controller", "bluegreen", "runtime"];
/**
 * The composition root: the operator's entry point starts the controller. Nothing else in the
 * runtime knows it exists.
 */
const EXCEPTIONS: ReadonlyArray<readonly [from: string, to: string]> = [
  ["runtime/main.ts", "controller/controller.ts"],
];
/** Pure layers: no client library, no I/O, no clock but the one passed in. */
const PURE = ["api", "bluegreen"];
const IMPURE_MODULES = [
  "@kubernetes/client-node",
  "node:fs",
  "node:http",
  "node:https",
  "node:net",
  "node:os",
];

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(p);
    return e.name.endsWith(".ts") ? [p] : [];
  });
}

function importsOf(text: string): string[] {
  const specs: string[] = [];
  for (const m of text.matchAll(/(?:^|\n)\s*(?:import|export)[^"'`;]*?from\s*["']([^"']+)["']/g)) {
    if (m[1] !== undefined) specs.push(m[1]);
  }
  for (const m of text.matchAll(/import\(\s*["']([^"']+)["']\s*\)/g))
    if (m[1] !== undefined) specs.push(m[1]);
  return specs;
}

const layerOf = (rel: string): string => rel.split("/")[0] ?? "";

/** The imports of the file at `fromRel` (relative to src/) that cross a layer they may not. */
function crossings(fromRel: string, specs: readonly string[]): string[] {
  const from = layerOf(fromRel);
  const out: string[] = [];
  for (const spec of specs) {
    if (PURE.includes(from) && IMPURE_MODULES.includes(spec)) out.push(`${fromRel} → ${spec}`);
    if (!spec.startsWith(".")) continue;
    const target = resolve(SRC, dirname(fromRel), spec);
    if (!target.startsWith(`${SRC}/`)) continue;
    const toRel = relative(SRC, target);
    const to = layerOf(toRel);
    if (to === from || EXCEPTIONS.some(([f, t]) => f === fromRel && t === toRel)) continue;
    const allowed = ALLOWED[from];
    if (allowed !== undefined ? !allowed.includes(to) : NEVER_ELSEWHERE.includes(to))
      out.push(`${fromRel} → ${toRel}`);
  }
  return out;
}

const files = sourceFiles(SRC);

describe("layers of src/", () => {
  it("finds the source files and their imports", () => {
    assert.ok(files.length > 30);
    assert.ok(files.some((f) => importsOf(readFileSync(f, "utf8")).length > 0));
  });

  it("no file imports across the layers", () => {
    const found = files.flatMap((f) => crossings(relative(SRC, f), importsOf(readFileSync(f, "utf8"))));
    assert.deepEqual(found, []);
  });

  it("would catch an import across the layers", () => {
    // The rule applied to made-up imports: it must refuse what it is meant to refuse.
    const text = 'import { x } from "../controller/observe.ts";\nexport { y } from "../bluegreen/plan.ts";\n';
    assert.deepEqual(
      crossings("cli/commands/dashboard.ts", importsOf(`import { z } from "../../controller/kube.ts";`)),
      ["cli/commands/dashboard.ts → controller/kube.ts"],
    );
    assert.deepEqual(crossings("ui/server.ts", importsOf(text)), [
      "ui/server.ts → controller/observe.ts",
      "ui/server.ts → bluegreen/plan.ts",
    ]);
    assert.deepEqual(crossings("bluegreen/plan.ts", ["@kubernetes/client-node", "../kube/kube.ts"]), [
      "bluegreen/plan.ts → @kubernetes/client-node",
      "bluegreen/plan.ts → kube/kube.ts",
    ]);
    assert.deepEqual(crossings("runtime/main.ts", ["../controller/controller.ts", "../kube/kube.ts"]), []);
    assert.deepEqual(crossings("runtime/metrics.ts", ["../controller/controller.ts"]), [
      "runtime/metrics.ts → controller/controller.ts",
    ]);
  });

  it(`no file has more than ${MAX_LINES} lines`, () => {
    const long = files
      .map((f) => [relative(SRC, f), readFileSync(f, "utf8").split("\n").length - 1] as const)
      .filter(([, n]) => n > MAX_LINES)
      .map(([f, n]) => `${f}: ${n} lines`);
    assert.deepEqual(long, []);
  });
});
