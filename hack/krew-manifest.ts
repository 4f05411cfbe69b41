/**
 * `make plugin`'s release half: packs dist/kubectl-bluegreen (already bundled) and the LICENSE into
 * dist/kubectl-bluegreen.tar.gz, then writes the complete krew manifest, dist/krew/bluegreen.yaml, from
 * krew/bluegreen.yaml: the version, the homepage and, for every platform, the archive's download address
 * (a GitHub release of PROJECT_URL, tag v<version>) and its sha256. The archive is reproducible (sorted
 * entries, fixed owner and times), so its checksum depends on the plugin's content only.
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { gzipSync } from "node:zlib";
import { parse, stringify } from "yaml";

const repo = resolve(import.meta.dirname, "..");
const projectUrl = process.env.PROJECT_URL;
if (projectUrl === undefined || projectUrl === "")
  throw new Error("PROJECT_URL is not set (see the Makefile)");
const { version } = JSON.parse(readFileSync(join(repo, "package.json"), "utf8")) as { version: string };

const stage = mkdtempSync(join(tmpdir(), "bgo-krew-"));
try {
  copyFileSync(join(repo, "dist/kubectl-bluegreen"), join(stage, "kubectl-bluegreen"));
  copyFileSync(join(repo, "LICENSE"), join(stage, "LICENSE"));
  execFileSync("chmod", ["0755", join(stage, "kubectl-bluegreen")]);
  execFileSync("chmod", ["0644", join(stage, "LICENSE")]);
  const tar = execFileSync(
    "tar",
    [
      "--sort=name",
      "--mtime=@0",
      "--owner=0",
      "--group=0",
      "--numeric-owner",
      "-C",
      stage,
      "-cf",
      "-",
      "kubectl-bluegreen",
      "LICENSE",
    ],
    { maxBuffer: 256 << 20 },
  );
  const archive = gzipSync(tar, { level: 9 });
  writeFileSync(join(repo, "dist/kubectl-bluegreen.tar.gz"), archive);
  const sha256 = createHash("sha256").update(archive).digest("hex");

  type Platform = Record<string, unknown>;
  const manifest = parse(readFileSync(join(repo, "krew/bluegreen.yaml"), "utf8")) as {
    spec: { version?: string; homepage?: string; platforms: Platform[] };
  };
  const uri = `${projectUrl}/releases/download/v${version}/kubectl-bluegreen.tar.gz`;
  manifest.spec = {
    version: `v${version}`,
    homepage: projectUrl,
    ...manifest.spec,
    platforms: manifest.spec.platforms.map((p) => ({ ...p, uri, sha256 })),
  };
  mkdirSync(join(repo, "dist/krew"), { recursive: true });
  writeFileSync(
    join(repo, "dist/krew/bluegreen.yaml"),
    `# Written by \`make plugin\` from krew/bluegreen.yaml for dist/kubectl-bluegreen.tar.gz.\n${stringify(manifest)}`,
  );
  console.log(`dist/kubectl-bluegreen.tar.gz (sha256 ${sha256}) and dist/krew/bluegreen.yaml`);
} finally {
  rmSync(stage, { recursive: true, force: true });
}
