// axe-core (WCAG 2.0 and 2.1, levels A and AA) on every page, in Japanese and in English, with
// zero violations allowed; a phone-sized screenshot of each page is kept in artifacts/. Also:
// text resized to 200 % never needs sideways scrolling on a phone.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import {
  axe,
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
  server = await startServer();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

/** The id of the demo's lottery round in `phase` (open, drawn). */
async function roundId(phase) {
  const rounds = await (await fetch(`${server.url}/api/v1/lottery/rounds`)).json();
  const round = rounds.items.find((r) => r.phase === phase);
  assert.ok(round, `demo mode has a ${phase} lottery round`);
  return round;
}

/** The first group on the signed-in person's "my groups" page, started with the form if they
 * have none yet (the page then shows the representative's forms). */
async function firstGroup(p) {
  await p.goto(`${server.url}/groups`);
  const links = p.locator("main .card a[href^='/groups/']");
  if ((await links.count()) === 0) {
    await p.fill("#name", "港北卓球クラブ");
    await p.fill("#name_kana", "こうほくたっきゅうくらぶ");
    await p.fill("#activity", "卓球");
    await Promise.all([p.waitForURL(/\/groups\/\d+/), p.click("form[action='/groups'] button[type=submit]")]);
    return;
  }
  await p.goto(`${server.url}${await links.first().getAttribute("href")}`);
}

/** Every page, as [name, how to get there]. `page` is signed in as the demo resident. */
function pages(target, bookingId) {
  const slots = target.slots.map((s) => `slot=${s}`).join("&");
  return [
    ["home", (p) => p.goto(`${server.url}/`)],
    ["search-results", (p) => p.goto(`${server.url}/?kind=gymnasium&date=${target.date}&time=morning`)],
    ["search-error", (p) => p.goto(`${server.url}/?kind=nope&date=yesterday`)],
    ["facility", (p) => p.goto(`${server.url}/facilities/${target.facilityId}`)],
    ["room-week", (p) => p.goto(`${server.url}/rooms/${target.roomId}?from=${target.date}`)],
    ["room-month", (p) => p.goto(`${server.url}/rooms/${target.roomId}?from=${target.date}&view=month`)],
    ["confirm", (p) => p.goto(`${server.url}/book?room=${target.roomId}&${slots}`)],
    ["booking", (p) => p.goto(`${server.url}/bookings/${bookingId}?booked=1`)],
    ["bookings", (p) => p.goto(`${server.url}/bookings`)],
    ["cancel", (p) => p.goto(`${server.url}/bookings/${bookingId}/cancel`)],
    ["not-found", (p) => p.goto(`${server.url}/facilities/999999`)],
    ["card", (p) => p.goto(`${server.url}/card`)],
    ["card-print", (p) => p.goto(`${server.url}/card/print`)],
    ["account", (p) => p.goto(`${server.url}/account`)],
    ["account-renew", (p) => p.goto(`${server.url}/account/renew`)],
    [
      "account-renew-errors",
      async (p) => {
        await p.goto(`${server.url}/account/renew`);
        await p.fill("#postal_code", "1");
        await Promise.all([p.waitForLoadState("load"), p.click("form[action='/account/renew'] button[type=submit]")]);
      },
    ],
    ["penalties", (p) => p.goto(`${server.url}/account/penalties`)],
    ["groups", (p) => p.goto(`${server.url}/groups`)],
    [
      "groups-errors",
      async (p) => {
        await p.goto(`${server.url}/groups`);
        await Promise.all([p.waitForLoadState("load"), p.click("form[action='/groups'] button[type=submit]")]);
      },
    ],
    ["group", firstGroup],
    ["lottery", (p) => p.goto(`${server.url}/lottery`)],
    ["lottery-round", async (p) => p.goto(`${server.url}/lottery/rounds/${(await roundId("open")).id}`)],
    [
      "lottery-round-wishes",
      async (p) => {
        const round = await roundId("open");
        await p.goto(`${server.url}/lottery/rounds/${round.id}`);
        const facility = await p.locator("#facility option").first().getAttribute("value");
        await p.goto(`${server.url}/lottery/rounds/${round.id}?edit=1&facility=${facility}&date=${round.month_of_use}`);
      },
    ],
    ["lottery-results", async (p) => p.goto(`${server.url}/lottery/rounds/${(await roundId("drawn")).id}/results`)],
    ["lottery-mine", (p) => p.goto(`${server.url}/lottery/mine`)],
  ];
}

/** The staff scanner: empty, after a scan (the demo resident's card number), after a refusal. */
const staffPages = [
  ["scanner", (p) => p.goto(`${server.url}/staff/scan`)],
  // The console's calendar (staff see it; the manager-only pages are checked in console-calendar.test.js).
  ["console-calendar", (p) => p.goto(`${server.url}/staff/calendar`)],
  [
    "scanner-result",
    async (p) => {
      await p.goto(`${server.url}/staff/scan`);
      await p.fill("#code", "9000000068");
      await p.press("#code", "Enter");
      await p.locator("#scan-result .scan-outcome").waitFor();
    },
  ],
  [
    "scanner-error",
    async (p) => {
      await p.goto(`${server.url}/staff/scan`);
      await p.fill("#code", "12345");
      await p.press("#code", "Enter");
      await p.locator("#code-error:not([hidden])").waitFor();
    },
  ],
];

