/** The one-file plugin (`make plugin`): bundled with esbuild, it runs on its own, outside the project. */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { copyFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { it } from "node:test";

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
