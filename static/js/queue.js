// The work queue from the keyboard, and its inline forms.
//
// j / k move between leads, Enter opens one, a accepts, l logs an attempt, b opens BANT,
// r rejects, ? shows the list. Shortcuts are off while typing in a field or with a dialog
// open. "Log attempt" opens a small form under its row (copied from one <template> on the
// page), "BANT" loads its panel there through htmx; without JavaScript both are links to the
// handoff's packet, which has the same forms.
(function () {
  "use strict";

  var table = function () { return document.getElementById("queue-table"); };
  var current = null;

  function items() {
    var queue = table();
    return queue ? Array.prototype.slice.call(queue.querySelectorAll("tbody.queue-item")) : [];
  }

  function select(item, focus) {
    if (current && current !== item) { current.classList.remove("is-current"); }
    current = item;
    if (!item) { return; }
    item.classList.add("is-current");
    if (focus !== false) {
      var link = item.querySelector("[data-role=open]");
      if (link) { link.focus({ preventScroll: true }); }
      item.scrollIntoView({ block: "nearest" });
    }
  }

  function move(step) {
    var list = items();
    if (!list.length) { return; }
    var index = current ? list.indexOf(current) : -1;
    if (index === -1) {
      select(list[step > 0 ? 0 : list.length - 1]);
      return;
    }
    select(list[Math.min(Math.max(index + step, 0), list.length - 1)]);
  }

  function expansion(item) {
    return item.querySelector("tr.queue-expand");
  }

  function collapse(item) {
    var row = expansion(item);
    if (!row) { return; }
    row.hidden = true;
    row.querySelector(".expand-slot").replaceChildren();
    item.querySelectorAll("[aria-controls]").forEach(function (button) {
      button.setAttribute("aria-expanded", "false");
    });
    select(item);
  }

  function focusFirstField(container) {
    var field = container.querySelector("select, textarea, input:not([type=hidden])");
    if (field) { field.focus(); }
  }

  function openAttempt(item, trigger) {
    var row = expansion(item);
    var slot = row.querySelector(".expand-slot");
    if (!row.hidden && slot.querySelector(".inline-attempt")) {
      collapse(item);
      return;
    }
    var template = document.getElementById("attempt-template");
    var form = template.content.firstElementChild.cloneNode(true);
    var suffix = "-" + item.dataset.handoff;
    // Each open form needs its own ids, so that every label still points at its own field.
    form.querySelectorAll("[id]").forEach(function (element) { element.id += suffix; });
    form.querySelectorAll("label[for]").forEach(function (label) { label.htmlFor += suffix; });
    form.querySelectorAll("[aria-describedby]").forEach(function (element) {
      element.setAttribute("aria-describedby", element.getAttribute("aria-describedby") + suffix);
    });
    form.action = trigger.dataset.action;
    form.setAttribute("hx-post", trigger.dataset.action);
    slot.replaceChildren(form);
    row.hidden = false;
    trigger.setAttribute("aria-expanded", "true");
    if (window.htmx) { window.htmx.process(form); }
    focusFirstField(form);
  }

  document.addEventListener("click", function (event) {
    var trigger = event.target.closest("#queue-table [data-role=attempt]");
    if (trigger) {
      event.preventDefault();
      var item = trigger.closest("tbody.queue-item");
      select(item, false);
      openAttempt(item, trigger);
      return;
    }
    var closer = event.target.closest("#queue-table [data-role=collapse]");
    if (closer) {
      collapse(closer.closest("tbody.queue-item"));
      return;
    }
    var row = event.target.closest("#queue-table tbody.queue-item");
    if (row) { select(row, false); }
  });

  // The BANT panel arrives in the row's slot; show the slot and put the cursor in it.
  document.body.addEventListener("htmx:afterSwap", function (event) {
    var slot = event.detail.target;
    if (slot && slot.classList && slot.classList.contains("expand-slot")) {
      var row = slot.closest("tr.queue-expand");
      row.hidden = false;
      var item = slot.closest("tbody.queue-item");
      var bant = item.querySelector("[data-role=bant]");
      if (bant) { bant.setAttribute("aria-expanded", "true"); }
      if (!slot.contains(document.activeElement)) { focusFirstField(slot); }
    }
  });

  // A row that htmx replaced is a new element: keep the cursor on it. A row that left the
  // queue hands the cursor to the next one.
  document.body.addEventListener("htmx:oobBeforeSwap", function (event) {
    var target = event.detail.target;
    if (target && target === current) {
      var list = items();
      var next = list[list.indexOf(target) + 1] || list[list.indexOf(target) - 1] || null;
      current = null;
      if (next) { window.setTimeout(function () { select(next); }, 0); }
    }
  });
  document.body.addEventListener("htmx:afterSettle", function (event) {
    var element = event.detail.elt;
    if (element && element.matches && element.matches("tbody.queue-item") && document.body.contains(element)) {
      var focused = document.activeElement;
      if (!focused || focused === document.body || !document.body.contains(focused)) { select(element); }
    }
  });

  var ACTIONS = { a: "accept", l: "attempt", b: "bant", r: "reject" };

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey) { return; }
    var target = event.target;
    if (target.closest("input, select, textarea, [contenteditable]")) {
      if (event.key === "Escape" && current && current.contains(target)) { collapse(current); }
      return;
    }
    if (document.querySelector(".modal.show")) { return; }
    if (event.key === "?") {
      event.preventDefault();
      window.bootstrap.Modal.getOrCreateInstance(document.getElementById("shortcuts-modal")).show();
      return;
    }
    if (event.key === "j" || event.key === "k") {
      event.preventDefault();
      move(event.key === "j" ? 1 : -1);
      return;
    }
    if (event.key === "Escape" && current) {
      collapse(current);
      return;
    }
    var role = ACTIONS[event.key];
    if (!role || !current) { return; }
    var button = current.querySelector("[data-role=" + role + "]");
    if (button) {
      event.preventDefault();
      button.click();
    }
  });
})();
