// The resident's way through the site, in Debian's Chromium: search → facility → room → book
// two consecutive slots → pay on the embedded test-mode page → my bookings → cancel and see the
// refund. Then the same search and booking with JavaScript off, and the booking flow with the
// keyboard only.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";

import {
  findTwoConsecutiveSlots,
  launchBrowser,
  phoneContext,
  screenshot,
  signIn,
  startServer,
  tokyoDate,
} from "./harness.js";

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

/** Search for `target`'s kind and date, open its facility, then its room calendar. */
async function searchToRoom(page, target) {
  await page.goto(`${server.url}/`);
  await page.selectOption("#kind", target.kind);
  await page.fill("#date", target.date);
  await page.click("form[action='/'] button[type=submit]");
  await page.locator("#results [data-announce]").waitFor();
  const facilityLink = page.locator(`#results a[href='/facilities/${target.facilityId}']`).first();
  await facilityLink.waitFor();
  await Promise.all([page.waitForURL(`**/facilities/${target.facilityId}`), facilityLink.click()]);
  await page.locator(`a[href='/rooms/${target.roomId}']`).first().click();
  await page.waitForURL(`**/rooms/${target.roomId}`);
  // Go to the week of the target date.
  await page.goto(`${server.url}/rooms/${target.roomId}?from=${target.date}`);
}

/** Tick the two slots, continue, fill in the form and book; returns the booking id. */
async function bookTwoSlots(page, target) {
  for (const id of target.slots) await page.check(`#slot-${id}`);
  await Promise.all([page.waitForURL("**/book?**"), page.click("#calendar button[type=submit]")]);
  await assert.doesNotReject(page.locator("table").waitFor());
  const rows = await page.locator("table tbody tr").count();
  assert.ok(rows >= 2, "the price breakdown has a line per slot");
  await page.fill("#purpose", "自治会の打合せ");
  await page.fill("#attendees", "8");
  await Promise.all([page.waitForURL("**/bookings/*?booked=1"), page.click("form[action='/book'] button[type=submit]")]);
  const id = Number(new URL(page.url()).pathname.split("/").pop());
  assert.ok(id > 0);
  return id;
}

describe("with JavaScript", () => {
  test("search, facility, room, book two slots, pay, my bookings, cancel with the refund", async () => {
    const target = await findTwoConsecutiveSlots(server.url);
    const context = await phoneContext(browser);
    const page = await context.newPage();
    await signIn(page, server.url);
    await searchToRoom(page, target);
    await screenshot(page, "room-calendar-ja");

    // The week/month links swap the calendar in place (htmx), focus its heading and announce.
    await page.click("#calendar nav a:has-text('1か月表示')");
    await page.waitForURL(/view=month/);
    await page.waitForFunction(() => document.activeElement?.id === "calendar-heading");
    await page.waitForFunction(() => document.getElementById("live").textContent.includes("空き"));
    await page.goto(`${server.url}/rooms/${target.roomId}?from=${target.date}`);

    const id = await bookTwoSlots(page, target);
    await screenshot(page, "booking-booked-ja");
    assert.match(await page.locator(".notice").innerText(), /予約しました/);
    assert.match(await page.locator("dl.facts").first().innerText(), /支払待ち/);

    // Pay on the embedded test-mode checkout.
    await Promise.all([page.waitForURL("**/pay/**"), page.click(`form[action='/bookings/${id}/pay'] button`)]);
    await screenshot(page, "checkout-ja");
    await Promise.all([page.waitForURL("**/pay/complete**"), page.click("form[action$='/complete'] button")]);

    // My bookings shows it confirmed; cancelling shows the refund first (in place, with htmx).
    await page.goto(`${server.url}/bookings`);
    const card = page.locator(`.card:has(a[href='/bookings/${id}'])`).first();
    assert.match(await card.innerText(), /予約確定/);
    await card.locator(`a[href='/bookings/${id}']`).first().click();
    await page.waitForURL(`**/bookings/${id}`);
    await page.click("#cancel-panel a");
    await page.waitForFunction(() => document.activeElement?.id === "cancel-heading");
    const panel = await page.locator("#cancel-panel").innerText();
    assert.match(panel, /100% の返金/, panel);
    await page.waitForFunction(() => document.getElementById("live").textContent.includes("返金"));
    await screenshot(page, "cancel-ja");
    await Promise.all([page.waitForURL(`**/bookings/${id}?cancelled=1`), page.click("#cancel-panel button[type=submit]")]);
    const notice = await page.locator(".notice").innerText();
    assert.match(notice, /取り消しました/);
    assert.doesNotMatch(notice, /返金額は 0円/, "a paid booking is refunded");
    assert.match(await page.locator("dl.facts").first().innerText(), /取消済み/);
    await context.close();
  });

  test("the search swaps its results in place, moves focus there and announces the count", async () => {
    const context = await phoneContext(browser);
    const page = await context.newPage();
    await page.goto(`${server.url}/`);
    await page.selectOption("#kind", "court");
    await page.fill("#date", tokyoDate(10));
    await page.click("form[action='/'] button[type=submit]");
    await page.waitForFunction(() => document.activeElement?.id === "results-heading");
    await page.waitForFunction(() => /室に空き/.test(document.getElementById("live").textContent));
    assert.match(page.url(), /kind=court/, "the URL follows the search");
    await context.close();
  });
});

