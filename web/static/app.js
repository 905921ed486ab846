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
    var focus = region.querySelector("[data-focus]") || region;
    if (!focus.hasAttribute("tabindex")) {
      focus.setAttribute("tabindex", "-1");
    }
    focus.focus();
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
  document.addEventListener("htmx:responseError", function () {
    var live = document.getElementById("live");
    var message = document.querySelector('meta[name="request-failed"]');
    if (live && message) {
      live.textContent = message.content;
    }
  });
})();
