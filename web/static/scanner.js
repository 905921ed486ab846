// The staff scanner (受付). The page works without this script (the form posts to /staff/scan);
// with it:
// - a scan (keyboard-wedge scanner typing the token and Enter, a typed card number, or the
//   camera) calls POST /api/v1/checkins and shows the holder, today's bookings and the result,
//   then clears the input for the next scan;
// - the camera uses the browser's BarcodeDetector where it reads QR codes, otherwise the
//   vendored jsQR (loaded from this site only when needed);
// - while online it keeps the card key set (/.well-known/jwks.json) and the revocation list in
//   localStorage; offline it checks a token's Ed25519 signature with WebCrypto against them,
//   its expiry and the list, and queues the check-in (localStorage, each with its own
//   client_id); the queue goes to POST /api/v1/checkins/sync when the connection is back, and
//   the server records each client_id once, so sending twice never checks in twice.
// Where WebCrypto has no Ed25519 (older Chromium), offline scans are queued unchecked and the
// page says so; the server checks them when they are sent.
(function () {
  "use strict";
  var QUEUE_KEY = "yoyaku.scanner.queue";
  var KEYS_KEY = "yoyaku.scanner.jwks";
  var REVOKED_KEY = "yoyaku.scanner.revocations";
  var SAVED_AT_KEY = "yoyaku.scanner.saved_at";
  // The server accepts this much clock difference (checkin.token_leeway_seconds).
  var LEEWAY_S = 300;
  var strings = {};
  var form, input, facilityId, result, fieldError;
  var syncing = false;

  function t(key, arg) {
    var text = strings[key] || key;
    return arg === undefined ? text : text.replace("{0}", String(arg));
  }

  function csrf() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : "";
  }

  function load(key) {
    try {
      return JSON.parse(window.localStorage.getItem(key));
    } catch (e) {
      return null;
    }
  }

  function store(key, value) {
    try {
      window.localStorage.setItem(key, JSON.stringify(value));
    } catch (e) {
      // Storage full or disabled: the scanner still works online.
    }
  }

  function newId() {
    if (window.crypto && window.crypto.randomUUID) return window.crypto.randomUUID();
    return Date.now().toString(36) + "-" + Math.random().toString(36).slice(2, 12);
  }

  function b64u(text) {
    var s = text.replace(/-/g, "+").replace(/_/g, "/");
    while (s.length % 4) s += "=";
    var bin = window.atob(s);
    var out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  }

  function jsonPart(part) {
    return JSON.parse(new TextDecoder().decode(b64u(part)));
  }

  function isCardNumber(code) {
    return /^[0-9 -]+$/.test(code) && /[0-9]/.test(code);
  }

  function luhnOk(digits) {
    if (!/^[0-9]{10}$/.test(digits)) return false;
    var sum = 0;
    for (var i = 0; i < 9; i++) {
      var d = Number(digits[8 - i]);
      if (i % 2 === 0) {
        d *= 2;
        if (d > 9) d -= 9;
      }
      sum += d;
    }
    return (10 - (sum % 10)) % 10 === Number(digits[9]);
  }

  function hhmm(date) {
    return new Intl.DateTimeFormat("en-GB", {
      timeZone: "Asia/Tokyo", hour: "2-digit", minute: "2-digit", hour12: false,
    }).format(date);
  }

  // ---- showing results -----------------------------------------------------------------------

  function el(tag, text, className) {
    var node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = text;
    if (className) node.className = className;
    return node;
  }

  function clearError() {
    fieldError.hidden = true;
    fieldError.textContent = "";
    input.removeAttribute("aria-invalid");
  }

  function showError(code, fallback) {
    // The refused text stays to be corrected, selected so that the next scan replaces it
    // (a keyboard-wedge scanner types into whatever has focus).
    input.focus();
    input.select();
    var key = "scan.error." + code;
    var text = strings[key] ? t(key) : (fallback || t("scan.error.invalid_input"));
    fieldError.textContent = text;
    fieldError.hidden = false;
    input.setAttribute("aria-invalid", "true");
    var box = el("div", null, "scan-outcome tone-error");
    box.setAttribute("data-code", code || "");
    var p = el("p", null, "scan-message");
    p.appendChild(el("strong", text));
    box.appendChild(p);
    result.replaceChildren(box);
  }

  function showNote(text, tone) {
    var box = el("div", null, "scan-outcome tone-" + (tone || "info"));
    var p = el("p", null, "scan-message");
    p.appendChild(el("strong", text));
    box.appendChild(p);
    result.replaceChildren(box);
  }

  function message(answer) {
    switch (answer.result) {
      case "checked_in": return [t("scan.result.checked_in"), "ok"];
      case "already_checked_in":
        return [answer.already_checked_in_at
          ? t("scan.result.already_at", answer.already_checked_in_at)
          : t("scan.result.already"), "info"];
      case "payment_due": return [t("scan.result.payment_due"), "warn"];
      case "not_yet":
        return [answer.opens_at
          ? t("scan.result.not_yet_at", hhmm(new Date(answer.opens_at)))
          : t("scan.result.not_yet"), "info"];
      case "no_booking": return [t("scan.result.no_booking"), "warn"];
      default: return [answer.message || "", "warn"];
    }
  }

  function showResult(answer) {
    clearError();
    var lang = document.documentElement.lang;
    var said = message(answer);
    var box = el("div", null, "scan-outcome tone-" + said[1]);
    var p = el("p", null, "scan-message");
    p.appendChild(el("strong", said[0]));
    box.appendChild(p);
    var who = el("p", t("scan.holder") + ": ");
    who.appendChild(el("span", answer.holder.name, "scan-holder"));
    if (answer.holder.card_number) who.appendChild(document.createTextNode(" (" + answer.holder.card_number + ")"));
    box.appendChild(who);
    if (!answer.bookings.length) {
      box.appendChild(el("p", t("scan.no_bookings_today")));
    } else {
      var table = el("table");
      table.appendChild(el("caption", t("scan.bookings_today")));
      var head = el("tr");
      ["scan.col_room", "scan.col_time", "scan.col_state", "scan.col_checked_in"].forEach(function (k) {
        var th = el("th", t(k));
        th.scope = "col";
        head.appendChild(th);
      });
      var thead = el("thead");
      thead.appendChild(head);
      table.appendChild(thead);
      var tbody = el("tbody");
      answer.bookings.forEach(function (b) {
        var row = el("tr");
        row.appendChild(el("td", lang === "en" && b.room_name_en ? b.room_name_en : b.room_name));
        row.appendChild(el("td", hhmm(new Date(b.starts_at)) + "–" + hhmm(new Date(b.ends_at))));
        row.appendChild(el("td", t("booking_state." + b.state)));
        row.appendChild(el("td", b.checked_in_at ? hhmm(new Date(b.checked_in_at)) : ""));
        tbody.appendChild(row);
      });
      table.appendChild(tbody);
      box.appendChild(table);
    }
    result.replaceChildren(box);
  }

  // ---- the offline queue ---------------------------------------------------------------------

  function queue() {
    return load(QUEUE_KEY) || [];
  }

  function showQueue(extra) {
    var status = document.getElementById("queue-status");
    var n = queue().length;
    var text = t("scan.queue_count", n);
    status.textContent = extra ? extra + " " + text : text;
    document.getElementById("connection-status").textContent =
      navigator.onLine ? t("scan.online") : t("scan.offline");
  }

  function sync() {
    var items = queue();
    if (!items.length || !navigator.onLine || syncing) {
      showQueue();
      return Promise.resolve();
    }
    syncing = true;
    var batch = items.slice(0, 200).map(function (i) {
      var copy = {};
      Object.keys(i).forEach(function (k) { if (k !== "cid") copy[k] = i[k]; });
      return copy;
    });
    return fetch("/api/v1/checkins/sync", {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf() },
      body: JSON.stringify({ items: batch }),
    })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (answer) {
        if (!answer) return;
        var done = answer.items.map(function (i) { return i.client_id; });
        store(QUEUE_KEY, queue().filter(function (i) { return done.indexOf(i.client_id) < 0; }));
        var refused = answer.items.filter(function (i) { return i.status === "refused"; });
        var note = t("scan.synced", done.length);
        refused.forEach(function (i) {
          var code = i.error && i.error.code;
          note += " " + (strings["scan.error." + code] ? t("scan.error." + code) : (i.error && i.error.message) || "");
        });
        showQueue(note);
      })
      .catch(function () { showQueue(); })
      .then(function () { syncing = false; });
  }

  function refreshKeys() {
    if (!navigator.onLine) return;
    Promise.all([
      fetch("/.well-known/jwks.json").then(function (r) { return r.ok ? r.json() : null; }),
      fetch("/api/v1/checkins/revocations", { credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.json() : null; }),
    ]).then(function (got) {
      if (got[0]) store(KEYS_KEY, got[0]);
      if (got[1]) store(REVOKED_KEY, got[1]);
      if (got[0] && got[1]) store(SAVED_AT_KEY, new Date().toISOString());
      showKeys();
    }, function () { showKeys(); });
  }

  function ed25519Available() {
    if (!(window.crypto && window.crypto.subtle)) return Promise.resolve(false);
    // RFC 8037 A.2's public key: only whether the browser can import Ed25519 keys at all.
    return window.crypto.subtle.importKey(
      "jwk", { kty: "OKP", crv: "Ed25519", x: "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo" },
      { name: "Ed25519" }, false, ["verify"],
    ).then(function () { return true; }, function () { return false; });
  }

  function showKeys() {
    var status = document.getElementById("keys-status");
    var saved = load(SAVED_AT_KEY);
    var text = saved
      ? t("scan.keys_cached", new Date(saved).toLocaleString(document.documentElement.lang, { timeZone: "Asia/Tokyo" }))
      : t("scan.keys_missing");
    ed25519Available().then(function (ok) {
      status.textContent = ok ? text : text + " " + t("scan.no_webcrypto");
    });
  }

  // Check a token without the server: { code: null | refusal code, claims }.
  function verifyOffline(token) {
    var parts = token.split(".");
    var header, claims;
    try {
      if (parts.length !== 3) throw new Error("parts");
      header = jsonPart(parts[0]);
      claims = jsonPart(parts[1]);
    } catch (e) {
      return Promise.resolve({ code: "malformed" });
    }
    if (header.alg !== "EdDSA" || !header.kid || typeof claims.cid !== "number") {
      return Promise.resolve({ code: "malformed" });
    }
    var jwks = load(KEYS_KEY);
    if (!jwks || !jwks.keys) return Promise.resolve({ code: "offline_unverified", claims: claims });
    var jwk = jwks.keys.filter(function (k) { return k.kid === header.kid; })[0];
    if (!jwk) return Promise.resolve({ code: "card_unknown_key" });
    var afterSignature = function () {
      var now = Date.now() / 1000;
      if (now > claims.exp + LEEWAY_S) return { code: "card_token_expired" };
      var revoked = load(REVOKED_KEY);
      var listed = revoked && revoked.items && revoked.items.some(function (i) {
        return i.card_id === claims.cid && i.serial === claims.v;
      });
      if (listed) return { code: "card_revoked" };
      return { code: null, claims: claims };
    };
    if (!(window.crypto && window.crypto.subtle)) {
      var unchecked = afterSignature();
      return Promise.resolve(unchecked.code ? unchecked : { code: "offline_unverified", claims: claims });
    }
    return window.crypto.subtle
      .importKey("jwk", { kty: "OKP", crv: "Ed25519", x: jwk.x }, { name: "Ed25519" }, false, ["verify"])
      .then(function (key) {
        return window.crypto.subtle
          .verify({ name: "Ed25519" }, key, b64u(parts[2]), new TextEncoder().encode(parts[0] + "." + parts[1]))
          .then(function (ok) { return ok ? afterSignature() : { code: "tampered" }; });
      }, function () {
        // No Ed25519 in this browser's WebCrypto: the dates and the list still count.
        var unchecked = afterSignature();
        return unchecked.code ? unchecked : { code: "offline_unverified", claims: claims };
      })
      .catch(function () { return { code: "tampered" }; });
  }

  function queuedAlready(item) {
    var since = Date.now() - 12 * 3600 * 1000;
    return queue().filter(function (q) {
      return q.facility_id === item.facility_id && Date.parse(q.scanned_at) > since &&
        ((item.cid !== undefined && q.cid === item.cid) || (item.card_number && q.card_number === item.card_number));
    })[0];
  }

  function enqueue(item, note) {
    var earlier = queuedAlready(item);
    if (earlier) {
      showNote(t("scan.result.already_at", hhmm(new Date(earlier.scanned_at))), "info");
      return;
    }
    var items = queue();
    items.push(item);
    store(QUEUE_KEY, items);
    showNote(note, "ok");
    showQueue();
  }

  // Check and queue a scan offline; resolves to whether it was taken (queued, or already
  // queued), false when it was refused.
  function offlineScan(body, scannedAt) {
    clearError();
    var item = { client_id: body.client_id, facility_id: body.facility_id, scanned_at: scannedAt.toISOString() };
    if (body.card_number) {
      var digits = body.card_number.replace(/[ -]/g, "");
      if (!luhnOk(digits)) {
        showError("invalid_input");
        return Promise.resolve(false);
      }
      item.card_number = digits;
      enqueue(item, t("scan.offline_queued_number", digits));
      return Promise.resolve(true);
    }
    item.token = body.token;
    return verifyOffline(body.token).then(function (check) {
      if (check.code && check.code !== "offline_unverified") {
        showError(check.code);
        return false;
      }
      // Kept beside the scan, for spotting the same card scanned twice while offline; it is
      // removed before the queue is sent.
      item.cid = check.claims.cid;
      enqueue(item, check.code ? t("scan.error.offline_unverified") : t("scan.offline_queued", check.claims.cid));
      return true;
    });
  }

  // ---- scanning ------------------------------------------------------------------------------

  function scan(code) {
    code = code.trim();
    if (!code) {
      showError("empty");
      return Promise.resolve();
    }
    var body = { facility_id: facilityId, client_id: newId() };
    if (isCardNumber(code)) body.card_number = code; else body.token = code;
    var scannedAt = new Date();
    var done = function () {
      input.value = "";
      input.focus();
    };
    var offlineDone = function (queued) {
      if (queued) done();
    };
    if (!navigator.onLine) return offlineScan(body, scannedAt).then(offlineDone);
    return fetch("/api/v1/checkins", {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf() },
      body: JSON.stringify(body),
    }).then(function (response) {
      return response.json().then(function (json) {
        if (response.ok) {
          showResult(json);
          done();
        } else {
          var error = json && json.error ? json.error : {};
          showError(error.code, error.message);
        }
        sync();
      });
    }, function () {
      // The network failed on the way: treat it as offline (the same client_id, so if the
      // server did record it, sending it again is a duplicate).
      return offlineScan(body, scannedAt).then(offlineDone);
    });
  }

  // ---- the camera ----------------------------------------------------------------------------

  var stream = null;
  var timer = null;

  function loadScript(src) {
    return new Promise(function (resolve, reject) {
      if (window.jsQR) return resolve();
      var s = document.createElement("script");
      s.src = src;
      s.onload = resolve;
      s.onerror = reject;
      document.head.appendChild(s);
    });
  }

  function jsqrDetector(video) {
    return loadScript(form.getAttribute("data-jsqr")).then(function () {
      var canvas = document.createElement("canvas");
      var ctx = canvas.getContext("2d", { willReadFrequently: true });
      return function () {
        var w = video.videoWidth;
        var h = video.videoHeight;
        if (!w || !h) return Promise.resolve(null);
        canvas.width = w;
        canvas.height = h;
        ctx.drawImage(video, 0, 0, w, h);
        var found = window.jsQR(ctx.getImageData(0, 0, w, h).data, w, h, { inversionAttempts: "dontInvert" });
        return Promise.resolve(found ? found.data : null);
      };
    });
  }

  function detector(video) {
    if (!("BarcodeDetector" in window)) return jsqrDetector(video);
    return window.BarcodeDetector.getSupportedFormats().then(function (formats) {
      if (formats.indexOf("qr_code") < 0) return jsqrDetector(video);
      var d = new window.BarcodeDetector({ formats: ["qr_code"] });
      return function () {
        return d.detect(video).then(function (codes) { return codes.length ? codes[0].rawValue : null; });
      };
    }, function () { return jsqrDetector(video); });
  }

  function stopCamera() {
    if (timer) window.clearTimeout(timer);
    timer = null;
    if (stream) stream.getTracks().forEach(function (track) { track.stop(); });
    stream = null;
    var video = document.getElementById("camera-video");
    video.hidden = true;
    video.srcObject = null;
    document.getElementById("camera-start").hidden = false;
    document.getElementById("camera-stop").hidden = true;
  }

  function startCamera() {
    var video = document.getElementById("camera-video");
    navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false }).then(function (s) {
      stream = s;
      video.srcObject = s;
      video.hidden = false;
      video.play();
      document.getElementById("camera-start").hidden = true;
      var stop = document.getElementById("camera-stop");
      stop.hidden = false;
      stop.focus();
      return detector(video).then(function (detect) {
        var tick = function () {
          if (!stream) return;
          detect().then(function (value) {
            if (value && stream) {
              stopCamera();
              input.value = value;
              scan(value);
            } else {
              timer = window.setTimeout(tick, 250);
            }
          }, function () { timer = window.setTimeout(tick, 500); });
        };
        tick();
      });
    }).catch(function () {
      stopCamera();
      showError("camera");
    });
  }

  // ---- start ---------------------------------------------------------------------------------

  document.addEventListener("DOMContentLoaded", function () {
    form = document.getElementById("scan-form");
    if (!form) return;
    input = document.getElementById("code");
    result = document.getElementById("scan-result");
    fieldError = document.getElementById("code-error");
    facilityId = Number(form.getAttribute("data-facility-id"));
    document.querySelectorAll("#scan-strings [data-key]").forEach(function (span) {
      strings[span.getAttribute("data-key")] = span.textContent;
    });
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      scan(input.value);
    });
    if (navigator.mediaDevices && navigator.mediaDevices.getUserMedia) {
      document.getElementById("camera").hidden = false;
      document.getElementById("camera-start").addEventListener("click", startCamera);
      document.getElementById("camera-stop").addEventListener("click", stopCamera);
    }
    document.getElementById("offline").hidden = false;
    document.getElementById("sync-now").addEventListener("click", function () { sync(); });
    window.addEventListener("online", function () {
      showQueue();
      refreshKeys();
      sync();
    });
    window.addEventListener("offline", function () { showQueue(); });
    showQueue();
    showKeys();
    refreshKeys();
    sync();
  });
})();
