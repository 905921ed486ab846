// The console's counter area in a real browser:
// - a counter booking as demo staff: sign in, find the demo resident by card number 9000000068,
//   choose the facility, room, day and two consecutive slots, check the price, book, take the
//   payment in cash and see the receipt number — by plain forms, as with JavaScript off;
// - the same flow with JavaScript disabled reaches the same receipt;
// - axe-core (WCAG 2.1 AA) on every page of the area (search, results, the person's slots, the
//   price, the booking with its payment form and with its receipt, the registration queue, one
//   registration, the audit log), in Japanese and in English.

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { after, before, test } from "node:test";

import { axe, launchBrowser, phoneContext, screenshot, signIn, startServer, tokyoDate } from "./harness.js";

const STAFF = "staff@demo.yoyaku.jp";
const ADMIN = "admin@demo.yoyaku.jp";
const CARD = "9000000068";

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

/** One SQL statement on the server's SQLite database; returns the output lines. */
function sql(statement) {
  return execFileSync("sqlite3", [server.database, statement], { encoding: "utf8" })
    .split("\n")
    .filter((line) => line.length > 0);
}

/**
 * A room of the Tsurumi sports centre (no lottery, no group, not a half) with two consecutive
 * free slots at least `from` days ahead: { facilityId, roomId, date, slots: [id, id] }.
 */
async function tsurumiSlots(from) {
  const facilityId = Number(sql("SELECT id FROM facilities WHERE code = 'tsurumi-sports-center'")[0]);
  const rooms = (await (await fetch(`${server.url}/api/v1/facilities/${facilityId}/rooms`)).json()).items;
  for (let day = from; day < from + 20; day++) {
    const date = tokyoDate(day);
    for (const room of rooms) {
      if (room.uses_lottery || room.requires_group || room.parent_room_id) continue;
      const slots = (await (await fetch(`${server.url}/api/v1/rooms/${room.id}/slots?from=${date}&to=${date}`)).json()).items;
      for (let i = 0; i + 1 < slots.length; i++) {
        const [a, b] = [slots[i], slots[i + 1]];
        if (a.state === "available" && b.state === "available" && a.ends_at === b.starts_at) {
          return { facilityId, roomId: room.id, date, slots: [a.id, b.id] };
        }
      }
    }
  }
  throw new Error("no room at Tsurumi with two consecutive free slots");
}

/** Staff's counter flow from the search to the receipt; returns the receipt number shown. */
async function counterBooking(page, target, { shoot = false, lang = "en" } = {}) {
  await page.goto(`${server.url}/staff/counter`);
  await page.fill("#card_number", CARD);
  await Promise.all([page.waitForLoadState(), page.click("form.counter-search button[type=submit]")]);
  const person = page.locator("#results a[href^='/staff/counter/residents/']");
  assert.equal(await person.count(), 1, "the demo resident, found once");
  if (shoot) await screenshot(page, `console-counter-found-${lang}`);
  await Promise.all([page.waitForURL(/\/staff\/counter\/residents\/\d+$/), person.click()]);

  await page.selectOption("#facility", String(target.facilityId));
  await page.fill("#date", target.date);
  await Promise.all([page.waitForLoadState(), page.click("form.counter-choice button[type=submit]")]);
  await page.selectOption("#room", String(target.roomId));
  await Promise.all([page.waitForLoadState(), page.click("form.counter-choice button[type=submit]")]);
  for (const id of target.slots) await page.check(`#slot-${id}`);
  await page.fill("#purpose", "卓球の練習");
  await page.fill("#attendees", "4");
  await Promise.all([page.waitForURL(/\/confirm\?/), page.click("#slots-form button[type=submit]")]);
  const total = await page.locator(".counter-total").innerText();
  assert.match(total, /[0-9]/, "a price is shown before booking");
  if (shoot) await screenshot(page, `console-counter-price-${lang}`);
  await Promise.all([
    page.waitForURL(/\/staff\/counter\/bookings\/\d+$/),
    page.click("form[action$='/book'] button[type=submit]"),
  ]);
  await page.check("#method-cash");
  await Promise.all([page.waitForLoadState(), page.click("form[action$='/pay'] button[type=submit]")]);
  const receipt = (await page.locator("#receipt-number").innerText()).trim();
  assert.match(receipt, /^R\d{8}-\d+$/, `a receipt number, got ${receipt}`);
  if (shoot) await screenshot(page, `console-counter-receipt-${lang}`);
  return receipt;
}

