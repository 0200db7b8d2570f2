// The AI generation page: show the creativity value as the slider moves, and say "Writing…" while a request runs.
(function () {
  "use strict";

  var slider = document.querySelector('input[type="range"][name="creativity"]');
  var output = document.getElementById("creativity-value");
  if (slider && output) {
    var show = function () { output.textContent = Number(slider.value).toFixed(1); };
    slider.addEventListener("input", show);
    show();
  }

  // A model can take seconds: disable the buttons so a second click does not send (and bill) the request twice.
  document.querySelectorAll("form.js-busy-form").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      var submitter = event.submitter;
      if (submitter && submitter.name) {
        // Disabled buttons are not submitted: carry the chosen action in a hidden field.
        var carry = document.createElement("input");
        carry.type = "hidden";
        carry.name = submitter.name;
        carry.value = submitter.value;
        form.appendChild(carry);
      }
      form.querySelectorAll("button[type=submit]").forEach(function (button) { button.disabled = true; });
      var note = form.querySelector(".js-busy-note");
      if (note) { note.classList.remove("d-none"); }
    });
  });
})();
