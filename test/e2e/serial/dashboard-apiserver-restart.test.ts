/**
 * The dashboard across a kube-apiserver restart, in real Chromium: the page says it is disconnected while
 * the API server is away, then (without a reload) shows it live again and shows changes made after it.
 */
import assert from "node:assert/strict";
import { after, it } from "node:test";
import { restartApiserver } from "../../harness/cluster.ts";
import { applyBgd, waitStatus } from "../bgd.ts";
import {
  type Browser,
  type DashboardProcess,
  launchBrowser,
  startDashboard,
  waitText,
} from "../dashboard-support.ts";
import { deleteNamespace, env, newNamespace } from "../lib.ts";
import { type OperatorProcess, startOperator } from "../operator.ts";

/** The page's DOM as the recorder below uses it (this file is type-checked without DOM). */
declare const document: {
  querySelector(selector: string): { getAttribute(name: string): string | null } | null;
};
declare const window: { seenStates?: string[] };
declare const MutationObserver: new (
  cb: () => void,
) => { observe(target: unknown, opts: { subtree: boolean; attributes: boolean; childList: boolean }): void };

let operator: OperatorProcess | undefined;
let dashboard: DashboardProcess | undefined;
let browser: Browser | undefined;
let ns = "";
after(async () => {
  await browser?.close();
  await dashboard?.stop();
  await operator?.kill();
  if (ns !== "") await deleteNamespace(ns);
});

/** As in apiserver-restart-rollout: the rest of the control plane may take long to resume after it. */
const RECOVERY_MS = 150_000;

it("shows the dashboard disconnected during an API server restart, then live again", {
  timeout: 420_000,
}, async (t) => {
  ns = await newNamespace("dashrestart");
  operator = await startOperator({ namespaces: [ns], name: "dashrestart" });
  await applyBgd(ns, "app", { image: "app:v1" });
  await waitStatus(ns, "app", { phase: "Stable", activeColor: "blue" });
  dashboard = await startDashboard(["-n", ns]);
  browser = await launchBrowser();
  const page = await browser.newPage(dashboard.url);
  await waitText(page, `tr[data-bgd="${ns}/app"]`, /Stable/);
  await waitText(page, "[data-testid=connection]", /^\W*Live$/);
  // Record every connection state the page shows, however briefly.
  await page.evaluate(() => {
    window.seenStates = [];
    const record = () => {
      const s = document.querySelector("[data-testid=connection]")?.getAttribute("data-state");
      if (s != null && window.seenStates?.at(-1) !== s) window.seenStates?.push(s);
    };
    record();
    new MutationObserver(record).observe(document, { subtree: true, attributes: true, childList: true });
  });

  const restarted = Date.now();
  await restartApiserver(env("BGO_CLUSTER_DIR"));
  await waitText(page, "[data-testid=connection]", /^\W*Live$/, RECOVERY_MS);
  t.diagnostic(`page live again ${((Date.now() - restarted) / 1000).toFixed(1)} s after the restart began`);
  const seen = await page.evaluate(() => window.seenStates ?? []);
  assert.ok(seen.includes("bad"), `the page showed the disconnection (states seen: ${seen.join(", ")})`);

  // A change made after the restart reaches the page without a reload.
  await applyBgd(ns, "app", { image: "app:v2" });
  await waitText(page, `tr[data-bgd="${ns}/app"] [data-testid=preview-image]`, /app:v2/, RECOVERY_MS);
  await waitStatus(ns, "app", { phase: "AwaitingPromotion" }, RECOVERY_MS);
  assert.ok(await page.evaluate(() => window.seenStates !== undefined), "no reload (the recorder survived)");
  assert.equal(dashboard.child.exitCode, null, "the dashboard kept running through the restart");
});
