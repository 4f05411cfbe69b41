/**
 * The page's files. Three sources, first found wins: the text the one-file plugin embeds (`make plugin`
 * defines __BGO_UI_JS__/__BGO_UI_CSS__), the files `make build` writes beside the compiled plugin
 * (dist/ui/), or a bundle made now with esbuild (running from source, as the tests do).
 */
import { readFile } from "node:fs/promises";

export interface UiAssets {
  readonly html: string;
  readonly js: string;
  readonly css: string;
}

declare const __BGO_UI_JS__: string | undefined;
declare const __BGO_UI_CSS__: string | undefined;

const HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>bluegreen dashboard</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/app.css">
</head>
<body>
<div id="app"><p class="loading">Loading…</p></div>
<noscript>The dashboard needs JavaScript.</noscript>
<script src="/app.js"></script>
</body>
</html>
`;

export async function loadUiAssets(): Promise<UiAssets> {
  if (typeof __BGO_UI_JS__ === "string" && typeof __BGO_UI_CSS__ === "string")
    return { html: HTML, js: __BGO_UI_JS__, css: __BGO_UI_CSS__ };
  try {
    const dir = new URL("../../ui/", import.meta.url);
    const [js, css] = await Promise.all([
      readFile(new URL("app.js", dir), "utf8"),
      readFile(new URL("app.css", dir), "utf8"),
    ]);
    return { html: HTML, js, css };
  } catch {
    const { buildClient } = await import("./build.ts");
    return { html: HTML, ...(await buildClient()) };
  }
}
