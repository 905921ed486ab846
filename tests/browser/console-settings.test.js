// The console's settings in a real browser, as the city's administrator:
// - a penalty rule typed with a mistake comes back with the error next to the text box and in
//   the summary; corrected, it is scheduled from tomorrow and listed in the history, and can be
//   withdrawn before its day;
// - a room's fee is scheduled by the facility's manager with plain form fields;
// - every settings page passes axe (WCAG 2.1 AA) in Japanese and English, with screenshots.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import { axe, launchBrowser, phoneContext, screenshot, signIn, startServer, tokyoDate } from "./harness.js";

const ADMIN = "admin@demo.yoyaku.jp";
const MANAGER = "manager@demo.yoyaku.jp";

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

/** The id of the Tsurumi sports center's main gym (the demo manager's facility). */
async function tsurumiGym() {
  const facilities = await (await fetch(`${server.url}/api/v1/facilities?per_page=100`)).json();
  const tsurumi = facilities.items.find((f) => f.code === "tsurumi-sports-center");
  const rooms = await (await fetch(`${server.url}/api/v1/facilities/${tsurumi.id}/rooms`)).json();
  return (rooms.items ?? rooms).find((r) => r.code === "main-gym").id;
}

test("an administrator schedules a penalty rule, fixing a mistake shown next to the field", async () => {
  const context = await phoneContext(browser);
  const page = await context.newPage();
  await signIn(page, server.url, ADMIN);
  await page.goto(`${server.url}/staff/settings`);
  await page.click("a[href='/staff/settings/rules/penalties']");
  assert.match(await page.inputValue("#toml"), /threshold = 3/);

  const tomorrow = tokyoDate(1);
  await page.fill("#effective_from", tomorrow);
  await page.fill("#toml", "threshold = 0\n");
  await page.fill("#note", "条例改正");
  await Promise.all([page.waitForLoadState("load"), page.click("form[action='/staff/settings/rules/penalties'] button[type=submit]")]);
  const summary = page.locator("#error-summary");
  assert.equal(await summary.isVisible(), true);
  assert.match(await page.locator("#toml-error").innerText(), /threshold/);
  assert.equal(await page.getAttribute("#toml", "aria-invalid"), "true");
  // What was typed is kept to be corrected.
  assert.equal(await page.inputValue("#toml"), "threshold = 0\n");
  await screenshot(page, "console-settings-rules-error");

  await page.fill("#toml", "threshold = 4\n");
  await Promise.all([page.waitForURL(/#history$/), page.click("form[action='/staff/settings/rules/penalties'] button[type=submit]")]);
  const history = await page.locator("#history + table").innerText();
  assert.match(history, /予約中/);
  assert.match(history, /条例改正/);
  await screenshot(page, "console-settings-rules-scheduled");

  // Withdrawn before its day: the history is empty again.
  await Promise.all([page.waitForURL(/#history$/), page.click("form[action*='/withdraw'] button")]);
  assert.equal(await page.locator("#history + table").count(), 0);
  await context.close();
});

test("a manager schedules a room fee with plain fields", async () => {
  const gym = await tsurumiGym();
  const context = await phoneContext(browser);
  const page = await context.newPage();
  await signIn(page, server.url, MANAGER);
  await page.goto(`${server.url}/staff/settings/rooms/${gym}/prices`);
  const inputs = page.locator("input[name^='price_']");
  assert.ok((await inputs.count()) > 0);
  const first = inputs.first();
  const band = (await first.getAttribute("name")).slice("price_".length);
  await page.fill("#effective_from", tokyoDate(30));
  await first.fill("abc");
  await Promise.all([page.waitForLoadState("load"), page.click("form[action$='/prices'] button[type=submit]")]);
  assert.match(await page.locator(`#price_${band}-error`).innerText(), /数字/);
  await page.locator(`#price_${band}`).fill("5000");
  await Promise.all([page.waitForURL(/#history$/), page.click("form[action$='/prices'] button[type=submit]")]);
  const history = await page.locator("#history + table").innerText();
  assert.match(history, /5,000円/);
  // Only the band that changed is scheduled; the other keeps its fee without a new row.
  assert.equal((history.match(/予約中/g) || []).length, 1);
  assert.match(history, /予約中/);
  await context.close();
});

for (const lang of ["ja", "en"]) {
  test(`every settings page passes axe in ${lang}`, async () => {
    const gym = await tsurumiGym();
    const context = await phoneContext(browser, { locale: lang === "ja" ? "ja-JP" : "en-US" });
    const page = await context.newPage();
    await signIn(page, server.url, ADMIN);
    for (const path of [
      "/staff",
      "/staff/settings",
      "/staff/settings/rules/booking",
      "/staff/settings/rules/penalties",
      "/staff/settings/rules/lottery",
      "/staff/settings/fee-policy",
      "/staff/settings/reductions",
      `/staff/settings/rooms/${gym}/prices`,
    ]) {
      await page.goto(`${server.url}${path}?lang=${lang}`);
      const violations = await axe(page);
      assert.deepEqual(violations, [], `${path} (${lang}): ${JSON.stringify(violations, null, 2)}`);
      await screenshot(page, `console${path.replaceAll("/", "-")}-${lang}`);
    }
    await context.close();
  });
}
