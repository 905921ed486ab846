// Test harness: starts a real `yoyaku serve` (the binary cargo built) on a free loopback port
// with a fresh SQLite database in demo mode, and launches Debian's Chromium through
// playwright-core. Never a downloaded browser: the executable is /usr/bin/chromium (or
// $CHROMIUM). Screenshots and failure pages go to tests/browser/artifacts/.

import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync, readFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const here = dirname(fileURLToPath(import.meta.url));
export const ARTIFACTS = join(here, "artifacts");
export const DEMO_PASSWORD = process.env.YOYAKU_DEMO_PASSWORD || "yoyaku-demo";
export const RESIDENT = "resident@demo.yoyaku.jp";

/** The yoyaku binary (not a YOYAKU_* variable: the server reads every one as configuration):
 * $BROWSER_TEST_BINARY, else the newest of the release and debug builds. */
function binary() {
  if (process.env.BROWSER_TEST_BINARY) return process.env.BROWSER_TEST_BINARY;
  const target = process.env.CARGO_TARGET_DIR || join(here, "..", "..", "target");
  const candidates = ["release", "debug"]
    .map((profile) => join(target, profile, "yoyaku"))
    .filter((path) => existsSync(path))
    .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs);
  if (candidates.length === 0) {
    throw new Error(`no yoyaku binary under ${target}: run cargo build -p yoyaku --bin yoyaku first`);
  }
  return candidates[0];
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Today in Japan, as YYYY-MM-DD, plus `days`. */
export function tokyoDate(days = 0) {
  const now = new Date(Date.now() + 9 * 3600 * 1000 + days * 86400 * 1000);
  return now.toISOString().slice(0, 10);
}

/**
 * Start the server; resolves once it answers and the slots of the next weeks exist
 * (`slotWindowDays` of them: the lottery's open round is for the month after next).
 * Returns { url, stop(), log, database } (`database`: the SQLite file, for tests that must set up
 * what no page or API can, such as a booking taking place right now).
 */
export async function startServer({ slotWindowDays = 42 } = {}) {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "yoyaku-browser-"));
  const url = `http://127.0.0.1:${port}`;
  const log = [];
  const child = spawn(binary(), ["serve"], {
    cwd: dir,
    env: {
      // The server treats every YOYAKU_* variable as configuration: pass none but ours.
      ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("YOYAKU_"))),
      YOYAKU_DATABASE_URL: `sqlite://${join(dir, "yoyaku.db")}`,
      YOYAKU_LISTEN: `127.0.0.1:${port}`,
      YOYAKU_DEMO: "1",
      // Six weeks of slots are enough for the tests and generate in seconds.
      YOYAKU_SLOT_WINDOW_DAYS: String(slotWindowDays),
      // Warnings, and the slot generation's line that says the slots exist.
      RUST_LOG: "warn,yoyaku::jobs::slot_generation=info",
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  child.stdout.on("data", (d) => log.push(String(d)));
  child.stderr.on("data", (d) => log.push(String(d)));
  let exited = null;
  child.on("exit", (code) => {
    exited = code;
  });
  const stop = async () => {
    if (exited === null) {
      child.kill("SIGTERM");
      for (let i = 0; i < 50 && exited === null; i++) await sleep(100);
      if (exited === null) child.kill("SIGKILL");
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    if (exited !== null) {
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`yoyaku serve exited with ${exited}:\n${log.join("")}`);
    }
    // Serving, and the first slot generation (run at start) has finished.
    if (log.join("").includes("slot window materialised")) {
      try {
        const response = await fetch(`${url}/readyz`);
        if (response.ok) return { url, stop, log, database: join(dir, "yoyaku.db") };
      } catch {
        // Not listening yet.
      }
    }
    await sleep(250);
  }
  await stop();
  throw new Error(`yoyaku serve did not get ready in time:\n${log.join("")}`);
}

/** Debian's Chromium, headless, with the flags this machine's closed network needs. */
export async function launchBrowser() {
  const executablePath = process.env.CHROMIUM || "/usr/bin/chromium";
  return chromium.launch({
    executablePath,
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--disable-dev-shm-usage",
    ],
  });
}

/** A phone-sized context (the residents' usual screen). */
export async function phoneContext(browser, options = {}) {
  return browser.newContext({
    viewport: { width: 390, height: 844 },
    deviceScaleFactor: 1,
    locale: "ja-JP",
    timezoneId: "Asia/Tokyo",
    ...options,
  });
}

const AXE_SOURCE = readFileSync(join(here, "node_modules", "axe-core", "axe.min.js"), "utf8");

/**
 * Run axe-core (WCAG 2.0/2.1 A and AA rules) on the page; returns the violations. Injected
 * through the DevTools protocol, so the page's Content-Security-Policy stays as served.
 */
export async function axe(page) {
  const ready = await page.evaluate(() => typeof window.axe !== "undefined");
  if (!ready) await page.evaluate(AXE_SOURCE);
  const result = await page.evaluate(() =>
    window.axe.run(document, {
      runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] },
    }),
  );
  if (result.passes.length === 0) throw new Error("axe checked nothing: is the page empty?");
  return result.violations.map((v) => ({
    id: v.id,
    impact: v.impact,
    help: v.help,
    nodes: v.nodes.map((n) => n.target.join(" ")).slice(0, 5),
  }));
}

/** Save a phone-sized screenshot of the page as a test artifact. */
export async function screenshot(page, name) {
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
}

/** Sign in through the form, as a person would. */
export async function signIn(page, url, email = RESIDENT) {
  await page.goto(`${url}/login`);
  await page.fill("#email", email);
  await page.fill("#password", DEMO_PASSWORD);
  await Promise.all([page.waitForURL((u) => !u.pathname.startsWith("/login")), page.click("form[action='/login'] button[type=submit]")]);
}

/**
 * A room (a gymnasium by default, no lottery, no group needed) with two consecutive free slots on a
 * day at least a week ahead (so a cancellation is refunded in full), read from the JSON API.
 * Returns { roomId, roomName, facilityId, facilityName, date, slots: [id, id] }.
 */
export async function findTwoConsecutiveSlots(url, kind = "gymnasium", offset = 0) {
  for (let day = 9; day < 30; day++) {
    const date = tokyoDate(day);
    const response = await fetch(`${url}/api/v1/availability?kind=${kind}&from=${date}&to=${date}`);
    const body = await response.json();
    const rooms = body.items.slice(offset);
    for (const room of rooms) {
      const detail = await (await fetch(`${url}/api/v1/rooms/${room.room_id}`)).json();
      if (detail.uses_lottery || detail.requires_group || detail.parent_room_id) continue;
      for (let i = 0; i + 1 < room.slots.length; i++) {
        if (room.slots[i].ends_at === room.slots[i + 1].starts_at) {
          return {
            roomId: room.room_id,
            roomName: room.room_name,
            facilityId: room.facility_id,
            facilityName: room.facility_name,
            date,
            kind,
            slots: [room.slots[i].id, room.slots[i + 1].id],
          };
        }
      }
    }
  }
  throw new Error("no room with two consecutive free slots");
}
