/**
 * The dashboard's traffic chart in real Chromium: a steady load on a BGD's active Service (from inside the
 * cluster's network, through kube-proxy to the pods podsim answers as), a real Prometheus scraping the
 * pods' counters (test/harness/prometheus.ts), and a real switch. The page shows requests/s and
 * errors/s of each revision with the switch marked; with Prometheus unreachable it says so and the rest
 * of the page goes on.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { Page } from "playwright-core";
import { type Prometheus, podsimScrapeConfig, startPrometheus } from "../harness/prometheus.ts";
import type { Traffic } from "../harness/traffic.ts";
import { closedPort } from "../unit/support/servers.ts";
import { applyBgd, getStatus, waitStatus } from "./bgd.ts";
import {
  type Browser,
  type DashboardProcess,
  launchBrowser,
  screenshotDir,
  startDashboard,
  waitText,
} from "./dashboard-support.ts";
import { deleteNamespace, env, kubectl, newNamespace, waitUntil } from "./lib.ts";
import { type OperatorProcess, startOperator } from "./operator.ts";
import { fmtReport, loadOn, waitServedBy } from "./traffic-lib.ts";

const UI_TIMEOUT = 90_000;
// Blue stays warm long enough for the chart to show both revisions side by side after the switch.
const STRATEGY = { scaleDownDelaySeconds: 30 };

/** A number attribute of the first element matching `selector`, or undefined when there is none. */
async function numberAttr(page: Page, selector: string, name: string): Promise<number | undefined> {
  const el = page.locator(selector).first();
  if ((await el.count()) === 0) return undefined;
  const v = await el.getAttribute(name);
  return v === null ? undefined : Number(v);
}

