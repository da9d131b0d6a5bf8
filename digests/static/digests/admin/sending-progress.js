// Live progress on a digest's sending page: polls the progress JSON every 2 s while the digest is sending.
// A static file (not an inline script) so the admin runs under a Content-Security-Policy without 'unsafe-inline'.
(function () {
  "use strict";
  var script = document.currentScript;
  var url = script.dataset.progressUrl;
  function set(id, value) { var el = document.getElementById(id); if (el) el.textContent = value; }
  function tick() {
    fetch(url, {credentials: "same-origin"}).then(function (r) { return r.json(); }).then(function (p) {
      ["audience", "sent", "failed", "skipped", "pending", "sending", "percent"].forEach(function (k) { set("p-" + k, p[k]); });
      set("p-rate", p.rate_per_second); set("p-eta", p.eta_seconds === null ? "—" : p.eta_seconds);
      set("p-cancelled", p.cancelled + p.suppressed); set("p-status", p.status);
      document.getElementById("p-bar").value = p.percent;
      if (p.status === "sending") setTimeout(tick, 2000);
    });
  }
  if (script.dataset.status === "sending") setTimeout(tick, 2000);
})();