/** Pages seen signed out. */
const publicPages = [
  ["sign-in", (p) => p.goto(`${server.url}/login`)],
  [
    "sign-in-error",
    async (p) => {
      await p.goto(`${server.url}/login`);
      await p.fill("#email", "nobody@example.jp");
      await p.fill("#password", "wrong password");
      await Promise.all([p.waitForLoadState("load"), p.click("form[action='/login'] button[type=submit]")]);
    },
  ],
  ["register", (p) => p.goto(`${server.url}/register`)],
  [
    "register-errors",
    async (p) => {
      await p.goto(`${server.url}/register`);
      await Promise.all([p.waitForURL("**/register"), p.click("form[action='/register'] button[type=submit]")]);
    },
  ],
  ["register-sent", (p) => p.goto(`${server.url}/register/sent`)],
  ["verify-email", (p) => p.goto(`${server.url}/verify-email?token=not-a-real-token`)],
  ["password-reset", (p) => p.goto(`${server.url}/password-reset`)],
  [
    "password-reset-errors",
    async (p) => {
      await p.goto(`${server.url}/password-reset`);
      await Promise.all([p.waitForLoadState("load"), p.click("form[action='/password-reset'] button[type=submit]")]);
    },
  ],
  ["password-reset-sent", (p) => p.goto(`${server.url}/password-reset/sent`)],
  ["password-reset-dead-link", (p) => p.goto(`${server.url}/password-reset/confirm?token=not-a-real-token`)],
  ["lottery-public", (p) => p.goto(`${server.url}/lottery`)],
];

for (const lang of ["ja", "en"]) {
  test(`every page passes axe (WCAG 2.1 AA) in ${lang}`, async () => {
    const target = await findTwoConsecutiveSlots(server.url, "gymnasium", lang === "ja" ? 5 : 6);
    const failures = [];
    const check = async (page, name, go) => {
      await go(page);
      const violations = await axe(page);
      assert.equal(await page.getAttribute("html", "lang"), lang, `${name} is in ${lang}`);
      await screenshot(page, `${name}-${lang}`);
      if (violations.length > 0) failures.push({ page: name, violations });
    };

    const anonymous = await phoneContext(browser);
    await anonymous.addCookies([{ name: "yoyaku_lang", value: lang, url: server.url }]);
    const a = await anonymous.newPage();
    for (const [name, go] of publicPages) await check(a, name, go);
    await anonymous.close();

    const context = await phoneContext(browser);
    await context.addCookies([{ name: "yoyaku_lang", value: lang, url: server.url }]);
    const page = await context.newPage();
    await signIn(page, server.url);
    // A booking to show on the booking, list and cancel pages.
    await page.goto(`${server.url}/book?room=${target.roomId}&slot=${target.slots[0]}`);
    await page.fill("#purpose", "a11y");
    await page.fill("#attendees", "3");
    await Promise.all([page.waitForURL("**/bookings/*?booked=1"), page.click("form[action='/book'] button[type=submit]")]);
    const bookingId = Number(new URL(page.url()).pathname.split("/").pop());
    const rest = { ...target, slots: [target.slots[1]] };
    for (const [name, go] of pages(rest, bookingId)) await check(page, name, go);
    await context.close();

    const staff = await phoneContext(browser);
    await staff.addCookies([{ name: "yoyaku_lang", value: lang, url: server.url }]);
    const s = await staff.newPage();
    await signIn(s, server.url, "staff@demo.yoyaku.jp");
    for (const [name, go] of staffPages) await check(s, name, go);
    await staff.close();

    assert.deepEqual(failures, [], JSON.stringify(failures, null, 2));
  });
}

test("text at 200 % needs no sideways scrolling on a phone", async () => {
  const target = await findTwoConsecutiveSlots(server.url, "gymnasium", 7);
  const context = await phoneContext(browser);
  const page = await context.newPage();
  const drawn = await roundId("drawn");
  for (const path of [
    "/",
    `/facilities/${target.facilityId}`,
    `/rooms/${target.roomId}?from=${target.date}`,
    "/register",
    "/password-reset",
    `/lottery/rounds/${drawn.id}`,
    `/lottery/rounds/${drawn.id}/results`,
  ]) {
    await page.goto(`${server.url}${path}`);
    // What the browser's text-size setting does: the root font size doubles.
    await page.addStyleTag({ content: "html { font-size: 200% !important; }" }).catch(() => {});
    await page.evaluate(() => {
      document.documentElement.style.fontSize = "200%";
    });
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 1, `${path} overflows by ${overflow}px at 200 %`);
  }
  await screenshot(page, "register-200-percent");
  await context.close();
});
