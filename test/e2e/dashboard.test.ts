/**
 * The web dashboard in real Chromium, against `kubectl bluegreen dashboard`, the real operator and the local
 * control plane: live updates without reloads, actions through the confirmation (their effect asserted in
 * the cluster), a promotion refused when the preview moved on, and an RBAC-limited user's refusal shown in
 * the page. The screenshots of the README come from this run (UPDATE_SCREENSHOTS=1).
 */
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { Page } from "playwright-core";
import { applyBgd, getStatus, serviceSelector, waitStatus } from "./bgd.ts";
import {
  type Browser,
  type DashboardProcess,
  launchBrowser,
  readOnlyKubeconfig,
  screenshotDir,
  startDashboard,
  waitText,
} from "./dashboard-support.ts";
import { deleteNamespace, env, kubectl, kubectlJson, newNamespace, waitUntil } from "./lib.ts";
import { type OperatorProcess, startOperator } from "./operator.ts";

const STRATEGY = { scaleDownDelaySeconds: 3 };
const UI_TIMEOUT = 60_000;

async function annotations(ns: string, name: string): Promise<Record<string, string>> {
  const o = await kubectlJson<{ metadata: { annotations?: Record<string, string> } }>([
    "get",
    "bgd",
    name,
    "-n",
    ns,
  ]);
  return o.metadata.annotations ?? {};
}

/** Focuses the action's button and presses Enter (the page is used by keyboard here), then confirms. */
async function actByKeyboard(page: Page, action: string): Promise<string> {
  await page.focus(`button[data-action="${action}"]`);
  await page.keyboard.press("Enter");
  const dialog = page.locator("dialog[open]");
  await dialog.waitFor({ timeout: UI_TIMEOUT });
  return (await dialog.locator("h3").textContent()) ?? "";
}

