// A new resident from nothing to a cancelled, refunded booking, in Debian's Chromium: register
// with the form → follow the verification link from the outbox (demo mode) → staff approve the
// registration → sign in → search → book two consecutive slots → pay on the embedded test-mode
// page → see the card → cancel and see the refund. Once with JavaScript, once without (every
// step is a plain form or link). Also: the search page's transferred weight, and the password
// reset, lottery and group pages end to end.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";

import {
  DEMO_PASSWORD,
  findTwoConsecutiveSlots,
  launchBrowser,
  phoneContext,
  screenshot,
  signIn,
  startServer,
} from "./harness.js";

let server;
let browser;

before(async () => {
  // The demo's open lottery round is for the month after next: its slots must exist.
  server = await startServer({ slotWindowDays: 100 });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

const NEW_PASSWORD = "orange lanterns over the quiet harbour";

/** The newest mail in the demo outbox to `to` whose body contains `marker`; returns its link. */
async function mailedLink(to, marker) {
  for (let attempt = 0; attempt < 20; attempt++) {
    const outbox = await (await fetch(`${server.url}/api/v1/dev/outbox`)).json();
    const mail = outbox.items.find((m) => m.to === to && m.body.includes(marker));
    if (mail) {
      const match = mail.body.match(/https?:\/\/\S+/);
      assert.ok(match, `a link in ${mail.subject}`);
      return match[0];
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`no mail to ${to} with ${marker}`);
}

/** Staff approve the registration of `name` (`email`): on the console's review page
 * (/staff/registrations) as staff@demo.yoyaku.jp would, or through the API that page calls if the
 * page is not there. Returns the card number from the approval mail. */
async function staffApprove(email, name) {
  const context = await phoneContext(browser);
  const page = await context.newPage();
  await signIn(page, server.url, "staff@demo.yoyaku.jp");
  let approved = false;
  const queue = await page.goto(`${server.url}/staff/registrations`);
  if (queue && queue.status() === 200) {
    const link = page.locator(`main a:has-text("${name}")`).first();
    if ((await link.count()) > 0) {
      await Promise.all([page.waitForURL(/\/staff\/registrations\/\d+/), link.click()]);
      await Promise.all([page.waitForLoadState("load"), page.click("form[action$='/approve'] button[type=submit]")]);
      approved = true;
    }
  }
  await context.close();
  console.log(`${email} approved through ${approved ? "/staff/registrations" : "the API"}`);
  if (!approved) {
    const login = await fetch(`${server.url}/api/v1/auth/login`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ email: "staff@demo.yoyaku.jp", password: DEMO_PASSWORD }),
    });
    assert.equal(login.status, 200);
    const { access_token: token } = await login.json();
    const auth = { authorization: `Bearer ${token}` };
    const list = await (await fetch(`${server.url}/api/v1/admin/registrations`, { headers: auth })).json();
    const entry = list.items.find((r) => r.email === email);
    assert.ok(entry, `${email} waits for review`);
    const response = await fetch(`${server.url}/api/v1/admin/registrations/${entry.user_id}/approve`, {
      method: "POST",
      headers: auth,
    });
    assert.equal(response.status, 200);
  }
  const outbox = await (await fetch(`${server.url}/api/v1/dev/outbox`)).json();
  const mail = outbox.items.find((m) => m.to === email && /承認されました|approved/.test(m.subject));
  assert.ok(mail, `the approval is mailed to ${email}`);
  return mail.body.match(/\d{10}/)[0];
}

/** Register with the form, as a person would; returns the address used. */
async function register(page, tag) {
  const email = `${tag}-${Date.now()}@example.jp`;
  await page.goto(`${server.url}/register`);
  await page.fill("#email", email);
  await page.fill("#password", NEW_PASSWORD);
  await page.fill("#name", `港 花子 ${tag}`);
  await page.fill("#name_kana", "みなと はなこ");
  await page.fill("#date_of_birth", "1984-07-21");
  await page.fill("#postal_code", "231-0017");
  await page.fill("#address", "横浜市中区港町1-1");
  await page.fill("#phone", "045-671-2121");
  await page.check("#residency-resident");
  await Promise.all([page.waitForURL("**/register/sent"), page.click("form[action='/register'] button[type=submit]")]);
  return email;
}

/** Follow the verification link and press its button. */
async function verify(page, email) {
  const link = await mailedLink(email, "/verify-email?token=");
  await page.goto(link);
  await Promise.all([page.waitForLoadState("load"), page.click("form[action='/verify-email'] button[type=submit]")]);
  assert.match(await page.locator("h1").innerText(), /確認しました|confirmed/);
}

