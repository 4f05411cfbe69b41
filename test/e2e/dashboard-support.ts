/**
 * For the dashboard's browser tests: `kubectl bluegreen dashboard` started through real kubectl (the plugin
 * found on PATH), real Chromium driven by playwright-core, and an RBAC-limited kubeconfig.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { type BrowserContext, chromium, type Page } from "playwright-core";
import { env, kubectl, kubectlJson } from "./lib.ts";

/** The page's DOM, as far as the functions run in the page use it (this file is type-checked without DOM). */
declare const document: { querySelector(selector: string): { textContent: string | null } | null };

const REPO = resolve(import.meta.dirname, "../..");
const NODE = join(REPO, "node_modules/.bin/node");

/** The flags every browser test launches Chromium with (no network of its own, no first-run work). */
export const CHROMIUM_FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

export interface Browser {
  readonly context: BrowserContext;
  newPage(url: string): Promise<Page>;
  close(): Promise<void>;
}

/** Chromium with a fresh profile (its own --user-data-dir), removed on close. */
export async function launchBrowser(): Promise<Browser> {
  const profile = mkdtempSync(join(tmpdir(), "bgo-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: "/usr/bin/chromium",
    headless: true,
    args: CHROMIUM_FLAGS,
    viewport: { width: 1366, height: 900 },
    // Timestamps in the screenshots and the page agree with the test's clock.
    timezoneId: "UTC",
  });
  return {
    context,
    async newPage(url) {
      const page = await context.newPage();
      await page.goto(url);
      return page;
    },
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

export interface DashboardProcess {
  readonly url: string;
  readonly child: ChildProcess;
  stop(): Promise<void>;
}

/** A directory holding `kubectl-bluegreen` (the plugin from source), to put first on PATH. */
function pluginBin(): string {
  const dir = mkdtempSync(join(tmpdir(), "bgo-dashboard-bin-"));
  writeFileSync(
    join(dir, "kubectl-bluegreen"),
    `#!/usr/bin/env bash\nexec "${NODE}" "${join(REPO, "src/cli/main.ts")}" "$@"\n`,
  );
  chmodSync(join(dir, "kubectl-bluegreen"), 0o755);
  return dir;
}

/** `kubectl bluegreen dashboard --port 0 ARGS`; resolves with the URL it prints. */
export async function startDashboard(args: readonly string[]): Promise<DashboardProcess> {
  const bin = pluginBin();
  const child = spawn("kubectl", ["bluegreen", "dashboard", "--port", "0", ...args], {
    env: { ...process.env, PATH: `${bin}:${process.env.PATH ?? ""}` },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  const url = await new Promise<string>((res, rej) => {
    // 90 s: on a loaded 2-core machine the plugin's start (type stripping, client load) can take tens of
    // seconds. On a timeout the child is killed, or the file would wait on it until the run's own timeout.
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      rej(new Error(`the dashboard printed no URL within 90 s: ${output}`));
    }, 90_000);
    const on = (chunk: Buffer) => {
      output += String(chunk);
      const m = /at (http:\/\/127\.0\.0\.1:\d+\/)/.exec(output);
      if (m?.[1] !== undefined) {
        clearTimeout(timer);
        res(m[1]);
      }
    };
    child.stdout?.on("data", on);
    child.stderr?.on("data", on);
    child.once("exit", (code) => {
      clearTimeout(timer);
      rej(new Error(`the dashboard exited (${code}): ${output}`));
    });
  });
  const exited = new Promise<void>((res) => child.once("exit", () => res()));
  return {
    url,
    child,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      await exited;
      rmSync(bin, { recursive: true, force: true });
    },
  };
}

/**
 * A kubeconfig for a new ServiceAccount in `ns` that may read everything the dashboard shows but write
 * nothing: what a person with view rights has.
 */
export async function readOnlyKubeconfig(ns: string, name: string): Promise<string> {
  await kubectl(["create", "serviceaccount", name, "-n", ns]);
  await kubectl(
    ["apply", "-n", ns, "-f", "-"],
    JSON.stringify({
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "Role",
      metadata: { name },
      rules: [
        { apiGroups: ["bluegreen.io"], resources: ["bluegreendeployments"], verbs: ["get", "list", "watch"] },
        { apiGroups: ["apps"], resources: ["deployments"], verbs: ["get", "list", "watch"] },
        { apiGroups: [""], resources: ["pods", "services", "events"], verbs: ["get", "list", "watch"] },
        { apiGroups: ["discovery.k8s.io"], resources: ["endpointslices"], verbs: ["get", "list", "watch"] },
      ],
    }),
  );
  await kubectl([
    "create",
    "rolebinding",
    name,
    "-n",
    ns,
    `--role=${name}`,
    `--serviceaccount=${ns}:${name}`,
  ]);
  const token = (await kubectl(["create", "token", name, "-n", ns])).trim();
  const admin = await kubectlJson<{
    clusters: { cluster: { server: string; "certificate-authority-data": string } }[];
  }>(["config", "view", "--raw", "--minify"]);
  const cluster = admin.clusters[0]?.cluster;
  if (cluster === undefined) throw new Error("no cluster in the admin kubeconfig");
  const file = join(env("BGO_CLUSTER_DIR"), `kubeconfig-${ns}-${name}`);
  writeFileSync(
    file,
    JSON.stringify({
      apiVersion: "v1",
      kind: "Config",
      clusters: [{ name: "c", cluster }],
      users: [{ name, user: { token } }],
      contexts: [{ name, context: { cluster: "c", user: name, namespace: ns } }],
      "current-context": name,
    }),
  );
  return file;
}

/**
 * Where the run's screenshots go: docs/dashboard/ with UPDATE_SCREENSHOTS=1 (to refresh the README's
 * pictures), else the cluster's log directory, so an ordinary run leaves the work tree alone.
 */
export function screenshotDir(): string {
  const dir =
    process.env.UPDATE_SCREENSHOTS === "1"
      ? join(REPO, "docs/dashboard")
      : join(env("BGO_CLUSTER_DIR"), "logs", "screenshots");
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** Waits until the element's text matches; returns it. */
export async function waitText(
  page: Page,
  selector: string,
  pattern: RegExp,
  timeout = 60_000,
): Promise<string> {
  const handle = await page.waitForFunction(
    ([sel, source, flags]) => {
      const text = document.querySelector(sel)?.textContent ?? "";
      return new RegExp(source, flags).test(text) ? text : false;
    },
    [selector, pattern.source, pattern.flags] as const,
    { timeout },
  );
  return String(await handle.jsonValue());
}
