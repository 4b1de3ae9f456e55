// Remote consultation pages: live deadline countdowns, and chunked,
// resumable attachment uploads (a dropped line resumes where it stopped).
(function () {
  "use strict";
  var script = document.currentScript;
  var late = (script && script.dataset.late) || "overdue";

  function fmt(seconds) {
    var s = Math.abs(Math.round(seconds));
    var h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
    var text = (h ? h + ":" : "") + (h && m < 10 ? "0" : "") + m + ":" + (r < 10 ? "0" : "") + r;
    return seconds < 0 ? "−" + text + " (" + late + ")" : text;
  }

  function tick() {
    var now = Date.now();
    document.querySelectorAll("time.countdown").forEach(function (el) {
      var left = (Date.parse(el.dataset.due) - now) / 1000;
      el.textContent = fmt(left);
      el.classList.toggle("late", left < 0);
    });
  }
  tick();
  setInterval(tick, 1000);

  var input = document.getElementById("file-input");
  if (!input) { return; }
  var status = document.getElementById("upload-status");
  var CHUNK = 512 * 1024;

  function api(method, url, body, headers) {
    headers = headers || {};
    headers["X-CSRF-Token"] = input.dataset.csrf;
    return fetch(url, { method: method, body: body, headers: headers, credentials: "same-origin" })
      .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.json(); });
  }

  function send(file) {
    var key = "consult-" + input.dataset.case + "-" + file.name + "-" + file.size + "-" + file.lastModified;
    return api("POST", "/api/consults/" + input.dataset.case + "/uploads",
      JSON.stringify({ filename: file.name, size: file.size }),
      { "Content-Type": "application/json", "Idempotency-Key": key.slice(0, 100) })
      .then(function next(state) {
        if (state.complete) { return state; }
        var end = Math.min(state.offset + CHUNK, file.size);
        status.textContent = file.name + ": " + Math.round(100 * state.offset / file.size) + "%";
        return api("PATCH", state.url, file.slice(state.offset, end),
          { "Content-Type": "application/offset+octet-stream", "Upload-Offset": String(state.offset) })
          .then(next);
      });
  }

  input.addEventListener("change", function () {
    var files = Array.prototype.slice.call(input.files);
    files.reduce(function (p, f) { return p.then(function () { return send(f); }); }, Promise.resolve())
      .then(function () { status.textContent = script.dataset.uploaded; window.location.reload(); })
      .catch(function () { status.textContent = script.dataset.failed; });
  });
})();
