/*
 * The composer's live checks: as one types, ask the server how each chosen account's platform counts
 * the post (publishing:post_validate runs each provider's own validate()), show "231 / 280" per account
 * (red when over), the problems and warnings, and where the text would be cut; disable Schedule, Add to
 * queue and Post now while anything blocks. Also: per-account panels follow the chosen accounts, and the
 * template picker inserts a filled-in template at the cursor.
 *
 * Without this script the form still works: the server runs the same checks when it is sent.
 * No inline handlers, no HTML built from strings (CSP-friendly, and the text is the user's).
 */
(function () {
  "use strict";

  var DEBOUNCE_MS = 300;

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) {
      node.className = className;
    }
    if (text !== undefined && text !== null) {
      node.textContent = text;
    }
    return node;
  }

  function setUpChecks(form) {
    var url = form.getAttribute("data-validate-url");
    var panel = document.getElementById("composer-checks");
    var ack = form.querySelector("[name=acknowledge_warnings]");
    var csrf = form.querySelector("[name=csrfmiddlewaretoken]");
    var sending = form.querySelectorAll("[data-sends]");
    var note = form.querySelector("[data-blocking-note]");
    var timer = null;
    var inFlight = null;
    var dirty = false;

    function setBlocked(blocked) {
      Array.prototype.forEach.call(sending, function (button) {
        button.disabled = blocked;
      });
      if (note) {
        note.hidden = !blocked;
      }
    }

    function renderResult(result) {
      var card = el("div", "card mb-2");
      card.dataset.checkFor = result.account_id;
      var body = el("div", "card-body py-2");
      var head = el("div", "d-flex justify-content-between gap-2");
      head.appendChild(el("strong", "small", result.account));
      if (result.max_length) {
        var over = result.length > result.max_length;
        var counter = el(
          "span",
          "small text-nowrap " + (over ? "text-danger fw-bold" : "text-body-secondary"),
          result.length + " / " + result.max_length
        );
        counter.dataset.testid = "counter";
        counter.title = result.platform_name + " counts this post as " + result.length + " characters.";
        head.appendChild(counter);
      }
      body.appendChild(head);
      if (result.issues.length) {
        var list = el("ul", "small mb-0 ps-3");
        result.issues.forEach(function (issue) {
          var item = el("li", issue.blocking ? "text-danger" : "text-warning", issue.message);
          list.appendChild(item);
        });
        body.appendChild(list);
      }
      if (result.text_cut) {
        var shown = el("p", "small mb-0 mt-1 text-body-secondary");
        shown.style.whiteSpace = "pre-wrap";
        shown.appendChild(document.createTextNode(result.text_shown));
        var cut = el("mark", "bg-danger-subtle text-danger-emphasis", result.text_cut);
        cut.title = "Over the limit: " + result.platform_name + " would not take this part.";
        shown.appendChild(cut);
        body.appendChild(shown);
      }
      card.appendChild(body);
      return card;
    }

    function render(data) {
      panel.replaceChildren();
      if (!data.results.length) {
        panel.appendChild(el("p", "small text-body-secondary", "Choose accounts to see how each platform counts the post."));
      }
      data.results.forEach(function (result) {
        panel.appendChild(renderResult(result));
      });
      setBlocked(data.blocking);
      // The warnings are on screen now: sending the form need not stop to show them again.
      if (ack) {
        ack.value = data.warnings ? "True" : "";
      }
    }

    function showError(message) {
      panel.replaceChildren(el("p", "small text-danger", message));
      setBlocked(false); // the server checks again when the form is sent
      if (ack) {
        ack.value = "";
      }
    }

    function check() {
      timer = null;
      dirty = false;
      if (inFlight) {
        inFlight.abort();
      }
      var controller = new AbortController();
      inFlight = controller;
      var body = new FormData(form);
      fetch(url, {
        method: "POST",
        body: body,
        credentials: "same-origin",
        headers: { "X-CSRFToken": csrf ? csrf.value : "", Accept: "application/json" },
        signal: controller.signal
      })
        .then(function (response) {
          return response.json().then(function (data) {
            return { ok: response.ok, data: data };
          });
        })
        .then(function (answer) {
          if (inFlight !== controller) {
            return;
          }
          inFlight = null;
          if (answer.ok) {
            render(answer.data);
          } else {
            showError(answer.data.error || "Could not check the post just now.");
          }
        })
        .catch(function (error) {
          if (error.name !== "AbortError" && inFlight === controller) {
            inFlight = null;
            showError("Could not check the post just now; it is checked again when you send it.");
          }
        });
    }

    function schedule() {
      dirty = true;
      if (ack) {
        ack.value = ""; // what was shown is out of date until the next answer
      }
      if (timer) {
        clearTimeout(timer);
      }
      timer = setTimeout(check, DEBOUNCE_MS);
    }

    form.addEventListener("input", schedule);
    form.addEventListener("change", schedule);
    form.addEventListener("submit", function () {
      if (dirty || inFlight) {
        // Sent before the latest check came back: let the server show any warnings first.
        if (ack) {
          ack.value = "";
        }
      }
    });
    form.composerCheck = schedule;
    if (form.querySelector("[name=accounts]:checked, input[type=hidden][name=accounts]")) {
      check();
    }
  }

  function setUpVariants(form) {
    var boxes = form.querySelectorAll("input[type=checkbox][name=accounts]");
    if (!boxes.length) {
      return; // editing: the post's accounts are fixed and every panel stays
    }
    function sync() {
      Array.prototype.forEach.call(boxes, function (box) {
        var details = form.querySelector('[data-variant-for="' + box.value + '"]');
        if (details) {
          details.hidden = !box.checked;
        }
      });
    }
    Array.prototype.forEach.call(boxes, function (box) {
      box.addEventListener("change", sync);
    });
    sync();
  }

  function setUpTemplates(form) {
    var picker = document.getElementById("template-picker");
    var data = document.getElementById("composer-templates");
    if (!picker || !data) {
      return;
    }
    var templates = JSON.parse(data.textContent);
    var select = picker.querySelector("select[name=template]");
    var fields = picker.querySelector("[data-template-fields]");
    var renderUrl = picker.getAttribute("data-render-url");
    var text = form.querySelector("[name=text]");
    var templateId = form.querySelector("[name=template_id]");
    var domain = form.querySelector("[name=domain]");
    var hint = form.querySelector("[data-template-hint]");

    function chosen() {
      var id = parseInt(select.value, 10);
      return templates.filter(function (template) {
        return template.id === id;
      })[0];
    }

    function showFields() {
      fields.replaceChildren();
      var template = chosen();
      fields.classList.toggle("d-none", !template);
      if (!template) {
        return;
      }
      template.variables.forEach(function (name) {
        var column = el("div", "col-sm-6");
        var label = el("label", "form-label small mb-0", name);
        var input = el("input", "form-control form-control-sm");
        input.id = "tv-" + name;
        input.dataset.variable = name;
        label.htmlFor = input.id;
        column.appendChild(label);
        column.appendChild(input);
        fields.appendChild(column);
      });
      var actions = el("div", "col-12");
      var insert = el("button", "btn btn-sm btn-primary", "Insert into the post");
      insert.type = "button";
      insert.addEventListener("click", function () {
        insertTemplate(template);
      });
      actions.appendChild(insert);
      fields.appendChild(actions);
    }

    function insertTemplate(template) {
      var params = new URLSearchParams();
      Array.prototype.forEach.call(fields.querySelectorAll("[data-variable]"), function (input) {
        params.append("v_" + input.dataset.variable, input.value);
      });
      var url = renderUrl.replace("/0/render/", "/" + template.id + "/render/") + "?" + params.toString();
      fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (response) {
          if (!response.ok) {
            throw new Error("render failed");
          }
          return response.json();
        })
        .then(function (rendered) {
          if (!text.value.trim()) {
            text.value = rendered.text;
          } else {
            var start = text.selectionStart == null ? text.value.length : text.selectionStart;
            var end = text.selectionEnd == null ? start : text.selectionEnd;
            text.setRangeText(rendered.text, start, end, "end");
          }
          templateId.value = String(rendered.id);
          if (domain && rendered.domain && !domain.value) {
            domain.value = rendered.domain;
          }
          if (hint) {
            hint.hidden = !rendered.missing.length;
            hint.textContent = rendered.missing.length
              ? "Still to fill in: " + rendered.missing.map(function (name) { return "{" + name + "}"; }).join(", ")
              : "";
            hint.classList.toggle("text-warning", rendered.missing.length > 0);
          }
          text.focus();
          text.dispatchEvent(new Event("input", { bubbles: true }));
        })
        .catch(function () {
          if (hint) {
            hint.hidden = false;
            hint.textContent = "Could not fill in the template just now. Try again, or use the Use button.";
          }
        });
    }

    // The page's own fields (from a `?template=` visit without script) are replaced by the ones below.
    var serverFields = picker.querySelector("[data-testid=template-variables]");
    if (serverFields) {
      serverFields.remove();
    }
    select.addEventListener("change", showFields);
    picker.addEventListener("submit", function (event) {
      var template = chosen();
      if (template) {
        event.preventDefault();
        insertTemplate(template);
      }
    });
    showFields();
  }

  function start() {
    var form = document.getElementById("composer");
    if (!form) {
      return;
    }
    setUpVariants(form);
    setUpTemplates(form);
    if (form.getAttribute("data-validate-url") && window.fetch) {
      setUpChecks(form);
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
