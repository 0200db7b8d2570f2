// Documents being read: ask the server every few seconds and reload the page once the status changes.
// The element with data-document-poll names the JSON URL and the value the page was rendered with.
(function () {
  "use strict";
  var element = document.querySelector("[data-document-poll]");
  if (!element) {
    return;
  }
  var url = element.getAttribute("data-document-poll");
  var shown = element.getAttribute("data-document-poll-value");
  var attempts = 0;

  function later() {
    attempts += 1;
    // Every 2 s for the first minute, then every 10 s; give up after about an hour.
    if (attempts > 360) {
      return;
    }
    window.setTimeout(check, attempts < 30 ? 2000 : 10000);
  }

  function check() {
    fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (response) {
        return response.ok ? response.json() : null;
      })
      .then(function (data) {
        if (data && data.value !== shown) {
          window.location.reload();
        } else {
          later();
        }
      })
      .catch(later);
  }

  later();
})();
