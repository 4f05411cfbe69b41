/**
 * The plugin on a cluster without the BlueGreenDeployment CRD: one clear line, exit 1. Serial because it
 * removes the CRD from the shared control plane (and with it every BGD), then installs it again.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { after, before, describe, it } from "node:test";
import { kubectl } from "../lib.ts";

const REPO = resolve(import.meta.dirname, "../../..");
const CRD = "customresourcedefinition/bluegreendeployments.bluegreen.io";

/** A directory holding `kubectl-bluegreen`, to put first on PATH (as in plugin.test.ts). */
function pluginBin(): string {
  const dir = mkdtempSync(join(tmpdir(), "bgo-plugin-"));
  const node = join(REPO, "node_modules/.bin/node");
  writeFileSync(
    join(dir, "kubectl-bluegreen"),
    `#!/usr/bin/env bash\nexec "${node}" "${join(REPO, "src/cli/main.ts")}" "$@"\n`,
  );
  chmodSync(join(dir, "kubectl-bluegreen"), 0o755);
  return dir;
}

function plugin(
  bin: string,
  args: readonly string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((res) => {
    const env = { ...process.env, PATH: `${bin}:${process.env.PATH ?? ""}` };
    execFile("kubectl", ["bluegreen", ...args], { env }, (err, stdout, stderr) =>
      res({ code: err === null ? 0 : typeof err.code === "number" ? err.code : 1, stdout, stderr }),
    );
  });
}

describe("kubectl bluegreen without the CRD", () => {
  let bin = "";
  before(async () => {
    bin = pluginBin();
    // No operator runs now, so nothing would hand back a Service a BGD adopted: a BGD another test
    // failed to clean up would keep its finalizer and hold the CRD's deletion for ever.
    const left = await kubectl([
      "get",
      "bgd",
      "-A",
      "-o",
      'jsonpath={range .items[*]}{.metadata.namespace}/{.metadata.name}{"\\n"}{end}',
    ]);
    for (const ref of left.split("\n").filter((l) => l !== "")) {
      const [namespace = "", name = ""] = ref.split("/");
      const release = () =>
        kubectl([
          "patch",
          "bgd",
          name,
          "-n",
          namespace,
          "--type=merge",
          "-p",
          '{"metadata":{"finalizers":null}}',
        ]);
      await release().catch(async (err: unknown) => {
        if (!String((err as Error).message).includes("NotFound")) throw err;
        // Gone meanwhile (its namespace was being deleted): nothing left to hold the CRD. Unless its
        // namespace is gone and it is not: seen after kube-controller-manager restarted beside a
        // restarted API server (its namespace controller finished a deletion without listing BGDs),
        // such an object can be read but not written. Its namespace is made again for the write.
        const namespaces = await kubectl(["get", "namespaces", "-o", "name"]);
        if (namespaces.split("\n").includes(`namespace/${namespace}`)) return;
        const still = await kubectl([
          "get",
          "bgd",
          name,
          "-n",
          namespace,
          "-o",
          "name",
          "--ignore-not-found",
        ]);
        if (still.trim() === "") return;
        await kubectl(["create", "namespace", namespace]);
        await release();
        await kubectl(["delete", "namespace", namespace, "--wait=false"]);
      });
    }
    await kubectl(["delete", CRD, "--wait=true", "--timeout=60s"]);
  });
  after(async () => {
    // A deletion still in progress (an instance holding it) would leave the CRD terminating under
    // the re-apply, and the next file could create no BGD.
    await kubectl(["wait", "--for=delete", CRD, "--timeout=120s"]);
    await kubectl(["apply", "--server-side", "-f", resolve(REPO, "deploy/crd/")]);
    await kubectl(["wait", "--for=condition=Established", "--timeout=60s", CRD]);
    rmSync(bin, { recursive: true, force: true });
  });

  for (const args of [["get", "web"], ["list"], ["promote", "web"], ["status", "web", "--timeout", "5s"]]) {
    it(`says the CRD is missing for: ${args.join(" ")}`, async () => {
      const r = await plugin(bin, [...args, "-n", "default"]);
      assert.equal(r.code, 1, `${r.stdout}${r.stderr}`);
      const lines = r.stderr.trimEnd().split("\n");
      assert.equal(lines.length, 1, r.stderr);
      assert.match(
        lines[0] ?? "",
        /^error: the server at \S+ doesn't have a resource type "bluegreendeployments.bluegreen.io": the BlueGreenDeployment CRD is not installed/,
      );
    });
  }
});
