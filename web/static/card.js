// The card page: registers the service worker (card-sw.js, scope /card) that keeps the card for
// offline use, and keeps the token fresh: whenever the phone comes back online, and every ten
// minutes while the page is open and online, it fetches /card again (through the worker, which
// stores the new copy) and swaps in the new QR, number and "last refreshed" time. Offline, it
// says that the saved card is shown. On the printable card, it shows a Print button.
(function () {
  "use strict";
  var REFRESH_MS = 10 * 60 * 1000;

  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register("/card-sw.js", { scope: "/card" }).catch(function () {
      // No worker (private mode, an old browser): the page still works online.
    });
  }

  function status(text) {
    var el = document.getElementById("card-status");
    if (el) el.textContent = text || "";
  }

  function showOffline() {
    var card = document.getElementById("card");
    if (card && !navigator.onLine) status(card.getAttribute("data-offline-note"));
  }

  function refresh() {
    var card = document.getElementById("card");
    if (!card || !navigator.onLine || card.classList.contains("printable")) return;
    fetch("/card", { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (response) {
        if (response.redirected || !response.ok) return null;
        return response.text();
      })
      .then(function (html) {
        if (!html) return;
        var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("card");
        if (fresh) {
          card.replaceWith(document.importNode(fresh, true));
          status("");
        }
      })
      .catch(showOffline);
  }

  document.addEventListener("DOMContentLoaded", function () {
    showOffline();
    var print = document.getElementById("print-card");
    if (print) {
      print.hidden = false;
      print.addEventListener("click", function () {
        window.print();
      });
    }
    window.addEventListener("online", refresh);
    window.addEventListener("offline", showOffline);
    window.setInterval(refresh, REFRESH_MS);
  });
})();
