// The import page follows its job: it polls the status endpoint while the job runs, moves the
// progress bar (rows done out of the total), and reloads once the job stops or changes phase,
// so that the counts, errors and the confirm button come from the server.
(function () {
  "use strict";
  const root = document.querySelector("[data-import-status-url]");
  if (!root || root.dataset.importRunning !== "true") {
    return;
  }
  const url = root.dataset.importStatusUrl;
  const bar = root.querySelector("#import-progress");
  const rows = root.querySelector("[data-import-rows]");
  const label = root.querySelector("[data-import-status-label]");
  const startedPhase = root.dataset.importStatus === "checking" ? "check" : "import";
  const POLL_MS = 1000;
  const format = new Intl.NumberFormat();

  function show(status) {
    const total = status.rows_total || 0;
    bar.style.width = status.percent + "%";
    bar.textContent = status.percent + "%";
    bar.setAttribute("aria-valuenow", String(status.rows_done));
    bar.setAttribute("aria-valuemax", String(total));
    rows.textContent = format.format(status.rows_done) + " of " +
      (status.rows_total === null ? "…" : format.format(total)) + " rows";
    label.textContent = status.status_label;
  }

  async function poll() {
    try {
      const response = await fetch(url, {
        headers: { Accept: "application/json" },
        credentials: "same-origin",
        cache: "no-store",
      });
      if (response.ok) {
        const status = await response.json();
        show(status);
        if (!status.running || status.phase !== startedPhase) {
          window.location.reload();
          return;
        }
      }
    } catch (error) {
      // A dropped request is retried at the next tick.
    }
    window.setTimeout(poll, POLL_MS);
  }

  window.setTimeout(poll, POLL_MS);
})();
