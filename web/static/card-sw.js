// The card page's service worker (registered by card.js with the scope /card, so it controls
// the card pages only). What it keeps, in the cache "yoyaku-card-v1":
// - the last card page (/card) the server gave, with its signed token, so the card opens without
//   a signal. Network first: whenever the phone is online the page, and with it the token, is
//   fresh; the cached copy is only used when the network fails.
// - the static files those pages use (/static/<hash>/…, immutable, so cache first is safe).
// Nothing else: every other request, and every other page, goes to the network untouched.
// When the server answers /card with a redirect (signed out) or a refusal, the copy is deleted.
// Signing out also deletes the whole cache (app.js).
"use strict";

const CACHE = "yoyaku-card-v1";
const CARD = "/card";

self.addEventListener("install", (event) => {
  // Keep the card at once: the page that registered this worker was loaded before it existed.
  event.waitUntil(
    (async () => {
      try {
        const response = await fetch(CARD, { credentials: "same-origin", redirect: "manual" });
        if (response.ok && response.type === "basic") {
          await (await caches.open(CACHE)).put(CARD, response);
        }
      } catch (offline) {
        // Installed offline: the card is kept on the next visit online.
      }
      await self.skipWaiting();
    })(),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    (async () => {
      for (const name of await caches.keys()) {
        if (name.startsWith("yoyaku-card-") && name !== CACHE) await caches.delete(name);
      }
      await self.clients.claim();
    })(),
  );
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (url.pathname === CARD) {
    event.respondWith(cardPage(request));
  } else if (url.pathname.startsWith("/static/")) {
    event.respondWith(staticFile(request));
  }
});

async function cardPage(request) {
  const cache = await caches.open(CACHE);
  let response;
  try {
    response = await fetch(request);
  } catch (offline) {
    const saved = await cache.match(CARD);
    return saved || Response.error();
  }
  if (response.ok && response.type === "basic" && !response.redirected) {
    await cache.put(CARD, response.clone());
  } else if (
    response.type === "opaqueredirect" ||
    response.redirected ||
    response.status === 401 ||
    response.status === 403
  ) {
    // Signed out, or the card was withdrawn: never show the old card again.
    await cache.delete(CARD);
  }
  return response;
}

async function staticFile(request) {
  const cache = await caches.open(CACHE);
  const saved = await cache.match(request);
  if (saved) return saved;
  const response = await fetch(request);
  if (response.ok) await cache.put(request, response.clone());
  return response;
}
