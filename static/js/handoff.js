// Glue between htmx and the pages, for every page.
//
// htmx swaps the answers it should (see the htmx-config meta tag in base.html). Any other
// failed request (403, 404, 500, or no network) leaves the page as it was, so this says so in
// the message area instead of failing silently. A server answer can ask for a dialog to close
// with the "handoff-dialog-done" event.
(function () {
  "use strict";

  var FAILURES = {
    403: "Your account cannot do that. If you think it should, ask a RevOps admin to check your role.",
    404: "That lead is no longer there. Reload the page to see your current work.",
  };

  function showMessage(text) {
    var area = document.getElementById("messages");
    if (!area) { return; }
    var alert = document.createElement("div");
    alert.className = "alert alert-danger alert-dismissible fade show";
    alert.setAttribute("role", "alert");
    alert.textContent = text + " ";
    var close = document.createElement("button");
    close.type = "button";
    close.className = "btn-close";
    close.setAttribute("data-bs-dismiss", "alert");
    close.setAttribute("aria-label", "Close");
    alert.appendChild(close);
    area.replaceChildren(alert);
  }

  document.body.addEventListener("htmx:responseError", function (event) {
    var xhr = event.detail.xhr;
    if (xhr.getResponseHeader("X-Handoff-Refused") === "session") {
      showMessage("This page is out of date: your session changed since it was opened. Nothing was saved; reload the page and try again.");
      return;
    }
    showMessage(FAILURES[xhr.status] || "Something went wrong (error " + xhr.status + "). Nothing was saved; reload the page and try again.");
  });
  document.body.addEventListener("htmx:sendError", function () {
    showMessage("The server could not be reached. Check your connection and try again.");
  });

  document.body.addEventListener("handoff-dialog-done", function () {
    document.querySelectorAll(".modal.show").forEach(function (modal) {
      var dialog = window.bootstrap && window.bootstrap.Modal.getInstance(modal);
      if (dialog) { dialog.hide(); }
    });
  });
})();
