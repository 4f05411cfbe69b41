/**
 * Bundles the operator (src/runtime/main.ts, everything it imports, its dependencies included) into one
 * ES module at <dist>/src/runtime/main.js, over tsc's output of that file: the image's entrypoint stays
 * `node dist/src/runtime/main.js`. Why: importing @kubernetes/client-node's package root loads and compiles
 * its whole generated API (every model and API class) although the operator uses only its kubeconfig
 * loading and fetch stack; bundled, what is never reached is left out. Measured idle (no cluster reachable,
 * shipped NODE_OPTIONS): 114 MiB resident with tsc's files, 91 MiB bundled (docs/performance.md).
 *   node hack/bundle-operator.ts [DIST_DIR]   (default dist; `make build`, the Dockerfile, hack/build-image.sh)
 */
import { isBuiltin } from "node:module";
import { join, resolve } from "node:path";
import * as esbuild from "esbuild";

const repo = resolve(import.meta.dirname, "..");
const dist = resolve(process.argv[2] ?? join(repo, "dist"));
await esbuild.build({
  entryPoints: [join(repo, "src/runtime/main.ts")],
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node24",
  logLevel: "warning",
  outfile: join(dist, "src/runtime/main.js"),
  allowOverwrite: true,
  // Stack traces map back to src/ and node_modules/ with --enable-source-maps.
  sourcemap: "linked",
  // Whitespace and syntax minified (the source V8 keeps in memory is ~40 % smaller: ~4 MiB less resident),
  // identifiers not: log lines and stack traces keep their names; the source map gives file:line.
  minifyWhitespace: true,
  minifySyntax: true,
  // undici's package root runs all of undici at startup (fetch, WebSocket, caches, mocks): the
  // operator takes only its Agent and request() (hack/undici-slim.cjs says what and why).
  plugins: [
    {
      name: "undici-slim",
      setup(build) {
        build.onResolve({ filter: /^undici$/ }, () => ({ path: join(repo, "hack/undici-slim.cjs") }));
      },
    },
    {
      // `import ... from "node:http"` in an ES module makes Node build the module's whole export list,
      // calling every lazy getter on it: node:http's WebSocket loads Node's own copy of undici (~750 KB of
      // source, compiled and run), node:tls's rootCertificates parses every CA certificate, node:crypto's
      // webcrypto loads Web Crypto. A CommonJS require() returns the module object and calls none of them.
      name: "builtins-by-require",
      setup(build) {
        build.onResolve({ filter: /^[a-z:_/]+$/ }, (a) =>
          a.kind === "import-statement" && isBuiltin(a.path)
            ? { path: a.path, namespace: "builtin" }
            : undefined,
        );
        build.onLoad({ filter: /.*/, namespace: "builtin" }, (a) => ({
          contents: `module.exports = require(${JSON.stringify(a.path)});`,
          loader: "js",
        }));
      },
    },
  ],
  // License comments go to main.js.LEGAL.txt, linked from the bundle: one of them is not ASCII, and
  // one non-ASCII character makes V8 hold the whole 2.7 MB source as two bytes per character.
  legalComments: "linked",
  banner: {
    js: 'import { createRequire as __bgoCreateRequire } from "node:module"; const require = __bgoCreateRequire(import.meta.url);',
  },
});
console.log(`${join(dist, "src/runtime/main.js")}: the operator in one file`);