describe("the dashboard's traffic chart", () => {
  let ns = "";
  let operator: OperatorProcess | undefined;
  let prometheus: Prometheus | undefined;
  let dashboard: DashboardProcess | undefined;
  let unreachable: DashboardProcess | undefined;
  let browser: Browser | undefined;
  let load: Traffic | undefined;
  let rev1 = "";
  let rev2 = "";

  before(async () => {
    ns = await newNamespace("dash-traffic");
    operator = await startOperator({ namespaces: [ns], name: "dash-traffic" });
    prometheus = await startPrometheus(
      { scrapeConfigs: podsimScrapeConfig() },
      { cluster: { dir: env("BGO_CLUSTER_DIR"), keepAs: "dash-traffic-prometheus" } },
    );
    dashboard = await startDashboard(["-n", ns, "--prometheus", prometheus.url]);
    browser = await launchBrowser();
  });

  after(async () => {
    await load?.stop();
    await browser?.close();
    await unreachable?.stop();
    await dashboard?.stop();
    await prometheus?.stop();
    await operator?.stop();
    if (ns !== "") await deleteNamespace(ns);
  });

  /**
   * The readout names the revision with a rate above zero. Rates are shown with one decimal, and the first
   * instant's rate window may hold only the start of the load: "0.7 requests/s" is serving too.
   */
  const nonZero = (rev: string, color: string) =>
    new RegExp(`${rev} \\(${color}\\): (?!0\\.0 )\\d+\\.\\d requests/s`);

  it("draws requests/s and errors/s of both revisions across a real switch, the switch marked", async (t) => {
    assert.ok(browser && dashboard);
    await applyBgd(ns, "shop", { image: "shop:v1", strategy: STRATEGY });
    rev1 = (await waitStatus(ns, "shop", { phase: "Stable", activeColor: "blue" })).activeRevision ?? "";
    load = await loadOn(ns, "shop", { rps: 20, seconds: 240 });
    await waitServedBy(load, rev1, 20);

    // v2 answers a fifth of its requests with 500 (podsim's error-rate label): its errors line is not flat.
    await applyBgd(ns, "shop", {
      image: "shop:v2",
      strategy: STRATEGY,
      labels: { "test.bluegreen.io/error-rate": "0.2" },
    });
    rev2 = (await waitStatus(ns, "shop", { phase: "AwaitingPromotion" })).previewRevision ?? "";
    const page = await browser.newPage(`${dashboard.url}#/${ns}/shop`);
    // Before the switch: v1's requests are on the chart. "attached", not "visible": a steady rate draws
    // a horizontal line, whose box has no height, and Playwright calls a box without height hidden.
    await page
      .locator(`path[data-series=requests][data-revision="${rev1}"][d]`)
      .waitFor({ state: "attached", timeout: UI_TIMEOUT });

    await kubectl(["annotate", "-n", ns, "bgd", "shop", `bluegreen.io/promote=${rev2}`]);
    const stable = await waitStatus(ns, "shop", { phase: "Stable", activeColor: "green" });
    assert.equal(stable.activeRevision, rev2);
    // v2 answers 20 % with 500 on purpose: traffic is on v2 once its last 20 answers all came from v2,
    // whatever their status (20 answers in a row without an error come too rarely to wait for).
    await waitUntil("the last 20 requests answered by v2", 60_000, async () => {
      const last = load?.records().slice(-20) ?? [];
      return last.length === 20 && last.every((r) => r.revision === rev2);
    });
    const switchedAt = await waitUntil("the switch in the history", 30_000, async () => {
      const s = (await getStatus(ns, "shop")) as { history?: { revision: string; promotedAt?: string }[] };
      return s.history?.find((h) => h.revision === rev2)?.promotedAt;
    });

    // The switch is marked where the history puts it, and v2's requests go on past it.
    const marker = `[data-testid=switch-marker][data-revision="${rev2}"]`;
    await page.locator(marker).waitFor({ timeout: UI_TIMEOUT });
    assert.equal(await numberAttr(page, marker, "data-time"), Date.parse(switchedAt));
    const req2 = `path[data-series=requests][data-revision="${rev2}"]`;
    await waitUntil("v2's requests after the switch on the chart", UI_TIMEOUT, async () => {
      const last = await numberAttr(page, req2, "data-last");
      return last !== undefined && last > Date.parse(switchedAt);
    });
    const req1 = `path[data-series=requests][data-revision="${rev1}"]`;
    assert.ok(
      ((await numberAttr(page, req1, "data-first")) ?? Number.POSITIVE_INFINITY) < Date.parse(switchedAt),
    );
    assert.ok(((await numberAttr(page, req1, "data-max")) ?? 0) > 0, "v1 answered requests");
    assert.ok(((await numberAttr(page, req2, "data-max")) ?? 0) > 0, "v2 answered requests");
    // Errors per revision: v2's injected 500s, none for v1 (drawn as a zero line, not left out).
    await waitUntil("v2's errors on the chart", UI_TIMEOUT, async () => {
      const max = await numberAttr(page, `path[data-series=errors][data-revision="${rev2}"]`, "data-max");
      return max !== undefined && max > 0;
    });
    assert.equal(await numberAttr(page, `path[data-series=errors][data-revision="${rev1}"]`, "data-max"), 0);
    assert.match((await page.textContent("[data-testid=traffic-chart] .legend")) ?? "", new RegExp(rev1));
    assert.match((await page.textContent("[data-testid=traffic-chart] .legend")) ?? "", new RegExp(rev2));

    // By keyboard: the chart takes focus; Home reads out the first instant (before the switch: v2 had served
    // nothing yet — v1's rate there may be the small one of the load's first seconds, and its serving is
    // proven by data-max above), End the last (v2 serving).
    await page.focus("[data-testid=traffic-chart] [role=slider]");
    await page.keyboard.press("Home");
    await waitText(
      page,
      "[data-testid=traffic-readout]",
      new RegExp(`${rev2} \\(green\\): 0\\.0 requests/s`),
    );
    await page.keyboard.press("End");
    await waitText(page, "[data-testid=traffic-readout]", nonZero(rev2, "green"));
    await page.keyboard.press("ArrowLeft");
    assert.equal(await page.locator("[data-testid=traffic-chart] line.cursor").count(), 1);
    await page.screenshot({ path: join(screenshotDir(), "traffic.png"), fullPage: true });

    const report = await load.stop();
    load = undefined;
    t.diagnostic(fmtReport("dashboard traffic", report));
    assert.ok((report.byRevision[rev1] ?? 0) > 0 && (report.byRevision[rev2] ?? 0) > 0);
    await page.close();
  });

  it("says the chart is unavailable when Prometheus cannot be reached, and shows the rest", async () => {
    assert.ok(browser && dashboard && prometheus);
    // A dashboard pointed at a port nothing listens on.
    const nowhere = `http://127.0.0.1:${await closedPort()}`;
    unreachable = await startDashboard(["-n", ns, "--prometheus", nowhere]);
    const p = await browser.newPage(`${unreachable.url}#/${ns}/shop`);
    await waitText(
      p,
      "[data-testid=traffic-unavailable]",
      new RegExp(
        `^traffic chart unavailable: cannot connect to Prometheus at ${nowhere} \\(connection refused\\)$`,
      ),
    );
    await waitText(p, "[data-testid=connection]", /^\W*Live$/);
    assert.equal(await p.textContent("[data-testid=revision-green]"), rev2);
    await p.close();

    // The Prometheus a page was drawing from goes away: the same page says so.
    const page = await browser.newPage(`${dashboard.url}#/${ns}/shop`);
    await page.locator("[data-testid=traffic-chart]").waitFor({ timeout: UI_TIMEOUT });
    await prometheus.stop();
    await waitText(page, "[data-testid=traffic-unavailable]", /^traffic chart unavailable: /, UI_TIMEOUT);
    assert.equal(await page.textContent("[data-testid=revision-green]"), rev2);
    await page.close();
  });
});
