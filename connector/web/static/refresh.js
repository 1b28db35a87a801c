// Refreshes the figures of a page without a full reload: every element with data-refresh="URL"
// fetches that URL every data-seconds seconds and takes its HTML. A fragment with data-final
// stops it (a finished sync); a 401 (the session ended) reloads the page, which leads to login.
// No inline script anywhere: the page's Content-Security-Policy allows scripts from this file only.
(function () {
  "use strict";

  function follow(box) {
    var url = box.getAttribute("data-refresh");
    var seconds = parseInt(box.getAttribute("data-seconds"), 10) || 30;
    if (box.querySelector("[data-final]")) {
      return;
    }
    function again() {
      window.setTimeout(tick, seconds * 1000);
    }
    function tick() {
      fetch(url, { headers: { "X-Requested-With": "fetch" }, credentials: "same-origin", cache: "no-store" })
        .then(function (response) {
          if (response.status === 401) {
            window.location.reload();
            return null;
          }
          return response.ok ? response.text() : null;
        })
        .then(function (html) {
          if (html === null) {
            again();
            return;
          }
          box.innerHTML = html;
          box.setAttribute("data-refreshed", new Date().toISOString());
          onceOnly(box);
          if (!box.querySelector("[data-final]")) {
            again();
          }
        })
        .catch(again);
    }
    again();
  }

  // A form marked data-once is sent once: its button is disabled after the first press.
  function onceOnly(root) {
    root.querySelectorAll("form[data-once]").forEach(function (form) {
      form.addEventListener("submit", function () {
        form.querySelectorAll("button").forEach(function (button) {
          button.disabled = true;
          button.textContent = "Bezig…";
        });
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    onceOnly(document);
    document.querySelectorAll("[data-refresh]").forEach(follow);
  });
})();
