/**
 * Builds the dashboard's page (src/ui/client) and, with --plugin, the one-file kubectl plugin with the page
 * embedded in it:
 *   node hack/build-ui.ts            → dist/ui/app.js, dist/ui/app.css (beside dist/src/, for `make build`)
 *   node hack/build-ui.ts --plugin   → dist/kubectl-bluegreen (for `make plugin`)
 * Prints the page weight (bytes, and gzipped as a browser would fetch it over a compressing proxy).
 */
import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { gzipSync } from "node:zlib";
import * as esbuild from "esbuild";
import { buildClient } from "../src/ui/build.ts";

const repo = resolve(import.meta.dirname, "..");
const dist = join(repo, "dist");
const page = await buildClient();
const kb = (s: string) =>
  `${(Buffer.byteLength(s) / 1024).toFixed(1)} KiB (${(gzipSync(s).length / 1024).toFixed(1)} KiB gzipped)`;

if (process.argv.includes("--plugin")) {
  await esbuild.build({
    entryPoints: [join(repo, "src/cli/main.ts")],
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node24",
    logLevel: "warning",
    outfile: join(dist, "kubectl-bluegreen"),
    // Only used to build the page when it is not embedded; the embedded page is.
    external: ["esbuild"],
    define: { __BGO_UI_JS__: JSON.stringify(page.js), __BGO_UI_CSS__: JSON.stringify(page.css) },
    banner: {
      js: 'import { createRequire as __bgoCreateRequire } from "node:module"; const require = __bgoCreateRequire(import.meta.url);',
    },
  });
  chmodSync(join(dist, "kubectl-bluegreen"), 0o755);
  console.log(
    `dist/kubectl-bluegreen: the dashboard page embedded: app.js ${kb(page.js)}, app.css ${kb(page.css)}`,
  );
} else {
  mkdirSync(join(dist, "ui"), { recursive: true });
  writeFileSync(join(dist, "ui/app.js"), page.js);
  writeFileSync(join(dist, "ui/app.css"), page.css);
  console.log(`dist/ui: app.js ${kb(page.js)}, app.css ${kb(page.css)}`);
}
