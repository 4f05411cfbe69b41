/** The plugin's shell completion and its formatting helpers. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { stripVTControlCharacters } from "node:util";
import { type CompletionSource, complete } from "../../src/cli/completion.ts";
import { columns, humanDuration, painter } from "../../src/cli/style.ts";

describe("completion", () => {
  const source: CompletionSource = {
    names: async (flags) => (flags["-n"] === "prod" ? ["shop", "cart"] : []),
    contexts: () => ["kind", "prod"],
  };
  it("completes commands, subcommands, BGD names in the namespace given, output formats and flags", async () => {
    assert.deepEqual(await complete(["pro"], source), ["promote\tApprove the revision now in preview"]);
    assert.deepEqual(await complete(["-n", "prod", "promote", "s"], source), ["shop"]);
    assert.deepEqual(await complete(["set", ""], source), ["image\tSet the image of a container"]);
    assert.deepEqual(await complete(["set", "image", "-n", "prod", ""], source), ["shop", "cart"]);
    assert.deepEqual(await complete(["get", "-o", "y"], source), ["yaml"]);
    assert.deepEqual(await complete(["--context", ""], source), ["kind", "prod"]);
    assert.ok((await complete(["status", "shop", "--t"], source)).includes("--timeout"));
    assert.deepEqual(await complete(["promote", "shop", ""], source), []);
  });
});

describe("formatting", () => {
  it("writes ages as kubectl does", () => {
    const cases: [number, string][] = [
      [0, "0s"],
      [59_000, "59s"],
      [119_000, "119s"],
      [130_000, "2m10s"],
      [600_000, "10m"],
      [3 * 3_600_000 + 60_000, "3h1m"],
      [30 * 3_600_000, "30h"],
      [3 * 86_400_000, "3d"],
      [400 * 86_400_000, "400d"],
    ];
    for (const [ms, want] of cases) assert.equal(humanDuration(ms), want, `${ms} ms`);
  });
  it("aligns columns ignoring color codes and leaves no trailing blanks", () => {
    const p = painter(true);
    assert.deepEqual(
      columns([
        ["A", p.paint("red", "xx"), "c"],
        ["long", "y", ""],
      ]).map((l) => stripVTControlCharacters(l)),
      ["A      xx   c", "long   y"],
    );
  });
});
