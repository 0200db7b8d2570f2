/*
 * A small emoji picker: a built-in set of common emoji by category, inserted at the cursor.
 *
 * Markup: <div data-emoji-picker data-emoji-target="<textarea id>"><button data-emoji-toggle hidden>…</button></div>
 * The button is hidden until this script runs, so pages without JavaScript show no dead control.
 * Keyboard: the button opens the panel; arrow keys move between emoji (Home/End too), Enter or Space
 * inserts one, Escape closes the panel and returns to the button. No inline handlers (CSP-friendly).
 */
(function () {
  "use strict";

  var CATEGORIES = [
    ["Smileys", [
      ["😀", "grinning face"], ["😃", "smiling face with big eyes"], ["😄", "smiling face with smiling eyes"],
      ["😁", "beaming face"], ["😆", "laughing"], ["😅", "grinning face with sweat"], ["😂", "tears of joy"],
      ["🙂", "slightly smiling face"], ["😉", "winking face"], ["😊", "smiling face"], ["😍", "heart eyes"],
      ["🤩", "star-struck"], ["😎", "sunglasses"], ["🤔", "thinking face"], ["😮", "surprised"],
      ["🥳", "partying face"], ["😢", "crying face"], ["😭", "loudly crying"], ["😡", "angry face"], ["🤯", "mind blown"]
    ]],
    ["People", [
      ["👍", "thumbs up"], ["👎", "thumbs down"], ["👏", "clapping hands"], ["🙌", "raising hands"],
      ["🙏", "folded hands"], ["💪", "flexed biceps"], ["👋", "waving hand"], ["🤝", "handshake"],
      ["✌️", "victory hand"], ["👉", "pointing right"], ["👇", "pointing down"], ["👀", "eyes"],
      ["🧠", "brain"], ["🧑‍💻", "technologist"], ["👩‍🚀", "astronaut"], ["🤷", "shrug"]
    ]],
    ["Nature", [
      ["🌱", "seedling"], ["🌿", "herb"], ["🌸", "cherry blossom"], ["🌻", "sunflower"], ["🌳", "tree"],
      ["🍀", "four leaf clover"], ["🔥", "fire"], ["🌈", "rainbow"], ["☀️", "sun"], ["🌙", "crescent moon"],
      ["⭐", "star"], ["⚡", "lightning"], ["❄️", "snowflake"], ["🌊", "wave"], ["🐶", "dog"], ["🐱", "cat"]
    ]],
    ["Food", [
      ["☕", "coffee"], ["🍵", "tea"], ["🍕", "pizza"], ["🍔", "burger"], ["🌮", "taco"], ["🍣", "sushi"],
      ["🥗", "salad"], ["🍎", "apple"], ["🍓", "strawberry"], ["🥑", "avocado"], ["🍩", "doughnut"],
      ["🎂", "birthday cake"], ["🍪", "cookie"], ["🍿", "popcorn"], ["🍷", "wine"], ["🥂", "clinking glasses"]
    ]],
    ["Activities", [
      ["🎉", "party popper"], ["🎊", "confetti"], ["🎁", "gift"], ["🏆", "trophy"], ["🥇", "gold medal"],
      ["🎯", "bullseye"], ["🎮", "video game"], ["🎨", "palette"], ["🎵", "music note"], ["🎬", "clapper board"],
      ["📸", "camera with flash"], ["⚽", "soccer ball"], ["🏀", "basketball"], ["🏃", "runner"], ["🧘", "yoga"]
    ]],
    ["Travel", [
      ["🚀", "rocket"], ["✈️", "airplane"], ["🚗", "car"], ["🚲", "bicycle"], ["🏠", "house"],
      ["🏢", "office building"], ["🌍", "globe"], ["🗺️", "map"], ["🏖️", "beach"], ["⛰️", "mountain"],
      ["🗽", "statue of liberty"], ["🎡", "ferris wheel"]
    ]],
    ["Objects", [
      ["💡", "light bulb"], ["📈", "chart increasing"], ["📉", "chart decreasing"], ["📊", "bar chart"],
      ["💰", "money bag"], ["💸", "money with wings"], ["💻", "laptop"], ["📱", "mobile phone"], ["⌚", "watch"],
      ["📅", "calendar"], ["📌", "pushpin"], ["📝", "memo"], ["📣", "megaphone"], ["🔔", "bell"],
      ["🔗", "link"], ["🛠️", "tools"], ["🔒", "lock"], ["📦", "package"], ["🧩", "puzzle piece"]
    ]],
    ["Symbols", [
      ["❤️", "red heart"], ["💙", "blue heart"], ["💚", "green heart"], ["💜", "purple heart"],
      ["✨", "sparkles"], ["💯", "hundred points"], ["✅", "check mark"], ["❌", "cross mark"],
      ["⚠️", "warning"], ["❗", "exclamation mark"], ["❓", "question mark"], ["➡️", "right arrow"],
      ["🔝", "top arrow"], ["🆕", "new button"], ["🔴", "red circle"], ["🟢", "green circle"]
    ]]
  ];

  function insertAtCursor(field, text) {
    var start = field.selectionStart == null ? field.value.length : field.selectionStart;
    var end = field.selectionEnd == null ? start : field.selectionEnd;
    field.setRangeText(text, start, end, "end");
    field.dispatchEvent(new Event("input", { bubbles: true }));
  }

  function setUp(root) {
    var toggle = root.querySelector("[data-emoji-toggle]");
    var field = document.getElementById(root.getAttribute("data-emoji-target"));
    if (!toggle || !field) {
      return;
    }
    var panelId = "emoji-panel-" + field.id;
    var panel = document.createElement("div");
    panel.id = panelId;
    panel.className = "card shadow position-absolute end-0 mt-1 p-2";
    panel.setAttribute("role", "dialog");
    panel.setAttribute("aria-label", "Insert an emoji");
    panel.style.zIndex = "1050";
    panel.style.width = "18rem";
    panel.hidden = true;

    var tabs = document.createElement("div");
    tabs.className = "d-flex flex-wrap gap-1 mb-2";
    tabs.setAttribute("role", "group");
    tabs.setAttribute("aria-label", "Categories");
    var grid = document.createElement("div");
    grid.className = "d-flex flex-wrap gap-1";
    grid.setAttribute("role", "group");
    panel.appendChild(tabs);
    panel.appendChild(grid);
    root.appendChild(panel);
    toggle.setAttribute("aria-controls", panelId);
    toggle.hidden = false;

    function emojiButtons() {
      return Array.prototype.slice.call(grid.querySelectorAll("button"));
    }

    function showCategory(index) {
      Array.prototype.forEach.call(tabs.children, function (tab, i) {
        tab.setAttribute("aria-pressed", i === index ? "true" : "false");
        tab.classList.toggle("active", i === index);
      });
      grid.replaceChildren();
      grid.setAttribute("aria-label", CATEGORIES[index][0]);
      CATEGORIES[index][1].forEach(function (entry, i) {
        var button = document.createElement("button");
        button.type = "button";
        button.className = "btn btn-sm btn-outline-secondary border-0 fs-5 lh-1 p-1";
        button.textContent = entry[0];
        button.setAttribute("aria-label", entry[1]);
        button.title = entry[1];
        button.tabIndex = i === 0 ? 0 : -1;
        button.dataset.emoji = entry[0];
        grid.appendChild(button);
      });
    }

    CATEGORIES.forEach(function (category, index) {
      var tab = document.createElement("button");
      tab.type = "button";
      tab.className = "btn btn-sm btn-outline-secondary py-0";
      tab.textContent = category[0];
      tab.addEventListener("click", function () {
        showCategory(index);
        emojiButtons()[0].focus();
      });
      tabs.appendChild(tab);
    });

    function open() {
      showCategory(0);
      panel.hidden = false;
      toggle.setAttribute("aria-expanded", "true");
      emojiButtons()[0].focus();
    }

    function close(returnFocus) {
      panel.hidden = true;
      toggle.setAttribute("aria-expanded", "false");
      if (returnFocus) {
        toggle.focus();
      }
    }

    toggle.addEventListener("click", function () {
      if (panel.hidden) {
        open();
      } else {
        close(false);
      }
    });

    grid.addEventListener("click", function (event) {
      var button = event.target.closest("button[data-emoji]");
      if (!button) {
        return;
      }
      insertAtCursor(field, button.dataset.emoji);
      close(false);
      field.focus();
    });

    grid.addEventListener("keydown", function (event) {
      var buttons = emojiButtons();
      var index = buttons.indexOf(document.activeElement);
      if (index < 0) {
        return;
      }
      var perRow = Math.max(1, Math.round(grid.clientWidth / (buttons[0].offsetWidth + 4)) || 8);
      var next = {
        ArrowRight: index + 1,
        ArrowLeft: index - 1,
        ArrowDown: index + perRow,
        ArrowUp: index - perRow,
        Home: 0,
        End: buttons.length - 1
      }[event.key];
      if (next === undefined) {
        return;
      }
      event.preventDefault();
      next = Math.min(buttons.length - 1, Math.max(0, next));
      buttons[index].tabIndex = -1;
      buttons[next].tabIndex = 0;
      buttons[next].focus();
    });

    panel.addEventListener("keydown", function (event) {
      if (event.key === "Escape") {
        event.preventDefault();
        close(true);
      }
    });

    document.addEventListener("click", function (event) {
      if (!panel.hidden && !root.contains(event.target)) {
        close(false);
      }
    });
  }

  function start() {
    Array.prototype.forEach.call(document.querySelectorAll("[data-emoji-picker]"), setUp);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
