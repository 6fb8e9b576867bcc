// One reject dialog and one attempt dialog serve every row of a list. The button that opens a
// dialog says which handoff it is about (data-action: where the form posts; data-lead: whose
// name to show), and the dialog copies both in as it opens. Without JavaScript the same
// buttons are plain links to the handoff's page, which has the forms inline.
(function () {
  "use strict";

  document.querySelectorAll(".modal[data-fill-from-trigger]").forEach(function (modal) {
    modal.addEventListener("show.bs.modal", function (event) {
      var trigger = event.relatedTarget;
      if (!trigger) { return; }
      var form = modal.querySelector("form");
      form.action = trigger.dataset.action;
      form.reset();
      form.querySelectorAll(".is-invalid").forEach(function (field) {
        field.classList.remove("is-invalid");
      });
      modal.querySelectorAll("[data-lead-name]").forEach(function (target) {
        target.textContent = trigger.dataset.lead;
      });
    });
    modal.addEventListener("shown.bs.modal", function () {
      var first = modal.querySelector("select, textarea, input:not([type=hidden])");
      if (first) { first.focus(); }
    });
  });
})();
