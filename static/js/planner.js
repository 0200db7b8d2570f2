// The content planner's pages: the live total of the content mix (new plan), and the progress bar (one plan).
// Without JavaScript the form still works (the server checks the total) and the plan page refreshes itself.
(function () {
  "use strict";

  // Content mix: a live total, green at exactly 100%.
  var mixInputs = document.querySelectorAll("input[data-mix]");
  var total = document.getElementById("mix-total");
  function updateTotal() {
    if (!total) {
      return;
    }
    var sum = 0;
    mixInputs.forEach(function (input) {
      sum += parseInt(input.value, 10) || 0;
    });
    total.textContent = sum + "%" + (sum === 100 ? "" : " (must be 100%)");
    total.className = sum === 100 ? "text-success" : "text-danger";
  }
  mixInputs.forEach(function (input) {
    input.addEventListener("input", updateTotal);
  });
  updateTotal();

  // Progress: ask the JSON endpoint every second; reload once the plan is finished (or stalled) to show its posts.
  var section = document.querySelector("[data-plan-progress]");
  if (!section || section.getAttribute("data-plan-finished") === "1") {
    return;
  }
  var url = section.getAttribute("data-plan-progress");
  var bar = section.querySelector("[data-plan-bar]");
  var wrap = section.querySelector("[data-plan-bar-wrap]");
  var status = document.querySelector("[data-plan-status]");
  var errorBox = section.querySelector("[data-plan-error]");
  var failures = 0;
  var polls = 0;

  function setText(selector, value) {
    var element = section.querySelector(selector);
    if (element) {
      element.textContent = String(value);
    }
  }

  function show(data) {
    bar.style.width = data.percent + "%";
    bar.textContent = data.percent + "%";
    wrap.setAttribute("aria-valuenow", String(data.percent));
    setText("[data-plan-done]", data.done);
    setText("[data-plan-total]", data.total);
    setText("[data-plan-failed]", data.failed);
    setText("[data-plan-retries]", data.retries);
    if (status) {
      status.textContent = data.status_label;
    }
    if (errorBox) {
      errorBox.textContent = data.error || "";
      errorBox.classList.toggle("d-none", !data.error);
    }
  }

  function later() {
    polls += 1;
    // Every second for ten minutes, then every ten seconds; after an hour the page stops asking.
    if (polls > 960) {
      return;
    }
    window.setTimeout(poll, polls < 600 && failures < 5 ? 1000 : 10000);
  }

  function poll() {
    fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin", cache: "no-store" })
      .then(function (response) {
        return response.ok ? response.json() : null;
      })
      .then(function (data) {
        if (!data) {
          failures += 1;
          later();
          return;
        }
        failures = 0;
        show(data);
        if (data.finished || data.stalled) {
          window.location.reload();
          return;
        }
        later();
      })
      .catch(function () {
        failures += 1;
        later();
      });
  }

  later();
})();
