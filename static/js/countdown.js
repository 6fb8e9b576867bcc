// Keeps every "time left" on the page current without a reload.
//
// The server renders the text first, so the page is right without JavaScript; this script
// only refreshes it. Elements opt in with data-due="<ISO 8601 instant>". The body carries the
// server's clock (data-server-now, Unix seconds) so that a wrong clock on the phone or laptop
// does not move anyone's deadline. The wording matches the server's time_left filter.
(function () {
  "use strict";

  var MINUTE = 60, HOUR = 3600, DAY = 86400;
  var DUE_SOON_SECONDS = HOUR;

  var serverNow = Number(document.body.dataset.serverNow) * 1000;
  var skewMs = Number.isFinite(serverNow) ? serverNow - Date.now() : 0;

  function durationText(seconds) {
    seconds = Math.floor(Math.abs(seconds));
    var days = Math.floor(seconds / DAY);
    var hours = Math.floor((seconds % DAY) / HOUR);
    var minutes = Math.floor((seconds % HOUR) / MINUTE);
    if (days) { return days + "d " + hours + "h"; }
    if (hours) { return hours + "h " + String(minutes).padStart(2, "0") + "m"; }
    if (minutes) { return minutes + "m"; }
    return "under a minute";
  }

  function update() {
    var now = Date.now() + skewMs;
    document.querySelectorAll("[data-due]").forEach(function (element) {
      var due = Date.parse(element.dataset.due);
      if (Number.isNaN(due)) { return; }
      // Like the server: a deadline that is exactly now has been missed.
      var remaining = (due - now) / 1000;
      var overdue = remaining <= 0;
      element.textContent = overdue
        ? "overdue by " + durationText(remaining)
        : durationText(remaining) + " left";
      element.classList.toggle("sla-breached", overdue);
      element.classList.toggle("sla-soon", !overdue && remaining <= DUE_SOON_SECONDS);
    });
  }

  update();
  window.setInterval(update, 30 * 1000);
})();
