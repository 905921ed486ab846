// The QR user card and the staff scanner in a real browser:
// - the scanner as demo staff: a keyboard-wedge scan (the token typed into the focused input,
//   then Enter) shows the holder and "checked in"; a second scan says "already checked in at";
//   the typed card number works too; offline (context.setOffline) a scan is checked against
//   the cached keys and queued, a tampered token is refused on the spot, and back online the
//   queue is sent once, without checking anyone in twice;
// - the resident's card page opens offline after one visit online (service worker), and
//   signing out deletes the saved card.

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { after, before, test } from "node:test";

import {
  DEMO_PASSWORD,
  RESIDENT,
  findTwoConsecutiveSlots,
  launchBrowser,
  phoneContext,
  screenshot,
  signIn,
  startServer,
  tokyoDate,
} from "./harness.js";

const STAFF = "staff@demo.yoyaku.jp";

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

async function api(path, { token, method = "GET", body, headers = {} } = {}) {
  const response = await fetch(`${server.url}${path}`, {
    method,
    headers: {
      ...(token ? { Authorization: `Bearer ${token}` } : {}),
      ...(body ? { "Content-Type": "application/json" } : {}),
      ...headers,
    },
    body: body ? JSON.stringify(body) : undefined,
  });
  return { status: response.status, body: await response.json() };
}

async function accessToken(email) {
  const { status, body } = await api("/api/v1/auth/login", {
    method: "POST",
    body: { email, password: DEMO_PASSWORD },
  });
  assert.equal(status, 200, JSON.stringify(body));
  return body.access_token;
}

/** A timestamp as the database stores them (the format of `sample`, another stored one). */
function stored(date, sample) {
  const iso = date.toISOString().slice(0, 19);
  if (sample.includes("T")) return `${iso}${sample.endsWith("Z") ? "Z" : "+00:00"}`;
  return `${iso.replace("T", " ")}+00:00`;
}

/**
 * The demo resident books a gymnasium through the API; the booking is then moved (in the
 * database: no page can book for the past hour) to the Tsurumi sports centre's gym, paid and
 * taking place right now, so the scanner there can check it in. Returns its id and facility.
 */
async function bookingHappeningNow(residentToken) {
  const facility = Number(sql("SELECT id FROM facilities WHERE code = 'tsurumi-sports-center'")[0]);
  const gym = Number(sql(`SELECT id FROM rooms WHERE facility_id = ${facility} AND code = 'main-gym'`)[0]);
  // Any room open for first-come booking; the booking is moved to the Tsurumi gym below.
  const target = await findTwoConsecutiveSlots(server.url, "gymnasium", 3);
  const answer = await api("/api/v1/bookings", {
    token: residentToken,
    method: "POST",
    body: { room_id: target.roomId, slot_ids: [target.slots[0]], purpose: "scanner test", attendees: 4 },
    headers: { "Idempotency-Key": `scanner-${Date.now()}` },
  });
  assert.equal(answer.status, 201, JSON.stringify(answer.body));
  const booked = answer.body.id;
  const sample = sql(`SELECT starts_at FROM bookings WHERE id = ${booked}`)[0];
  const start = new Date(Date.now() - 30 * 60 * 1000);
  const end = new Date(Date.now() + 90 * 60 * 1000);
  sql(
    `UPDATE bookings SET state = 'confirmed', room_id = ${gym}, starts_at = '${stored(start, sample)}', ` +
      `ends_at = '${stored(end, sample)}', service_date = '${tokyoDate(0)}' WHERE id = ${booked}`,
  );
  return { booking: booked, facility };
}

/** Swap one character in the middle of the signature: a tampered token. */
function tamper(token) {
  const [h, p, s] = token.split(".");
  const i = Math.floor(s.length / 2);
  const c = s[i] === "A" ? "B" : "A";
  return `${h}.${p}.${s.slice(0, i)}${c}${s.slice(i + 1)}`;
}

