// Media library: drag-and-drop onto the upload form, a list of the chosen files with
// their sizes (and a warning for those over the plan's limit), and a confirmation
// before deleting. Progressive enhancement: without this script the plain form works.
(function () {
  "use strict";

  function humanSize(bytes) {
    if (bytes < 1024) return bytes + " bytes";
    var units = [["GB", 1073741824], ["MB", 1048576], ["KB", 1024]];
    for (var i = 0; i < units.length; i++) {
      if (bytes >= units[i][1]) {
        var value = bytes / units[i][1];
        return (value >= 10 ? value.toFixed(0) : value.toFixed(1)) + " " + units[i][0];
      }
    }
    return bytes + " bytes";
  }

  function setUpUpload(form) {
    var zone = form.querySelector("[data-media-dropzone]");
    var input = form.querySelector("input[type=file]");
    var list = form.querySelector("[data-media-selected]");
    var submit = form.querySelector("[data-media-submit]");
    if (!zone || !input || !list) return;
    var maxImage = Number(zone.dataset.maxImageBytes) || Infinity;
    var maxVideo = Number(zone.dataset.maxVideoBytes) || Infinity;
    var maxFiles = Number(zone.dataset.maxFiles) || Infinity;

    function showChosen() {
      list.replaceChildren();
      var files = Array.prototype.slice.call(input.files || []);
      if (files.length > maxFiles) {
        var tooMany = document.createElement("li");
        tooMany.className = "text-warning";
        tooMany.textContent = "Choose at most " + maxFiles + " files at a time (you chose " + files.length + ").";
        list.appendChild(tooMany);
      }
      files.forEach(function (file) {
        var item = document.createElement("li");
        var isVideo = (file.type || "").indexOf("video/") === 0;
        var limit = isVideo ? maxVideo : maxImage;
        item.textContent = file.name + " · " + humanSize(file.size);
        if (file.size > limit) {
          item.className = "text-warning";
          item.textContent += " (over your plan's " + humanSize(limit) + " limit for " + (isVideo ? "videos" : "images") + ")";
        }
        list.appendChild(item);
      });
    }

    function highlight(on) {
      zone.classList.toggle("border-success", on);
      zone.classList.toggle("border-secondary-subtle", !on);
    }

    ["dragenter", "dragover"].forEach(function (name) {
      zone.addEventListener(name, function (event) {
        event.preventDefault();
        highlight(true);
      });
    });
    ["dragleave", "drop"].forEach(function (name) {
      zone.addEventListener(name, function (event) {
        event.preventDefault();
        highlight(false);
      });
    });
    zone.addEventListener("drop", function (event) {
      var dropped = event.dataTransfer && event.dataTransfer.files;
      if (!dropped || !dropped.length) return;
      input.files = dropped;
      showChosen();
    });
    input.addEventListener("change", showChosen);
    form.addEventListener("submit", function () {
      if (submit) {
        submit.disabled = true;
        submit.textContent = "Uploading…";
      }
    });
  }

  document.querySelectorAll("form[data-media-upload]").forEach(setUpUpload);
  document.querySelectorAll("form[data-media-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.dataset.mediaConfirm)) event.preventDefault();
    });
  });
})();
