/* Puente visit room: WebRTC peer-to-peer call, signaling over Puente's
 * WebSocket, chat and files. No libraries; served by Puente itself.
 *
 * The clinician's browser makes the offer whenever the visit is in the call
 * and the patient is present (first admission, or a patient who rejoined);
 * the patient's browser answers. Each offer starts a new "generation" of
 * the peer connection so that stray candidates of an older one are dropped.
 * Audio only and chat only switch the senders off (replaceTrack) without
 * leaving the call or renegotiating. */
(function () {
  "use strict";

  var config = JSON.parse(document.getElementById("room-config").textContent);
  var M = config.messages;
  var isClinician = config.side === "clinician";
  function $(id) { return document.getElementById(id); }
  var room = $("room");

  var state = {
    ws: null,
    status: null,
    peer: false,
    pc: null,
    gen: 0,
    pending: [],
    local: null,
    senders: {},
    mode: "video",
    leaving: false,
    ended: false,
    retry: 0,
    lowSamples: 0,
    connectedAt: 0,
    chain: Promise.resolve()
  };

  /* ---------------------------------------------------------------- view */

  function note(text) {
    var el = $("room-note");
    el.textContent = text;
    el.hidden = !text;
  }

  function statusText() {
    if (state.ended) return M.ended;
    if (state.status === "lobby") {
      if (!isClinician) return M.lobby;
      return state.peer ? M.patient_waiting : M.waiting_patient;
    }
    if (state.status === "in_call") {
      if (!state.peer) return isClinician ? M.waiting_patient : M.waiting_clinician;
      return state.pc && state.pc.connectionState === "connected" ? M.in_call : M.connecting;
    }
    return isClinician ? M.waiting_patient : M.connecting;
  }

  function render() {
    room.dataset.status = state.ended ? "ended" : (state.status || "");
    room.dataset.peer = state.peer ? "present" : "absent";
    room.dataset.mode = state.mode;
    $("room-status").textContent = statusText();
    $("lobby").hidden = isClinician || state.status !== "lobby" || state.ended;
    var admit = $("admit");
    if (admit) admit.hidden = !(state.status === "lobby" && state.peer && !state.ended);
    ["video", "audio", "chat"].forEach(function (mode) {
      $("mode-" + mode).setAttribute("aria-pressed", String(state.mode === mode));
    });
    $("media").dataset.mode = state.mode;
    $("media").hidden = !isClinician && state.status === "lobby";
  }

  /* --------------------------------------------------------------- media */

  var mediaReady = null;
  function getMedia() {
    if (mediaReady) return mediaReady;
    mediaReady = (async function () {
      if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) return null;
      var wanted = [{ audio: true, video: true }, { audio: true }, { video: true }];
      for (var i = 0; i < wanted.length; i++) {
        try { return await navigator.mediaDevices.getUserMedia(wanted[i]); } catch (e) { /* next */ }
      }
      return null;
    })().then(function (stream) {
      state.local = stream;
      if (stream) {
        $("local-video").srcObject = stream;
      } else {
        note(M.no_devices);
      }
      return stream;
    });
    return mediaReady;
  }

  function stopMedia() {
    if (state.local) state.local.getTracks().forEach(function (t) { t.stop(); });
  }

  function play(video) {
    var p = video.play();
    if (p && p.catch) {
      p.catch(function () { video.muted = true; video.play().catch(function () {}); });
    }
  }

  /* ------------------------------------------------------ peer connection */

  function closePeer() {
    if (state.pc) {
      state.pc.ontrack = null;
      state.pc.onicecandidate = null;
      state.pc.onconnectionstatechange = null;
      state.pc.close();
    }
    state.pc = null;
    state.senders = {};
    state.pending = [];
    room.dataset.call = "idle";
    $("remote-video").srcObject = null;
  }

  function newPeer(gen) {
    closePeer();
    var pc = new RTCPeerConnection({ iceServers: config.iceServers || [] });
    state.pc = pc;
    state.gen = gen;
    var stream = state.local;
    var kinds = { audio: false, video: false };
    if (stream) {
      stream.getTracks().forEach(function (track) {
        state.senders[track.kind] = { sender: pc.addTrack(track, stream), track: track };
        kinds[track.kind] = true;
      });
    }
    // Receive both kinds even without a camera or microphone of our own.
    ["audio", "video"].forEach(function (kind) {
      if (!kinds[kind] && isClinician) pc.addTransceiver(kind, { direction: "recvonly" });
    });
    pc.onicecandidate = function (e) {
      if (e.candidate) send({ type: "signal", data: { gen: gen, candidate: e.candidate.toJSON() } });
    };
    pc.ontrack = function (e) {
      var video = $("remote-video");
      var remote = e.streams && e.streams[0] ? e.streams[0] : new MediaStream([e.track]);
      if (video.srcObject !== remote) {
        video.srcObject = remote;
        play(video);
      }
    };
    pc.onconnectionstatechange = function () {
      if (pc !== state.pc) return;
      room.dataset.call = pc.connectionState;
      if (pc.connectionState === "connected") {
        state.connectedAt = Date.now();
        applyMode(state.mode);
      }
      render();
    };
    return pc;
  }

  async function startCall() {
    await getMedia();
    if (!isClinician || state.status !== "in_call" || !state.peer || state.ended) return;
    var pc = newPeer(state.gen + 1);
    var gen = state.gen;
    var offer = await pc.createOffer();
    if (pc !== state.pc) return;
    await pc.setLocalDescription(offer);
    send({ type: "signal", data: { gen: gen, description: pc.localDescription.toJSON() } });
    render();
  }

  async function flushCandidates(pc) {
    var waiting = state.pending;
    state.pending = [];
    for (var i = 0; i < waiting.length; i++) {
      try { await pc.addIceCandidate(waiting[i]); } catch (e) { /* stale */ }
    }
  }

  async function onSignal(data) {
    if (!data || typeof data.gen !== "number") return;
    if (data.description && data.description.type === "offer") {
      if (isClinician) return;
      await getMedia();
      var pc = newPeer(data.gen);
      await pc.setRemoteDescription(data.description);
      await flushCandidates(pc);
      var answer = await pc.createAnswer();
      await pc.setLocalDescription(answer);
      send({ type: "signal", data: { gen: data.gen, description: pc.localDescription.toJSON() } });
      render();
    } else if (data.description && data.description.type === "answer") {
      if (!isClinician || !state.pc || data.gen !== state.gen) return;
      await state.pc.setRemoteDescription(data.description);
      await flushCandidates(state.pc);
    } else if (data.candidate) {
      if (data.gen !== state.gen || !state.pc) return;
      if (!state.pc.remoteDescription) {
        state.pending.push(data.candidate);
        return;
      }
      try { await state.pc.addIceCandidate(data.candidate); } catch (e) { /* stale */ }
    }
  }

  // Offers, answers and candidates are handled strictly one after another.
  function queue(task) {
    state.chain = state.chain.then(task).catch(function (e) { console.warn("room:", e); });
  }

  function maybeCall() {
    if (isClinician && state.status === "in_call" && state.peer && !state.ended) queue(startCall);
  }

  /* ----------------------------------------------------------------- modes */

  function applyMode(mode) {
    state.mode = mode;
    var sendVideo = mode === "video";
    var sendAudio = mode !== "chat";
    if (state.local) {
      state.local.getVideoTracks().forEach(function (t) { t.enabled = sendVideo; });
      state.local.getAudioTracks().forEach(function (t) { t.enabled = sendAudio; });
    }
    // Stop sending altogether (not black frames): frees the bandwidth.
    var wants = { video: sendVideo, audio: sendAudio };
    Object.keys(state.senders).forEach(function (kind) {
      var s = state.senders[kind];
      var track = wants[kind] ? s.track : null;
      if (s.sender.track !== track) s.sender.replaceTrack(track).catch(function () {});
    });
    $("remote-video").muted = mode === "chat";
    render();
  }

  function chooseMode(mode, why) {
    applyMode(mode);
    note(why || M["mode_" + mode]);
    send({ type: "mode", mode: mode });
  }

  // A very poor connection drops to audio by itself (estimated send rate
  // under 150 kbit/s three times in a row, after the first ten seconds).
  setInterval(async function () {
    var pc = state.pc;
    if (!pc || state.mode !== "video" || !state.connectedAt) return;
    if (Date.now() - state.connectedAt < 10000) return;
    var rate = null;
    (await pc.getStats()).forEach(function (r) {
      if (r.type === "candidate-pair" && r.nominated && r.availableOutgoingBitrate !== undefined) {
        rate = r.availableOutgoingBitrate;
      }
    });
    state.lowSamples = rate !== null && rate < 150000 ? state.lowSamples + 1 : 0;
    if (state.lowSamples >= 3) {
      state.lowSamples = 0;
      chooseMode("audio", M.auto_audio);
    }
  }, 3000);

  /* ------------------------------------------------------------------ chat */

  function addChat(m) {
    var log = $("chat-log");
    if (log.querySelector('li[data-id="' + Number(m.id) + '"]')) return;
    var li = document.createElement("li");
    li.dataset.id = String(m.id);
    li.dataset.side = m.side;
    li.className = m.side === config.side ? "mine" : "theirs";
    var who = document.createElement("span");
    who.className = "who";
    who.textContent = m.side === config.side ? M.you : (M[m.side] || m.side);
    var when = document.createElement("time");
    when.dateTime = m.sent_at;
    when.textContent = new Date(m.sent_at).toLocaleTimeString(document.documentElement.lang, {
      hour: "2-digit", minute: "2-digit"
    });
    li.append(who, " ", when, " ");
    if (m.file) {
      var a = document.createElement("a");
      a.href = m.file.url;
      a.className = "file";
      a.textContent = m.file.name;
      a.setAttribute("download", m.file.name);
      li.append(a, " (" + Math.max(1, Math.round(m.file.size / 1024)) + " KB)");
    } else {
      var body = document.createElement("span");
      body.className = "body";
      body.textContent = m.body;
      li.append(body);
    }
    log.append(li);
    li.scrollIntoView({ block: "nearest" });
  }

  /* ------------------------------------------------------------- signaling */

  function send(message) {
    if (state.ws && state.ws.readyState === WebSocket.OPEN) {
      state.ws.send(JSON.stringify(message));
      return true;
    }
    return false;
  }

  function handle(m) {
    switch (m.type) {
      case "welcome":
        state.retry = 0;
        state.status = m.status;
        state.peer = m.peer;
        (m.history || []).forEach(addChat);
        render();
        maybeCall();
        break;
      case "presence":
        if (m.side === config.side) break;
        state.peer = m.present;
        if (m.status) state.status = m.status;
        if (!m.present) {
          closePeer();
          note(isClinician ? M.patient_dropped : M.clinician_dropped);
        } else {
          note("");
        }
        render();
        maybeCall();
        break;
      case "status":
        state.status = m.status;
        if (m.status !== "in_call") closePeer();
        render();
        maybeCall();
        break;
      case "signal":
        queue(function () { return onSignal(m.data); });
        break;
      case "chat":
        addChat(m);
        break;
      case "mode":
        if (m.mode !== state.mode) {
          applyMode(m.mode);
          note(M["mode_" + m.mode]);
        }
        break;
      case "ended":
        ended();
        break;
      default:
        break;
    }
  }

  function ended() {
    state.ended = true;
    closePeer();
    stopMedia();
    note("");
    room.querySelectorAll(".controls button").forEach(function (b) { b.disabled = true; });
    render();
  }

  function socketUrl() {
    return (location.protocol === "https:" ? "wss://" : "ws://") + location.host + config.socketPath;
  }

  async function freshToken() {
    var response = await fetch(config.tokenUrl, {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRF-Token": config.csrf, "Accept": "application/json" }
    });
    if (response.status === 409) {
      state.ended = true;
      return null;
    }
    if (!response.ok) throw new Error("token " + response.status);
    return (await response.json()).token;
  }

  function connect(token) {
    var ws = new WebSocket(socketUrl());
    state.ws = ws;
    ws.onopen = function () { ws.send(JSON.stringify({ type: "join", token: token })); };
    ws.onmessage = function (e) {
      var m;
      try { m = JSON.parse(e.data); } catch (err) { return; }
      if (ws === state.ws) handle(m);
    };
    ws.onclose = function (e) { if (ws === state.ws) closed(e.code); };
  }

  function closed(code) {
    state.ws = null;
    closePeer();
    if (code === 4410) { ended(); return; }
    if (code === 4409) {
      state.ended = true;
      stopMedia();
      render();
      $("room-status").textContent = M.replaced;
      return;
    }
    if (state.leaving || state.ended) { render(); return; }
    if (code === 4403) { $("room-status").textContent = M.refused; return; }
    $("room-status").textContent = M.reconnecting;
    var delay = Math.min(500 * Math.pow(2, state.retry), 8000);
    state.retry += 1;
    setTimeout(async function () {
      try {
        var token = await freshToken();
        if (token) connect(token); else ended();
      } catch (e) {
        closed(1006);
      }
    }, delay);
  }

  /* -------------------------------------------------------------- controls */

  var admit = $("admit");
  if (admit) admit.addEventListener("click", function () { send({ type: "admit" }); });
  var end = $("end-call");
  if (end) end.addEventListener("click", function () { send({ type: "end" }); });
  var leave = $("leave");
  if (leave) {
    leave.addEventListener("click", function () {
      state.leaving = true;
      send({ type: "leave" });
      closePeer();
      stopMedia();
      $("room-status").textContent = M.left;
      room.dataset.status = "left";
    });
  }
  ["video", "audio", "chat"].forEach(function (mode) {
    $("mode-" + mode).addEventListener("click", function () { chooseMode(mode); });
  });

  $("chat-form").addEventListener("submit", function (e) {
    e.preventDefault();
    var input = $("chat-input");
    var text = input.value.trim();
    if (!text) return;
    if (send({ type: "chat", body: text })) input.value = "";
    else note(M.reconnecting);
  });
  $("chat-input").addEventListener("keydown", function (e) {
    if (e.key === "Enter" && !e.shiftKey) {
      e.preventDefault();
      $("chat-form").requestSubmit();
    }
  });

  $("file-form").addEventListener("submit", async function (e) {
    e.preventDefault();
    var input = $("file-input");
    var file = input.files && input.files[0];
    if (!file) return;
    if (file.size > config.maxFileBytes) { note(M.file_too_large); return; }
    var response = await fetch(config.filesUrl + "?filename=" + encodeURIComponent(file.name), {
      method: "POST",
      credentials: "same-origin",
      body: file,
      headers: { "Content-Type": "application/octet-stream", "X-CSRF-Token": config.csrf }
    });
    if (!response.ok) {
      var detail = response.status === 413 ? M.file_too_large : M.file_refused;
      try { detail = (await response.json()).detail || detail; } catch (err) { /* keep */ }
      note(detail);
      return;
    }
    addChat(await response.json());
    input.value = "";
    note("");
  });

  // For the browser test and for support staff: how many remote video frames
  // this side has decoded so far.
  window.puenteRoom = {
    state: state,
    framesDecoded: async function () {
      if (!state.pc) return 0;
      var frames = 0;
      (await state.pc.getStats()).forEach(function (r) {
        if (r.type === "inbound-rtp" && r.kind === "video") frames += r.framesDecoded || 0;
      });
      return frames;
    }
  };

  render();
  getMedia().then(function () { connect(config.token); });
})();