async function wedgeScan(page, text) {
  // A keyboard-wedge scanner is a keyboard: it types into the focused input and presses Enter.
  await page.focus("#code");
  await page.keyboard.type(text, { delay: 0 });
  await page.keyboard.press("Enter");
}

test("the scanner checks in by keyboard wedge and card number, and queues offline scans", async () => {
  const residentToken = await accessToken(RESIDENT);
  const { body: card } = await api("/api/v1/me/card", { token: residentToken });
  assert.ok(card.token, JSON.stringify(card));
  const { booking, facility } = await bookingHappeningNow(residentToken);

  const context = await phoneContext(browser, { viewport: { width: 1024, height: 900 } });
  await context.addCookies([{ name: "yoyaku_lang", value: "en", url: server.url }]);
  const page = await context.newPage();
  await signIn(page, server.url, STAFF);
  await page.goto(`${server.url}/staff/scan?facility=${facility}`);
  // The script has saved the key set and the revocation list for offline use.
  await page.waitForFunction(() => localStorage.getItem("yoyaku.scanner.saved_at") !== null);

  await wedgeScan(page, card.token);
  const result = page.locator("#scan-result");
  const said = result.locator(".scan-message");
  await said.getByText("Checked in", { exact: true }).waitFor();
  assert.match(await result.innerText(), /横浜 花子/);
  assert.equal(Number(sql(`SELECT COUNT(*) FROM booking_checkins WHERE booking_id = ${booking}`)[0]), 1);
  assert.equal(await page.evaluate(() => document.activeElement.id), "code", "ready for the next scan");
  await screenshot(page, "scanner-checked-in");

  await wedgeScan(page, card.token);
  await said.getByText(/Already checked in at \d\d:\d\d/).waitFor();

  // Typed card number (with the hyphens people read out).
  const number = card.card_number;
  await wedgeScan(page, `${number.slice(0, 4)}-${number.slice(4, 8)}-${number.slice(8)}`);
  await said.getByText(/Already checked in at \d\d:\d\d/).waitFor();

  // A refusal is shown next to the input.
  await wedgeScan(page, tamper(card.token));
  await page.locator("#code-error").getByText("This is not a user card QR code, or it has been altered.").waitFor();
  assert.equal(await page.getAttribute("#code", "aria-invalid"), "true");

  // Offline: the token is checked here and the check-in queued; a tampered one is refused.
  await context.setOffline(true);
  const webcrypto = await page.evaluate(async () => {
    try {
      await crypto.subtle.importKey(
        "jwk",
        { kty: "OKP", crv: "Ed25519", x: "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo" },
        { name: "Ed25519" },
        false,
        ["verify"],
      );
      return true;
    } catch {
      return false;
    }
  });
  assert.ok(webcrypto, "Debian's Chromium verifies Ed25519 in WebCrypto");
  await wedgeScan(page, tamper(card.token));
  await page.locator("#code-error").getByText(/signature does not match/).waitFor();
  await wedgeScan(page, card.token);
  await said.getByText(`Offline: the card (ID ${card.card_id}) is valid.`, { exact: false }).waitFor();
  await page.locator("#queue-status").getByText("Check-ins waiting to be sent: 1").waitFor();
  // The same card again while offline: not queued twice.
  await wedgeScan(page, card.token);
  await said.getByText(/Already checked in at \d\d:\d\d/).waitFor();
  assert.equal(await page.evaluate(() => JSON.parse(localStorage.getItem("yoyaku.scanner.queue")).length), 1);
  await screenshot(page, "scanner-offline");
  const scansBefore = Number(sql("SELECT COUNT(*) FROM checkin_scans")[0]);

  // Back online: the queue is sent and emptied.
  await context.setOffline(false);
  await page.locator("#queue-status").getByText(/Sent 1 saved check-ins\..*waiting to be sent: 0/).waitFor();
  assert.equal(Number(sql("SELECT COUNT(*) FROM checkin_scans")[0]), scansBefore + 1);
  // Sending again (the button) sends nothing; nobody was checked in twice.
  await page.click("#sync-now");
  await page.locator("#queue-status").getByText("Check-ins waiting to be sent: 0").waitFor();
  assert.equal(Number(sql("SELECT COUNT(*) FROM checkin_scans")[0]), scansBefore + 1);
  assert.equal(Number(sql(`SELECT COUNT(*) FROM booking_checkins WHERE booking_id = ${booking}`)[0]), 1);
  assert.equal(sql(`SELECT state FROM bookings WHERE id = ${booking}`)[0], "checked_in");
  await context.close();
});

