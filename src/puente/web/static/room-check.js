/* Puente device check: camera, microphone and the connection to Puente's
 * signaling socket, before joining a visit. No libraries. */
(function () {
  "use strict";

  var config = JSON.parse(document.getElementById("room-config").textContent);
  var M = config.messages;
  function $(id) { return document.getElementById(id); }
  var stream = null;
  var meterTimer = null;

  function show(id, ok, text) {
    var el = $(id);
    el.dataset.result = ok ? "ok" : "failed";
    el.textContent = text;
  }

  async function checkDevices() {
    if (stream) stream.getTracks().forEach(function (t) { t.stop(); });
    stream = null;
    var video = null;
    var audio = null;
    if (navigator.mediaDevices && navigator.mediaDevices.getUserMedia) {
      try { video = await navigator.mediaDevices.getUserMedia({ video: true }); } catch (e) { video = null; }
      try { audio = await navigator.mediaDevices.getUserMedia({ audio: true }); } catch (e) { audio = null; }
    }
    stream = new MediaStream();
    if (video) {
      video.getTracks().forEach(function (t) { stream.addTrack(t); });
      $("check-video").srcObject = video;
      show("camera-result", true, M.camera_ok);
    } else {
      show("camera-result", false, M.camera_missing);
    }
    if (audio) {
      audio.getTracks().forEach(function (t) { stream.addTrack(t); });
      show("microphone-result", true, M.microphone_ok);
      meter(audio);
    } else {
      show("microphone-result", false, M.microphone_missing);
    }
  }

  function meter(audio) {
    var Context = window.AudioContext || window.webkitAudioContext;
    if (!Context) return;
    var context = new Context();
    var analyser = context.createAnalyser();
    analyser.fftSize = 512;
    context.createMediaStreamSource(audio).connect(analyser);
    var samples = new Uint8Array(analyser.fftSize);
    if (meterTimer) clearInterval(meterTimer);
    meterTimer = setInterval(function () {
      analyser.getByteTimeDomainData(samples);
      var peak = 0;
      for (var i = 0; i < samples.length; i++) peak = Math.max(peak, Math.abs(samples[i] - 128));
      $("mic-level").value = Math.min(1, peak / 64);
    }, 150);
  }

  async function freshToken() {
    var response = await fetch(config.tokenUrl, {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRF-Token": config.csrf, "Accept": "application/json" }
    });
    if (!response.ok) throw new Error("token " + response.status);
    return (await response.json()).token;
  }

  function checkConnection(token) {
    return new Promise(function (resolve) {
      var url = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + config.socketPath;
      var ws = new WebSocket(url);
      var times = [];
      var sentAt = 0;
      var done = false;
      function finish(ok) {
        if (done) return;
        done = true;
        try { ws.close(); } catch (e) { /* closed */ }
        if (!ok || !times.length) {
          show("connection-result", false, M.connection_failed);
        } else {
          times.sort(function (a, b) { return a - b; });
          var ms = Math.round(times[Math.floor(times.length / 2)]);
          show("connection-result", ms < 400, (ms < 400 ? M.connection_ok : M.connection_slow).replace("{ms}", ms));
        }
        resolve();
      }
      function ping() {
        sentAt = performance.now();
        ws.send(JSON.stringify({ type: "ping", t: sentAt }));
      }
      ws.onopen = function () { ws.send(JSON.stringify({ type: "join", token: token, purpose: "check" })); };
      ws.onmessage = function (e) {
        var m = JSON.parse(e.data);
        if (m.type === "ready") ping();
        if (m.type === "pong") {
          times.push(performance.now() - sentAt);
          if (times.length >= 5) finish(true); else ping();
        }
      };
      ws.onerror = function () { finish(false); };
      ws.onclose = function () { finish(times.length > 0); };
      setTimeout(function () { finish(times.length > 0); }, 8000);
    });
  }

  async function run(token) {
    ["camera-result", "microphone-result", "connection-result"].forEach(function (id) {
      $(id).dataset.result = "pending";
    });
    await checkDevices();
    try {
      await checkConnection(token || (await freshToken()));
    } catch (e) {
      show("connection-result", false, M.connection_failed);
    }
  }

  $("check-again").addEventListener("click", function () { run(null); });
  // The camera is released before the room page takes it again.
  $("join").addEventListener("click", function () {
    if (stream) stream.getTracks().forEach(function (t) { t.stop(); });
  });
  run(config.token);
})();
