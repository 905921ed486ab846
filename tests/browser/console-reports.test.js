// The console's reports and the open-data page in a real browser:
// - a manager uses the reports with JavaScript off: a bad month comes back next to the field and
//   in the summary; a good range shows the chart (an SVG image with its name and description)
//   and the report links keep the filters;
// - the reports page (every report, and its error state) and the open-data page pass axe (WCAG
//   2.1 AA) in Japanese and English, with screenshots.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import { axe, launchBrowser, phoneContext, screenshot, signIn, startServer } from "./harness.js";

const MANAGER = "manager@demo.yoyaku.jp";
const REPORTS = ["occupancy", "revenue", "refunds", "no-shows", "lottery-demand"];

let server;
let browser;

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

test("a manager reads the reports without JavaScript, correcting a bad month", async () => {
  const context = await phoneContext(browser, { javaScriptEnabled: false });
  const page = await context.newPage();
  await signIn(page, server.url, MANAGER);
  const response = await page.goto(`${server.url}/staff/reports?report=no-shows&from=2026-13`);
  assert.equal(response.status(), 422);
  assert.equal(await page.locator("#error-summary").isVisible(), true);
  assert.match(await page.locator("#from-error").innerText(), /YYYY-MM/);
  assert.equal(await page.getAttribute("#from", "aria-invalid"), "true");
  assert.equal(await page.locator("svg.chart").count(), 0);
  await screenshot(page, "console-reports-error");

  await page.fill("#from", "2026-01");
  await page.fill("#to", "2026-06");
  await Promise.all([page.waitForLoadState("load"), page.click("form.report-filters button[type=submit]")]);
  assert.match(page.url(), /report=no-shows/);
  const chart = page.locator("svg.chart[role=img]");
  assert.equal(await chart.count(), 1);
  assert.match(await chart.locator("title").textContent(), /無断キャンセル率/);
  assert.match(await chart.locator("desc").textContent(), /2026-01/);
  assert.equal(await chart.locator("rect.chart-bar").count(), 6, "a bar for each month");
  // The other reports keep the range.
  const revenue = page.locator(".report-tabs a", { hasText: "収入" });
  assert.match(await revenue.getAttribute("href"), /from=2026-01&to=2026-06/);
  await Promise.all([page.waitForLoadState("load"), revenue.click()]);
  assert.equal(await page.locator(".report-tabs a[aria-current=page]").innerText(), "収入");
  assert.match(
    await page.locator("a[download]").getAttribute("href"),
    /^\/api\/v1\/admin\/reports\/revenue\?from=2026-01&to=2026-06&format=csv$/,
  );
  await screenshot(page, "console-reports-revenue");
  await context.close();
});

for (const lang of ["ja", "en"]) {
  test(`the reports and open-data pages pass axe in ${lang}`, async () => {
    const context = await phoneContext(browser, { locale: lang === "ja" ? "ja-JP" : "en-US" });
    const page = await context.newPage();
    await page.goto(`${server.url}/opendata?lang=${lang}`);
    let violations = await axe(page);
    assert.deepEqual(violations, [], `/opendata (${lang}): ${JSON.stringify(violations, null, 2)}`);
    await screenshot(page, `opendata-${lang}`);

    await signIn(page, server.url, MANAGER);
    const paths = REPORTS.map((r) => `/staff/reports?report=${r}&lang=${lang}`);
    paths.push(`/staff/reports?from=2026-13&to=x&lang=${lang}`);
    for (const path of paths) {
      await page.goto(`${server.url}${path}`);
      violations = await axe(page);
      assert.deepEqual(violations, [], `${path}: ${JSON.stringify(violations, null, 2)}`);
    }
    await page.goto(`${server.url}/staff/reports?lang=${lang}`);
    await screenshot(page, `console-reports-${lang}`);
    await context.close();
  });
}