test("staff find the demo resident by card number, book two slots, take payment and see the receipt", async () => {
  const target = await tsurumiSlots(9);
  const context = await phoneContext(browser, { viewport: { width: 1024, height: 900 } });
  await context.addCookies([{ name: "yoyaku_lang", value: "en", url: server.url }]);
  const page = await context.newPage();
  await signIn(page, server.url, STAFF);
  const receipt = await counterBooking(page, target, { shoot: true });
  const bookingId = Number(receipt.split("-")[1]);
  // Made by staff at the counter, for the resident, and paid.
  const [row] = sql(
    `SELECT b.channel || '|' || s.email || '|' || r.email || '|' || b.state FROM bookings b ` +
      `JOIN users s ON s.id = b.created_by JOIN users r ON r.id = b.user_id WHERE b.id = ${bookingId}`,
  );
  assert.equal(row, `counter|${STAFF}|resident@demo.yoyaku.jp|confirmed`);
  assert.equal(sql(`SELECT COUNT(*) FROM booking_slots WHERE booking_id = ${bookingId}`)[0], "2");
  assert.match(await page.locator("#booking-state").innerText(), /Confirmed/);
  await context.close();
});

test("the counter booking works the same with JavaScript disabled", async () => {
  const target = await tsurumiSlots(12);
  const context = await phoneContext(browser, { javaScriptEnabled: false, viewport: { width: 1024, height: 900 } });
  const page = await context.newPage();
  await signIn(page, server.url, STAFF);
  await counterBooking(page, target);
  await context.close();
});

for (const lang of ["ja", "en"]) {
  test(`every page of the counter area passes axe (WCAG 2.1 AA) in ${lang}`, async () => {
    // A registration waiting for review, to open.
    sql("UPDATE users SET registration_state = 'pending_review' WHERE email = 'visitor@demo.yoyaku.jp'");
    const visitor = sql("SELECT id FROM users WHERE email = 'visitor@demo.yoyaku.jp'")[0];
    const target = await tsurumiSlots(lang === "ja" ? 15 : 18);

    const failures = [];
    const check = async (page, name) => {
      const violations = await axe(page);
      if (violations.length > 0) {
        await screenshot(page, `axe-console-counter-${name}-${lang}`);
        failures.push({ page: name, violations });
      }
    };

    const context = await phoneContext(browser, { viewport: { width: 1024, height: 900 } });
    await context.addCookies([{ name: "yoyaku_lang", value: lang, url: server.url }]);
    const page = await context.newPage();
    await signIn(page, server.url, STAFF);

    await page.goto(`${server.url}/staff/counter`);
    await check(page, "search");
    // A refused search: errors next to the field and in the summary.
    await page.fill("#name", "横浜");
    await Promise.all([page.waitForLoadState(), page.click("form.counter-search button[type=submit]")]);
    assert.equal(await page.locator("#error-summary a[href='#date_of_birth']").count(), 1);
    await check(page, "search-refused");
    await page.fill("#name", "");
    await page.fill("#card_number", CARD);
    await Promise.all([page.waitForLoadState(), page.click("form.counter-search button[type=submit]")]);
    await check(page, "results");
    const href = await page.locator("#results a[href^='/staff/counter/residents/']").getAttribute("href");
    await page.goto(`${server.url}${href}?facility=${target.facilityId}&room=${target.roomId}&date=${target.date}`);
    await check(page, "slots");
    const slotQuery = target.slots.map((id) => `slot=${id}`).join("&");
    await page.goto(`${server.url}${href}/confirm?facility=${target.facilityId}&room=${target.roomId}&date=${target.date}&${slotQuery}&purpose=test&attendees=2`);
    await check(page, "price");
    await Promise.all([page.waitForURL(/\/staff\/counter\/bookings\/\d+$/), page.click("form[action$='/book'] button[type=submit]")]);
    await check(page, "booking");
    // No method chosen: the error by the field.
    await Promise.all([page.waitForLoadState(), page.click("form[action$='/pay'] button[type=submit]")]);
    assert.equal(await page.locator("#error-summary a[href='#method-cash']").count(), 1);
    await check(page, "payment-refused");
    await page.check("#method-terminal");
    await Promise.all([page.waitForLoadState(), page.click("form[action$='/pay'] button[type=submit]")]);
    await check(page, "receipt");

    await page.goto(`${server.url}/staff/registrations`);
    await check(page, "registrations");
    await page.goto(`${server.url}/staff/registrations/${visitor}`);
    await check(page, "registration");
    await page.click("form[action$='/reject'] button[type=submit]");
    await page.waitForLoadState();
    await check(page, "registration-refused");
    await context.close();

    const admin = await phoneContext(browser, { viewport: { width: 1280, height: 900 } });
    await admin.addCookies([{ name: "yoyaku_lang", value: lang, url: server.url }]);
    const a = await admin.newPage();
    await signIn(a, server.url, ADMIN);
    await a.goto(`${server.url}/staff/audit`);
    assert.ok((await a.locator("table.audit tbody tr").count()) > 0, "entries are listed");
    await check(a, "audit");
    await a.goto(`${server.url}/staff/audit?action=booking.counter&from=${tokyoDate(0)}`);
    await check(a, "audit-filtered");
    await admin.close();

    assert.deepEqual(failures, [], JSON.stringify(failures, null, 2));
  });
}
