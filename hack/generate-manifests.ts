/**
 * Writes the CRD generated from src/api/schema.ts to deploy/crd/. With --check, writes nothing and exits 1
 * when the committed file differs from what the schema generates (run by `make lint`).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { CRD_PATH, renderCrdYaml } from "../src/api/crd.ts";

const repo = resolve(import.meta.dirname, "..");
const target = join(repo, CRD_PATH);
const generated = renderCrdYaml();

if (process.argv.includes("--check")) {
  const committed = existsSync(target) ? readFileSync(target, "utf8") : undefined;
  if (committed !== generated) {
    console.error(
      `${CRD_PATH} is ${committed === undefined ? "missing" : "stale"}: it no longer matches src/api/schema.ts. ` +
        "Run `make manifests` and commit the result.",
    );
    process.exit(1);
  }
  console.log(`${CRD_PATH} is up to date`);
} else {
  mkdirSync(dirname(target), { recursive: true });
  writeFileSync(target, generated);
  console.log(`wrote ${CRD_PATH}`);
}