describe("with JavaScript off", () => {
  test("search, facility, room and booking two slots work as plain forms and links", async () => {
    const target = await findTwoConsecutiveSlots(server.url, "gymnasium", 1);
    const context = await phoneContext(browser, { javaScriptEnabled: false, locale: "en-GB" });
    const page = await context.newPage();
    await signIn(page, server.url);
    await searchToRoom(page, target);
    assert.match(await page.locator("h1").innerText(), /—/);
    // English came from Accept-Language.
    assert.equal(await page.getAttribute("html", "lang"), "en");
    const id = await bookTwoSlots(page, target);
    assert.match(await page.locator(".notice").innerText(), /Booked/);
    await page.goto(`${server.url}/bookings/${id}/cancel`);
    assert.match(await page.locator("#cancel-panel").innerText(), /Nothing has been paid/);
    await Promise.all([page.waitForURL(`**/bookings/${id}?cancelled=1`), page.click("#cancel-panel button[type=submit]")]);
    assert.match(await page.locator(".notice").innerText(), /cancelled/i);
    await context.close();
  });

  test("a double submit of the confirmation books once", async () => {
    const target = await findTwoConsecutiveSlots(server.url, "gymnasium", 2);
    const context = await phoneContext(browser, { javaScriptEnabled: false });
    const page = await context.newPage();
    await signIn(page, server.url);
    await page.goto(`${server.url}/book?room=${target.roomId}&slot=${target.slots[0]}&slot=${target.slots[1]}`);
    await page.fill("#purpose", "練習");
    await page.fill("#attendees", "4");
    // Submit the same form twice, as an impatient double click or a resend would.
    const form = await page.locator("form[action='/book']").evaluate((f) => new URLSearchParams(new FormData(f)).toString());
    const post = () => page.request.post(`${server.url}/book`, {
      data: form,
      headers: { "content-type": "application/x-www-form-urlencoded" },
      maxRedirects: 0,
    });
    const [first, second] = [await post(), await post()];
    assert.equal(first.status(), 303);
    assert.equal(second.status(), 303);
    assert.equal(first.headers().location, second.headers().location, "the same booking both times");
    await context.close();
  });
});

describe("keyboard only", () => {
  test("the booking flow can be done with Tab, Space and Enter, with focus always visible", async () => {
    const target = await findTwoConsecutiveSlots(server.url, "gymnasium", 3);
    const context = await phoneContext(browser);
    const page = await context.newPage();
    await signIn(page, server.url);
    await page.goto(`${server.url}/rooms/${target.roomId}?from=${target.date}`);

    // The first Tab stop is the skip link, and it works.
    await page.keyboard.press("Tab");
    assert.equal(await page.evaluate(() => document.activeElement.className), "skip");
    await page.keyboard.press("Enter");
    assert.equal(await page.evaluate(() => document.activeElement.id), "main");

    const tabTo = async (selector, limit = 200) => {
      for (let i = 0; i < limit; i++) {
        await page.keyboard.press("Tab");
        const hit = await page.evaluate((s) => document.activeElement?.matches(s), selector);
        if (hit) {
          const outline = await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
          assert.notEqual(outline, "none", `focus is visible on ${selector}`);
          return;
        }
      }
      assert.fail(`could not reach ${selector} with Tab`);
    };
    await tabTo(`#slot-${target.slots[0]}`);
    await page.keyboard.press("Space");
    await tabTo(`#slot-${target.slots[1]}`);
    await page.keyboard.press("Space");
    await tabTo("#calendar button[type=submit]");
    await Promise.all([page.waitForURL("**/book?**"), page.keyboard.press("Enter")]);
    await tabTo("#purpose");
    await page.keyboard.type("読書会");
    await tabTo("#attendees");
    await page.keyboard.type("5");
    await tabTo("form[action='/book'] button[type=submit]");
    await Promise.all([page.waitForURL("**/bookings/*?booked=1"), page.keyboard.press("Enter")]);
    assert.match(await page.locator(".notice").innerText(), /予約しました/);
    await context.close();
  });

  test("a form sent with errors lists them at the top, linked to the fields", async () => {
    const target = await findTwoConsecutiveSlots(server.url, "gymnasium", 4);
    const context = await phoneContext(browser);
    const page = await context.newPage();
    await signIn(page, server.url);
    await page.goto(`${server.url}/book?room=${target.roomId}&slot=${target.slots[0]}`);
    await page.fill("#attendees", "0");
    await page.locator("#purpose").evaluate((e) => e.removeAttribute("required"));
    await page.locator("#attendees").evaluate((e) => e.removeAttribute("min"));
    await page.click("form[action='/book'] button[type=submit]");
    const summary = page.locator("#error-summary");
    await summary.waitFor();
    assert.equal(await summary.locator("a[href='#purpose']").count(), 1);
    assert.equal(await summary.locator("a[href='#attendees']").count(), 1);
    assert.equal(await page.getAttribute("#purpose", "aria-invalid"), "true");
    assert.match(await page.title(), /^エラー/);
    await context.close();
  });
});
