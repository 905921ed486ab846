// Yoyaku's only script of its own. Every page works without it; with it (and htmx), forms and
// links marked hx-get swap one region of the page instead of loading a new one. Then:
// - the CSRF token goes in the X-CSRF-Token header (cookie sessions need it for every write);
// - focus moves to the new region's heading, so keyboard and screen-reader users land where
//   the content changed instead of staying on a control that may have disappeared;
// - the region's summary (its [data-announce] element) is read out through the aria-live region.
(function () {
  "use strict";
  document.addEventListener("htmx:configRequest", function (event) {
    var meta = document.querySelector('meta[name="csrf-token"]');
    if (meta && meta.content) {
      event.detail.headers["X-CSRF-Token"] = meta.content;
    }
  });
  document.addEventListener("htmx:afterSettle", function (event) {
    var target = event.detail && event.detail.target;
    var region = target && target.id ? document.getElementById(target.id) : null;
    if (!region) {
      return;
    }
    // A region updated while the person is filling in a form (the booking's price) keeps
    // focus where it is and is only announced.
    if (!region.hasAttribute("data-keep-focus")) {
      var focus = region.querySelector("[data-focus]") || region;
      if (!focus.hasAttribute("tabindex")) {
        focus.setAttribute("tabindex", "-1");
      }
      focus.focus();
    }
    var live = document.getElementById("live");
    var summary = region.querySelector("[data-announce]");
    if (live) {
      // Clear first: the same text twice in a row would not be announced again.
      live.textContent = "";
      window.setTimeout(function () {
        live.textContent = summary ? summary.textContent.replace(/\s+/g, " ").trim() : "";
      }, 100);
    }
  });
  // Signing out deletes the card the service worker kept for offline use (card-sw.js), so the
  // next person on this device cannot open it; then the form is sent as usual.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form || form.getAttribute("action") !== "/logout" || !window.caches || form.dataset.cleared) {
      return;
    }
    event.preventDefault();
    window.caches.keys().then(function (names) {
      return Promise.all(names.filter(function (name) {
        return name.indexOf("yoyaku-card-") === 0;
      }).map(function (name) { return window.caches.delete(name); }));
    }).catch(function () {}).then(function () {
      form.dataset.cleared = "1";
      form.submit();
    });
  });
  document.addEventListener("htmx:responseError", function () {
    var live = document.getElementById("live");
    var message = document.querySelector('meta[name="request-failed"]');
    if (live && message) {
      live.textContent = message.content;
    }
  });
})();