/** Search from the home page, then facility → room → the week of the date. */
async function searchToRoom(page, target) {
  await page.goto(`${server.url}/`);
  await page.selectOption("#kind", target.kind);
  await page.fill("#date", target.date);
  await page.click("form[action='/'] button[type=submit]");
  const facilityLink = page.locator(`#results a[href='/facilities/${target.facilityId}']`).first();
  await facilityLink.waitFor();
  await Promise.all([page.waitForURL(`**/facilities/${target.facilityId}`), facilityLink.click()]);
  await Promise.all([page.waitForURL(`**/rooms/${target.roomId}`), page.locator(`a[href='/rooms/${target.roomId}']`).first().click()]);
  await page.goto(`${server.url}/rooms/${target.roomId}?from=${target.date}`);
}

/** Tick two consecutive slots, book them, pay, and return the booking id. */
async function bookAndPay(page, target) {
  for (const id of target.slots) await page.check(`#slot-${id}`);
  await Promise.all([page.waitForURL("**/book?**"), page.click("#calendar button[type=submit]")]);
  assert.ok((await page.locator("table tbody tr").count()) >= 2, "a price line per slot");
  await page.fill("#purpose", "地域の卓球練習");
  await page.fill("#attendees", "6");
  await Promise.all([page.waitForURL("**/bookings/*?booked=1"), page.click("form[action='/book'] button:not([name=update])")]);
  const id = Number(new URL(page.url()).pathname.split("/").pop());
  await Promise.all([page.waitForURL("**/pay/**"), page.click(`form[action='/bookings/${id}/pay'] button`)]);
  await Promise.all([page.waitForURL("**/pay/complete**"), page.click("form[action$='/complete'] button")]);
  return id;
}

async function fullFlow(javaScriptEnabled, offset, tag) {
  const context = await phoneContext(browser, { javaScriptEnabled });
  const page = await context.newPage();
  const email = await register(page, tag);
  await verify(page, email);
  const cardNumber = await staffApprove(email, `港 花子 ${tag}`);

  await page.goto(`${server.url}/login`);
  await page.fill("#email", email);
  await page.fill("#password", NEW_PASSWORD);
  await Promise.all([page.waitForURL((u) => !u.pathname.startsWith("/login")), page.click("form[action='/login'] button[type=submit]")]);
  const target = await findTwoConsecutiveSlots(server.url, "gymnasium", offset);
  await searchToRoom(page, target);
  const id = await bookAndPay(page, target);
  await screenshot(page, `flow-${tag}-paid`);

  // The card shows the number staff's approval gave.
  await page.goto(`${server.url}/card`);
  const digits = (await page.locator("main").innerText()).replace(/\D/g, "");
  assert.ok(digits.includes(cardNumber), `the card shows ${cardNumber}`);
  await screenshot(page, `flow-${tag}-card`);

  // Cancel: the refund is shown before confirming, and after.
  await page.goto(`${server.url}/bookings/${id}/cancel`);
  assert.match(await page.locator("#cancel-panel").innerText(), /100%/);
  await Promise.all([page.waitForURL(`**/bookings/${id}?cancelled=1`), page.click("#cancel-panel button[type=submit]")]);
  const notice = await page.locator(".notice").innerText();
  assert.doesNotMatch(notice, /返金額は 0円|refund of ¥0/, "the paid booking is refunded");
  await screenshot(page, `flow-${tag}-cancelled`);
  await context.close();
}

describe("a new resident, registration to refund", () => {
  test("with JavaScript", async () => {
    await fullFlow(true, 8, "js");
  });

  test("with JavaScript off (search and booking as plain forms and links)", async () => {
    await fullFlow(false, 9, "nojs");
  });
});

test("the search page weighs under 100 KB transferred, assets included", async () => {
  const target = await findTwoConsecutiveSlots(server.url, "gymnasium", 10);
  const context = await phoneContext(browser);
  const page = await context.newPage();
  const responses = [];
  page.on("requestfinished", (request) => responses.push(request));
  await page.goto(`${server.url}/?kind=gymnasium&date=${target.date}`, { waitUntil: "networkidle" });
  let total = 0;
  const parts = [];
  for (const request of responses) {
    const sizes = await request.sizes();
    const bytes = sizes.responseBodySize + sizes.responseHeadersSize;
    total += bytes;
    parts.push(`${new URL(request.url()).pathname} ${bytes}`);
  }
  const kb = (total / 1024).toFixed(1);
  console.log(`search page transferred: ${kb} KB (${parts.join(", ")})`);
  assert.ok(total < 100 * 1024, `the search page transferred ${kb} KB`);
  await context.close();
});

