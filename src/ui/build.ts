/**
 * Bundles the page (src/ui/client: Preact + our components + one stylesheet) with esbuild into one script
 * and one stylesheet, minified. Nothing is loaded from anywhere else at run time.
 */
import { fileURLToPath } from "node:url";

export interface ClientBundle {
  readonly js: string;
  readonly css: string;
}

export async function buildClient(): Promise<ClientBundle> {
  // A devDependency: imported only when no prebuilt bundle is at hand.
  const esbuild = await import("esbuild");
  const result = await esbuild.build({
    entryPoints: [fileURLToPath(new URL("client/main.tsx", import.meta.url))],
    bundle: true,
    minify: true,
    format: "iife",
    target: ["chrome110", "firefox110", "safari16"],
    jsx: "automatic",
    jsxImportSource: "preact",
    legalComments: "none",
    write: false,
    outdir: "/bundle",
    logLevel: "silent",
  });
  const text = (ext: string) => result.outputFiles.find((f) => f.path.endsWith(ext))?.text ?? "";
  return { js: text(".js"), css: text(".css") };
}
