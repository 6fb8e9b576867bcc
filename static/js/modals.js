// One dialog serves every row of a list (reject on the queue, reassign on the team page). The
// button that opens it says which handoff it is about (data-action: where the form posts;
// data-lead: whose name to show; data-rep: the rep who holds it now, who cannot be chosen
// again), and the dialog copies these in as it opens. A form that htmx posts (hx-post) is
// pointed at the same place. Without JavaScript the buttons are plain links to the handoff's
// page, which has the forms inline.
(function () {
  "use strict";

  function prepare(modal, trigger) {
    var form = modal.querySelector("form");
    if (!form) { return; }
    form.action = trigger.dataset.action;
    if (form.hasAttribute("hx-post")) {
      form.setAttribute("hx-post", trigger.dataset.action);
      if (window.htmx) { window.htmx.process(form); }
    }
    form.reset();
    form.querySelectorAll(".is-invalid").forEach(function (field) {
      field.classList.remove("is-invalid");
    });
    form.querySelectorAll(".invalid-feedback, .alert-danger").forEach(function (error) {
      error.remove();
    });
    form.querySelectorAll("select[name=to_rep] option").forEach(function (option) {
      option.disabled = Boolean(trigger.dataset.rep) && option.value === trigger.dataset.rep;
    });
    modal.querySelectorAll("[data-lead-name]").forEach(function (target) {
      target.textContent = trigger.dataset.lead;
    });
  }

  document.querySelectorAll(".modal[data-fill-from-trigger]").forEach(function (modal) {
    modal.addEventListener("show.bs.modal", function (event) {
      if (event.relatedTarget) { prepare(modal, event.relatedTarget); }
    });
    modal.addEventListener("shown.bs.modal", function () {
      var first = modal.querySelector("select, textarea, input:not([type=hidden])");
      if (first) { first.focus(); }
    });
  });
})();