test("a forgotten password is reset with the mailed link, and the old one stops working", async () => {
  const context = await phoneContext(browser);
  const page = await context.newPage();
  const email = await register(page, "reset");
  await verify(page, email);
  await page.goto(`${server.url}/login`);
  await Promise.all([page.waitForURL("**/password-reset"), page.click("a[href='/password-reset']")]);
  await page.fill("#email", email);
  await Promise.all([page.waitForURL("**/password-reset/sent"), page.click("form[action='/password-reset'] button")]);
  const link = await mailedLink(email, "/password-reset/confirm?token=");
  await page.goto(link);
  await page.fill("#password", "short");
  await page.click("form[action='/password-reset/confirm'] button");
  await page.locator("#error-summary a[href='#password']").waitFor();
  await page.fill("#password", "seven quiet herons fishing at dawn");
  await Promise.all([page.waitForLoadState("load"), page.click("form[action='/password-reset/confirm'] button")]);
  await page.goto(`${server.url}/login`);
  await page.fill("#email", email);
  await page.fill("#password", NEW_PASSWORD);
  await page.click("form[action='/login'] button[type=submit]");
  await page.locator("#sign-in-error").waitFor();
  await page.fill("#password", "seven quiet herons fishing at dawn");
  await Promise.all([page.waitForURL((u) => !u.pathname.startsWith("/login")), page.click("form[action='/login'] button[type=submit]")]);
  await context.close();
});

test("a resident builds lottery wishes with htmx: focus moves to the wishes and the change is announced", async () => {
  const rounds = await (await fetch(`${server.url}/api/v1/lottery/rounds`)).json();
  const open = rounds.items.find((r) => r.phase === "open");
  assert.ok(open, "demo mode has a round taking applications");
  const context = await phoneContext(browser);
  const page = await context.newPage();
  await signIn(page, server.url);
  await page.goto(`${server.url}/lottery/rounds/${open.id}`);
  // The first facility with a free slot on some day of the month.
  const options = await page.locator("#facility option").evaluateAll((os) => os.map((o) => o.value));
  const month = open.month_of_use.slice(0, 8);
  let added = false;
  for (const facility of options.slice(0, 5)) {
    for (const day of ["08", "09", "10", "13", "14"]) {
      await page.selectOption("#facility", facility);
      await page.fill("#date", `${month}${day}`);
      await page.click("#wish-builder form[method=get] button");
      await page.waitForFunction(() => document.activeElement?.id === "wishes");
      const link = page.locator("#wish-builder .slot-list a").first();
      if ((await link.count()) > 0) {
        await link.click();
        await page.waitForFunction(() => document.querySelectorAll("#wish-builder select[name^=rank_]").length === 1);
        added = true;
        break;
      }
    }
    if (added) break;
  }
  assert.ok(added, "a slot was added as a wish");
  await page.waitForFunction(() => /1/.test(document.getElementById("live").textContent));
  await page.fill("#purpose", "卓球の練習");
  await page.fill("#attendees", "4");
  await Promise.all([page.waitForURL("**/lottery/rounds/*?done=applied**"), page.click("form[action$='/apply'] button[type=submit]")]);
  assert.match(await page.locator(".notice").first().innerText(), /保存/);
  await screenshot(page, "lottery-applied-ja");
  await context.close();
});

test("the booking form re-prices the kind of use in place, keeping focus and announcing the total", async () => {
  const target = await findTwoConsecutiveSlots(server.url, "gymnasium", 11);
  const context = await phoneContext(browser);
  const page = await context.newPage();
  await signIn(page, server.url);
  await page.goto(`${server.url}/book?room=${target.roomId}&slot=${target.slots[0]}`);
  const before = await page.locator("#price tfoot td").innerText();
  await page.check("#purpose_kind-commercial");
  await page.waitForFunction((old) => document.querySelector("#price tfoot td").textContent !== old, before);
  assert.equal(await page.evaluate(() => document.activeElement.id), "purpose_kind-commercial", "focus stays on the choice");
  const after = await page.locator("#price tfoot td").innerText();
  await page.waitForFunction((total) => document.getElementById("live").textContent.includes(total), after.trim());
  // Nothing was booked by re-pricing.
  await page.goto(`${server.url}/bookings`);
  assert.equal(await page.locator(`main .card:has-text("${target.roomName}")`).count(), 0);
  await context.close();
});
