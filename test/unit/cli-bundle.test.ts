/** The one-file plugin (`make plugin`): bundled with esbuild, it runs on its own, outside the project. */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { it } from "node:test";
import { parse } from "yaml";

const repo = resolve(import.meta.dirname, "../..");

it("bundles into one file that runs from a directory with nothing else in it", () => {
  const dir = mkdtempSync(join(tmpdir(), "bgo-plugin-"));
  try {
    execFileSync("make", ["-s", "plugin"], { cwd: repo, stdio: "pipe" });
    const file = join(dir, "kubectl-bluegreen");
    copyFileSync(join(repo, "dist/kubectl-bluegreen"), file);
    const help = execFileSync(process.execPath, [file, "--help"], { cwd: dir, encoding: "utf8" });
    assert.match(help, /promote/);
    assert.match(help, /rollback/);
    const version = execFileSync(process.execPath, [file, "version", "--kubeconfig", join(dir, "none")], {
      cwd: dir,
      encoding: "utf8",
    });
    assert.match(version, /Plugin Version: \d+\.\d+\.\d+/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

it("packs the krew archive and writes a complete krew manifest with its sha256", () => {
  execFileSync("make", ["-s", "plugin"], { cwd: repo, stdio: "pipe" });
  const archive = readFileSync(join(repo, "dist/kubectl-bluegreen.tar.gz"));
  const listing = execFileSync("tar", ["-tzf", "-"], { input: archive, encoding: "utf8" });
  assert.deepEqual(listing.trim().split("\n").sort(), ["LICENSE", "kubectl-bluegreen"]);
  const text = readFileSync(join(repo, "dist/krew/bluegreen.yaml"), "utf8");
  assert.doesNotMatch(text, /OWNER|\{\{/, "no placeholder left");
  const { version } = JSON.parse(readFileSync(join(repo, "package.json"), "utf8")) as { version: string };
  const manifest = parse(text) as {
    metadata: { name: string };
    spec: {
      version: string;
      homepage: string;
      shortDescription: string;
      platforms: { uri: string; sha256: string; bin: string; selector: unknown }[];
    };
  };
  assert.equal(manifest.metadata.name, "bluegreen");
  assert.equal(manifest.spec.version, `v${version}`);
  assert.match(manifest.spec.homepage, /^https:\/\//);
  const sha256 = createHash("sha256").update(archive).digest("hex");
  assert.equal(manifest.spec.platforms.length, 4);
  for (const p of manifest.spec.platforms) {
    assert.equal(p.sha256, sha256);
    assert.equal(p.uri, `${manifest.spec.homepage}/releases/download/v${version}/kubectl-bluegreen.tar.gz`);
    assert.equal(p.bin, "kubectl-bluegreen");
  }
});
