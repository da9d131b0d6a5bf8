/* The sending page: a confirmation before the actions that cannot be taken back, and live progress.
 *
 * A form with data-confirm (filled and translated by the template: the issue,
 * the audience and the time) asks before it submits. No inline script, so the
 * page works under a strict Content-Security-Policy.
 */
(function () {
  "use strict";

  function set(id, value) {
    var el = document.getElementById(id);
    if (el) { el.textContent = value; }
  }

  function poll(root) {
    var url = root.dataset.progressUrl;
    function tick() {
      fetch(url, {credentials: "same-origin"}).then(function (r) { return r.json(); }).then(function (p) {
        ["audience", "sent", "failed", "skipped", "pending", "waiting", "sending", "percent"].forEach(function (k) { set("p-" + k, p[k]); });
        set("p-rate", p.rate_per_second);
        set("p-eta", p.eta_seconds === null ? "—" : p.eta_seconds);
        set("p-cancelled", p.cancelled + p.suppressed);
        set("p-status", p.status);
        document.getElementById("p-bar").value = p.percent;
        if (p.status === "sending") { setTimeout(tick, 2000); }
      });
    }
    if (root.dataset.status === "sending") { setTimeout(tick, 2000); }
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("form[data-confirm]").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        if (!window.confirm(form.dataset.confirm)) { event.preventDefault(); }
      });
    });
    var root = document.querySelector(".digest-sending[data-progress-url]");
    if (root) { poll(root); }
  });
})();
