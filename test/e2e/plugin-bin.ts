/**
 * The kubectl plugin as the e2e tests run it: `kubectl-bluegreen` from source in a directory put first
 * on PATH, called through the real kubectl (which finds plugins on PATH), as a user would.
 */
import { execFile } from "node:child_process";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { after, before } from "node:test";

const REPO = resolve(import.meta.dirname, "../..");
const NODE = join(REPO, "node_modules/.bin/node");

export interface PluginRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** A fresh directory with `kubectl-bluegreen` (and kubectl's completion helper for it); remove it after. */
export function pluginBin(): string {
  const dir = mkdtempSync(join(tmpdir(), "bgo-plugin-"));
  const write = (name: string, body: string) => {
    writeFileSync(join(dir, name), body);
    chmodSync(join(dir, name), 0o755);
  };
  write("kubectl-bluegreen", `#!/usr/bin/env bash\nexec "${NODE}" "${join(REPO, "src/cli/main.ts")}" "$@"\n`);
  write("kubectl_complete-bluegreen", `#!/usr/bin/env sh\nexec kubectl-bluegreen __complete "$@"\n`);
  return dir;
}

/** `kubectl bluegreen ARGS` through the real kubectl, never throwing: the exit code is part of the answer. */
export function plugin(
  bin: string,
  args: readonly string[],
  env: Record<string, string> = {},
): Promise<PluginRun> {
  return new Promise((res) => {
    execFile(
      "kubectl",
      ["bluegreen", ...args],
      { env: { ...process.env, PATH: `${bin}:${process.env.PATH ?? ""}`, ...env }, maxBuffer: 16 << 20 },
      (err, stdout, stderr) => {
        const code = err === null ? 0 : typeof err.code === "number" ? err.code : 1;
        res({ code, stdout, stderr });
      },
    );
  });
}

/**
 * For a test file: a plugin directory made before its tests and removed after them; returns
 * `kubectl bluegreen ARGS` run with it.
 */
export function pluginForFile(): (args: readonly string[]) => Promise<PluginRun> {
  let bin = "";
  before(() => {
    bin = pluginBin();
  });
  after(() => rmSync(bin, { recursive: true, force: true }));
  return (args) => plugin(bin, args);
}