describe("kubectl bluegreen dashboard", () => {
  let ns = "";
  let operator: OperatorProcess | undefined;
  let dashboard: DashboardProcess | undefined;
  let limited: DashboardProcess | undefined;
  let browser: Browser | undefined;
  let page: Page;
  const shots = () => screenshotDir();
  const latencies: Record<string, number | number[]> = {};

  before(async () => {
    ns = await newNamespace("dashboard");
    operator = await startOperator({ namespaces: [ns], name: "dashboard" });
    dashboard = await startDashboard(["-n", ns]);
    browser = await launchBrowser();
    page = await browser.newPage(dashboard.url);
  });

  after(async () => {
    writeFileSync(
      join(env("BGO_CLUSTER_DIR"), "logs", "dashboard-latency.json"),
      `${JSON.stringify(latencies, null, 2)}\n`,
    );
    await browser?.close();
    await limited?.stop();
    await dashboard?.stop();
    await operator?.stop();
    if (ns !== "") await deleteNamespace(ns);
  });

  it("shows a new BlueGreenDeployment in the list without a reload", async (t) => {
    await waitText(page, "[data-testid=connection]", /^\W*Live$/);
    await page.locator("[data-testid=empty]").waitFor();
    // A reload would lose this.
    await page.evaluate(() => {
      (globalThis as { marker?: string }).marker = "set";
    });
    const applied = Date.now();
    await applyBgd(ns, "shop", { image: "shop:v1", strategy: STRATEGY });
    const applyReturned = Date.now();
    // waitText checks on every animation frame (a locator's waitFor backs off to 500 ms between checks).
    await waitText(page, `tr[data-bgd="${ns}/shop"]`, /shop/);
    latencies.newBgdFromApplyReturnedMs = Date.now() - applyReturned;
    t.diagnostic(
      `row shown ${Date.now() - applied} ms after kubectl apply started, ${latencies.newBgdFromApplyReturnedMs} ms after it returned`,
    );
    await waitStatus(ns, "shop", { phase: "Stable", activeColor: "blue" });
    const statusSeen = Date.now();
    await waitText(page, `tr[data-bgd="${ns}/shop"]`, /Stable/);
    latencies.stableFromKubectlSawItMs = Date.now() - statusSeen;
    assert.equal(await page.evaluate(() => (globalThis as { marker?: string }).marker), "set", "no reload");
  });

  it("shows a rollout's preview live, then promotes it through the confirmation", async (t) => {
    await page.focus(`tr[data-bgd="${ns}/shop"] a`);
    await page.keyboard.press("Enter");
    await page.locator("[data-testid=detail]").waitFor();
    await waitText(page, "[data-testid=revision-blue]", /^[0-9a-f]{10}$/);

    await applyBgd(ns, "shop", { image: "shop:v2", strategy: STRATEGY });
    const waiting = await waitStatus(ns, "shop", { phase: "AwaitingPromotion" });
    const seen = Date.now();
    const rev = waiting.previewRevision ?? "";
    await waitText(page, "button[data-action=promote]", new RegExp(`Promote ${rev}`));
    latencies.previewFromKubectlSawItMs = Date.now() - seen;
    t.diagnostic(
      `preview shown ${latencies.previewFromKubectlSawItMs} ms after kubectl saw AwaitingPromotion`,
    );
    assert.equal(await page.textContent("[data-testid=revision-green]"), rev);
    assert.match((await page.textContent('[data-color=green] [data-role="preview"]')) ?? "", /preview/);
    await page.screenshot({ path: join(shots(), "detail-awaiting-promotion.png"), fullPage: true });

    const title = await actByKeyboard(page, "promote");
    assert.equal(title, `Promote revision ${rev} of ${ns}/shop?`);
    await page.screenshot({ path: join(shots(), "confirm-promote.png") });
    await page.click("button[data-confirm=promote]");
    await waitText(page, "[data-testid=action-result]", new RegExp(`revision ${rev} .*approved`));

    // The cluster, not only the page: the active Service now selects green.
    await waitUntil("the active Service on green", UI_TIMEOUT, async () => {
      return (await serviceSelector(ns, "shop"))?.["bluegreen.io/color"] === "green";
    });
    const stable = await waitStatus(ns, "shop", { phase: "Stable", activeColor: "green" });
    assert.equal(stable.activeRevision, rev);
    await waitText(page, "[data-testid=selects-active]", /green/);
    // Wait for the old color's scale-down so the timeline shows the whole rollout.
    await waitText(page, "[data-testid=timeline] ol", /scaled down/);
    await page.screenshot({ path: join(shots(), "detail-promoted.png"), fullPage: true });
  });

  it("refuses a promotion offered for revision A once the preview moved on to B", async () => {
    await applyBgd(ns, "shop", { image: "shop:v3", strategy: STRATEGY });
    const a = (await waitStatus(ns, "shop", { phase: "AwaitingPromotion" })).previewRevision ?? "";
    await waitText(page, "button[data-action=promote]", new RegExp(`Promote ${a}`));
    const title = await actByKeyboard(page, "promote");
    assert.equal(title, `Promote revision ${a} of ${ns}/shop?`);

    // While the confirmation for A is open, B is pushed and reaches the preview.
    await applyBgd(ns, "shop", { image: "shop:v4", strategy: STRATEGY });
    const b = await waitUntil("revision B in preview", UI_TIMEOUT, async () => {
      const s = await getStatus(ns, "shop");
      return s.phase === "AwaitingPromotion" && s.previewRevision !== a ? s.previewRevision : undefined;
    });
    await page.locator("[data-testid=moved]").waitFor({ timeout: UI_TIMEOUT });
    await page.click("button[data-confirm=promote]");
    const refusal = await waitText(page, "[data-testid=action-result]", /no longer in preview/);
    assert.match(refusal, new RegExp(`revision ${a} is no longer in preview \\(revision ${b} is\\)`));
    assert.equal(await page.getAttribute("[data-testid=action-result]", "data-ok"), "false");

    const now = await getStatus(ns, "shop");
    assert.equal(now.phase, "AwaitingPromotion");
    assert.equal(now.activeColor, "green");
    assert.equal((await serviceSelector(ns, "shop"))?.["bluegreen.io/color"], "green");
    const approved = (await annotations(ns, "shop"))["bluegreen.io/promote"];
    assert.notEqual(approved, a);
    assert.notEqual(approved, b);
  });

  it("aborts the revision in preview; traffic stays", async () => {
    const b = (await getStatus(ns, "shop")).previewRevision ?? "";
    await waitText(page, "button[data-action=abort]", new RegExp(`Abort ${b}`));
    const title = await actByKeyboard(page, "abort");
    assert.equal(title, `Abort revision ${b} of ${ns}/shop?`);
    await page.click("button[data-confirm=abort]");
    await waitText(page, "[data-testid=action-result]", new RegExp(`aborted: revision ${b}`));
    assert.equal((await annotations(ns, "shop"))["bluegreen.io/abort"], b);
    await waitStatus(ns, "shop", { phase: "Aborted", activeColor: "green" });
    assert.equal((await serviceSelector(ns, "shop"))?.["bluegreen.io/color"], "green");
    await waitText(page, "h2", /Aborted/);
    await waitText(page, "button[data-action=retry]", /Retry/);
    assert.equal(await page.getAttribute("button[data-action=retry]", "aria-disabled"), "false");
    assert.equal(await page.getAttribute("button[data-action=promote]", "aria-disabled"), "true");
  });

  it("shows the API's refusal to a user without write permission", async () => {
    const kubeconfig = await readOnlyKubeconfig(ns, "viewer");
    limited = await startDashboard(["--kubeconfig", kubeconfig]);
    assert.ok(browser);
    const p = await browser.newPage(`${limited.url}#/${ns}/shop`);
    await waitText(p, "h2", /Aborted/);
    await waitText(p, "[data-testid=connection]", /^\W*Live$/);
    await actByKeyboard(p, "retry");
    await p.click("button[data-confirm=retry]");
    const refusal = await waitText(p, "[data-testid=action-result]", /Forbidden/);
    assert.match(
      refusal,
      new RegExp(
        `^Error from server \\(Forbidden\\): .*User "system:serviceaccount:${ns}:viewer" cannot patch resource "bluegreendeployments"`,
      ),
    );
    await p.screenshot({ path: join(shots(), "forbidden.png") });
    // Nothing changed: still aborted.
    assert.ok((await annotations(ns, "shop"))["bluegreen.io/abort"] !== undefined);
    assert.equal((await getStatus(ns, "shop")).phase, "Aborted");
    await p.close();
  });

  it("shows each change of the BGD in the list (and reports how long that takes)", async (t) => {
    await page.goto(`${dashboard?.url ?? ""}#/`);
    const desired = `tr[data-bgd="${ns}/shop"] [data-testid=desired]`;
    await waitText(page, desired, /^3$/);
    const times: number[] = [];
    for (const replicas of [4, 3, 4, 3, 4]) {
      await kubectl([
        "patch",
        "bgd",
        "shop",
        "-n",
        ns,
        "--type=merge",
        "-p",
        JSON.stringify({ spec: { replicas } }),
      ]);
      const written = Date.now();
      await waitText(page, desired, new RegExp(`^${replicas}$`));
      times.push(Date.now() - written);
    }
    times.sort((a, b) => a - b);
    latencies.specChangeToPageMs = times;
    t.diagnostic(`from kubectl patch returning to the page showing it: ${times.join(", ")} ms`);

    // A second BGD waiting for its promotion, for the README's picture of the list.
    await applyBgd(ns, "cart", { image: "cart:v1", strategy: STRATEGY });
    await waitStatus(ns, "cart", { phase: "Stable" });
    await applyBgd(ns, "cart", { image: "cart:v2", strategy: STRATEGY });
    await waitStatus(ns, "cart", { phase: "AwaitingPromotion" });
    await waitText(page, `tr[data-bgd="${ns}/cart"] [data-testid=preview-image]`, /cart:v2/);
    await page.screenshot({ path: join(shots(), "list.png") });
  });
});