test("the scanner works without JavaScript: the form posts and the page shows the result", async () => {
  const residentToken = await accessToken(RESIDENT);
  const { body: card } = await api("/api/v1/me/card", { token: residentToken });
  const context = await phoneContext(browser, { javaScriptEnabled: false });
  await context.addCookies([{ name: "yoyaku_lang", value: "en", url: server.url }]);
  const page = await context.newPage();
  await signIn(page, server.url, STAFF);
  await page.goto(`${server.url}/staff/scan`);
  await page.fill("#code", card.card_number);
  await Promise.all([page.waitForLoadState("load"), page.press("#code", "Enter")]);
  assert.match(await page.locator("#scan-result").innerText(), /横浜 花子/);
  await page.fill("#code", "12345");
  await Promise.all([page.waitForLoadState("load"), page.press("#code", "Enter")]);
  await page.locator("#error-summary").waitFor();
  assert.equal(await page.getAttribute("#code", "aria-invalid"), "true");
  await context.close();
});

test("a resident cannot open the scanner", async () => {
  const context = await phoneContext(browser);
  const page = await context.newPage();
  await signIn(page, server.url);
  const response = await page.goto(`${server.url}/staff/scan`);
  assert.equal(response.status(), 403);
  await context.close();
});

test("the card page opens offline after one visit online, and signing out deletes it", async () => {
  const context = await phoneContext(browser);
  const page = await context.newPage();
  await signIn(page, server.url);
  await page.goto(`${server.url}/card`);
  const number = (await page.locator(".user-card-number").innerText()).replace(/-/g, "");
  assert.match(number, /^\d{10}$/);
  assert.ok(await page.locator("#card svg").count(), "the QR is shown");
  // The worker is installed and has kept the card.
  await page.waitForFunction(async () => {
    const registration = await navigator.serviceWorker.getRegistration("/card");
    return Boolean(registration && registration.active && (await caches.match("/card")));
  });
  // Other signed-in pages are never kept.
  await page.goto(`${server.url}/bookings`);
  assert.equal(await page.evaluate(async () => Boolean(await caches.match("/bookings"))), false);

  // The QR the worker kept (each visit online signs a new token, so a page from the network
  // would show another one).
  const kept = await page.evaluate(async () => {
    const html = await (await caches.match("/card")).text();
    return new DOMParser().parseFromString(html, "text/html").querySelector("#card svg").outerHTML;
  });
  await context.setOffline(true);
  await page.goto(`${server.url}/card`);
  assert.equal((await page.locator(".user-card-number").innerText()).replace(/-/g, ""), number);
  assert.equal(await page.locator("#card svg").evaluate((svg) => svg.outerHTML), kept, "the kept QR, offline");
  await page.locator("#card-status").getByText(/オフライン/).waitFor();
  await screenshot(page, "card-offline");
  await context.setOffline(false);

  // Signing out deletes the saved card.
  await page.goto(`${server.url}/card`);
  await Promise.all([page.waitForURL((u) => u.pathname === "/"), page.click("form[action='/logout'] button")]);
  const left = await page.evaluate(async () => (await caches.keys()).filter((n) => n.startsWith("yoyaku-card-")));
  assert.deepEqual(left, []);
  await context.close();
});
