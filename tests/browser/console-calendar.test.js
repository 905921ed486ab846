// The console's calendar area in a real browser: a manager closes a room that a resident has a
// paid booking in (the preview lists the booking, the confirmation cancels it and refunds it in
// full, as the resident's own API shows), and axe-core finds no WCAG 2.1 AA violation on any of
// the area's pages, in Japanese and in English.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import {
  DEMO_PASSWORD,
  RESIDENT,
  axe,
  launchBrowser,
  phoneContext,
  screenshot,
  signIn,
  startServer,
  tokyoDate,
} from "./harness.js";

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

async function api(path, { token, method = "GET", body, headers = {} } = {}) {
  const response = await fetch(`${server.url}/api/v1${path}`, {
    method,
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(body ? { "content-type": "application/json" } : {}),
      ...headers,
    },
    body: body ? JSON.stringify(body) : undefined,
  });
  return { status: response.status, body: await response.json().catch(() => null) };
}

async function tokenOf(email) {
  const { status, body } = await api("/auth/login", {
    method: "POST",
    body: { email, password: DEMO_PASSWORD },
  });
  assert.equal(status, 200);
  return body.access_token;
}

/**
 * A room of the manager's facility that the resident can book first-come, with a free slot at
 * least nine days ahead (refunds are tiered closer in; a closure refunds in full anyway).
 */
async function bookableRoom(manager) {
  const { body: calendar } = await api(`/admin/calendar?from=${tokyoDate(9)}&to=${tokyoDate(20)}`, {
    token: manager,
  });
  for (const room of calendar.rooms) {
    const detail = (await api(`/rooms/${room.id}`)).body;
    if (detail.requires_group || detail.uses_lottery) continue;
    for (let day = 9; day <= 20; day++) {
      const date = tokyoDate(day);
      const slots = (await api(`/rooms/${room.id}/slots?from=${date}&to=${date}`)).body.items;
      const free = slots.find((s) => s.state === "available");
      if (free) return { facilityId: calendar.facility.id, roomId: room.id, date, slotId: free.id };
    }
  }
  throw new Error("no bookable room at the manager's facility");
}

test("a manager closes a room: the preview lists the resident's booking, the confirmation cancels and refunds it", async () => {
  const manager = await tokenOf(MANAGER);
  const resident = await tokenOf(RESIDENT);
  const target = await bookableRoom(manager);
  const booked = await api("/bookings", {
    token: resident,
    method: "POST",
    headers: { "idempotency-key": crypto.randomUUID() },
    body: { room_id: target.roomId, slot_ids: [target.slotId], purpose: "卓球の練習", attendees: 4 },
  });
  assert.equal(booked.status, 201, JSON.stringify(booked.body));
  const bookingId = booked.body.id;
  const total = booked.body.total_yen;
  // Paid on the embedded provider's page, so the closure has money to give back.
  const checkout = await api(`/bookings/${bookingId}/checkout`, { token: resident, method: "POST", body: {} });
  assert.equal(checkout.status, 200);
  const paid = await fetch(`${checkout.body.checkout_url}/complete`, { method: "POST", redirect: "manual" });
  assert.equal(paid.status, 303);

  const context = await phoneContext(browser);
  const page = await context.newPage();
  await signIn(page, server.url, MANAGER);
  await page.goto(`${server.url}/staff/closures?facility_id=${target.facilityId}`);
  await page.selectOption("#room_id", String(target.roomId));
  await page.fill("#starts_on", target.date);
  await page.fill("#ends_on", target.date);
  await page.selectOption("#closure_kind", "maintenance");
  await page.fill("#reason", "照明設備の緊急点検のため");
  await Promise.all([page.waitForURL(/\/staff\/closures\/preview$/), page.click("form[action='/staff/closures/preview'] button[type=submit]")]);

  const row = page.locator("#affected tbody tr", { hasText: `#${bookingId}` });
  await row.waitFor();
  assert.match(await row.innerText(), /横浜 花子/);
  assert.equal((await axe(page)).length, 0, "the preview is axe-clean");
  await screenshot(page, "console-closure-preview");
  // Nothing has changed yet.
  assert.equal((await api(`/bookings/${bookingId}`, { token: resident })).body.state, "confirmed");

  await page.check("#confirm");
  await Promise.all([page.waitForURL(/\/staff\/closures\?/), page.click("form[action='/staff/closures'] button[type=submit]")]);
  await page.locator(".notice").waitFor();
  assert.match(await page.locator(".notice").innerText(), /1/);

  const after = await api(`/bookings/${bookingId}`, { token: resident });
  assert.equal(after.body.state, "cancelled");
  const ledger = await api(`/bookings/${bookingId}/payments`, { token: resident });
  assert.equal(ledger.body.refunded_yen, total, JSON.stringify(ledger.body));
  // The resident's own page says so too.
  const mine = await context.newPage();
  await context.clearCookies();
  await signIn(mine, server.url, RESIDENT);
  await mine.goto(`${server.url}/bookings/${bookingId}`);
  assert.match(await mine.locator("main").innerText(), /照明設備の緊急点検|取消|Cancelled/);
  await context.close();
});

test("every page of the calendar area is axe-clean in Japanese and in English", async () => {
  const manager = await tokenOf(MANAGER);
  const { body: setup } = await api("/admin/templates", { token: manager });
  const roomId = setup.rooms[0].id;
  const failures = [];
  for (const lang of ["ja", "en"]) {
    const context = await phoneContext(browser);
    await context.addCookies([{ name: "yoyaku_lang", value: lang, url: server.url }]);
    const page = await context.newPage();
    await signIn(page, server.url, MANAGER);
    const pages = [
      ["calendar", () => page.goto(`${server.url}/staff/calendar?from=${tokyoDate(1)}&to=${tokyoDate(3)}`)],
      ["calendar-error", () => page.goto(`${server.url}/staff/calendar?from=${tokyoDate(1)}&to=${tokyoDate(60)}`)],
      ["closures", () => page.goto(`${server.url}/staff/closures`)],
      [
        "closures-error",
        async () => {
          await page.goto(`${server.url}/staff/closures`);
          await page.click("form[action='/staff/closures/blocks'] button[type=submit]");
          await page.locator("#error-summary").waitFor();
        },
      ],
      [
        "closure-preview",
        async () => {
          await page.goto(`${server.url}/staff/closures`);
          await page.fill("#starts_on", tokyoDate(40));
          await page.fill("#ends_on", tokyoDate(40));
          await page.fill("#reason", "点検");
          await page.click("form[action='/staff/closures/preview'] button[type=submit]");
          await page.locator("#affected-summary").waitFor();
        },
      ],
      ["templates", () => page.goto(`${server.url}/staff/templates`)],
      ["periods", () => page.goto(`${server.url}/staff/templates/rooms/${roomId}`)],
      [
        "regeneration-preview",
        async () => {
          await page.goto(`${server.url}/staff/templates`);
          await page.fill("#regen_from", tokyoDate(2));
          await page.fill("#regen_to", tokyoDate(3));
          await page.click("form[action='/staff/templates/regeneration/preview'] button[type=submit]");
          await page.locator("#regen-summary").waitFor();
        },
      ],
    ];
    for (const [name, go] of pages) {
      await go();
      const violations = await axe(page);
      await screenshot(page, `console-${name}-${lang}`);
      if (violations.length) failures.push({ page: `${name} (${lang})`, violations });
    }
    await context.close();
  }
  assert.deepEqual(failures, [], JSON.stringify(failures, null, 2));
});
