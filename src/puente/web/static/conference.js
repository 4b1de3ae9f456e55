/* Puente case conference room: several participants, the agenda beside
 * the video. No libraries; served by Puente itself.
 *
 * Mesh (the default): every pair of participants holds one
 * RTCPeerConnection. The newcomer offers to everyone already present (the
 * welcome message lists them); those present only answer, so two sides
 * never offer to each other at once. A participant who comes back (a
 * reload, a dropped line) is a newcomer again: the others drop the old
 * connection of that person when the new one offers.
 *
 * Janus (when the conference's provider is janus): conference-janus.js
 * supplies window.PuenteJanus, and media goes through the Janus VideoRoom;
 * this file still carries presence and the agenda. */
(function () {
  "use strict";

  var config = JSON.parse(document.getElementById("conference-config").textContent);
  var M = config.messages;
  function $(id) { return document.getElementById(id); }
  var root = $("conference");

  var state = {
    ws: null,
    you: null,
    local: null,
    peers: {},          // connection id → peer
    position: Number(root.dataset.position) || 0,
    agenda: [],
    retry: 0,
    leaving: false,
    over: false,
    janus: null
  };

  /* ---------------------------------------------------------------- view */

  function note(text) {
    var el = $("room-note");
    el.textContent = text || "";
    el.hidden = !text;
  }

  function status(text, name) {
    $("room-status").textContent = text;
    if (name) root.dataset.state = name;
  }

  function peerCount() {
    if (state.janus) return state.janus.count();
    return Object.keys(state.peers).length;
  }

  function renderPresence() {
    root.dataset.peers = String(peerCount());
    if (state.over || !state.ws) return;
    status(peerCount() ? M.in_call : M.alone, "in_call");
  }

  function renderAgenda() {
    root.dataset.position = String(state.position);
    var items = $("agenda").querySelectorAll("li");
    var current = null;
    items.forEach(function (li) {
      if (Number(li.dataset.position) === state.position) {
        li.setAttribute("aria-current", "step");
        current = li;
      } else {
        li.removeAttribute("aria-current");
      }
    });
    $("current-case").textContent = current
      ? M.now + ": #" + current.dataset.case + " · " + current.querySelector(".question").textContent
      : "";
    var prev = $("previous-case");
    var next = $("next-case");
    if (prev) prev.disabled = state.position <= 0;
    if (next) next.disabled = state.position >= items.length - 1;
    var input = $("decision-input");
    if (input && current) {
      input.value = current.querySelector(".decision .text").textContent;
    }
  }

  function showDecision(caseId, text) {
    var li = $("agenda").querySelector('li[data-case="' + Number(caseId) + '"]');
    if (!li) return;
    var box = li.querySelector(".decision");
    box.querySelector(".text").textContent = text || "";
    box.hidden = !text;
  }

  function tile(id, name) {
    var figure = document.getElementById("tile-" + id);
    if (figure) return figure.querySelector("video");
    figure = document.createElement("figure");
    figure.id = "tile-" + id;
    figure.className = "remote";
    var video = document.createElement("video");
    video.autoplay = true;
    video.playsInline = true;
    var caption = document.createElement("figcaption");
    caption.textContent = name || "";
    figure.append(video, caption);
    $("tiles").append(figure);
    return video;
  }

  function dropTile(id) {
    var figure = document.getElementById("tile-" + id);
    if (figure) figure.remove();
  }

  function play(video) {
    var p = video.play();
    if (p && p.catch) p.catch(function () { video.muted = true; video.play().catch(function () {}); });
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
      if (stream) $("local-video").srcObject = stream;
      else note(M.no_devices);
      return stream;
    });
    return mediaReady;
  }

  function stopMedia() {
    if (state.local) state.local.getTracks().forEach(function (t) { t.stop(); });
  }

  /* -------------------------------------------------------- mesh: peers */

  function dropPeer(id) {
    var peer = state.peers[id];
    if (!peer) return;
    peer.pc.ontrack = null;
    peer.pc.onicecandidate = null;
    peer.pc.close();
    delete state.peers[id];
    dropTile(id);
    renderPresence();
  }

  function dropUser(user, except) {
    Object.keys(state.peers).forEach(function (id) {
      if (state.peers[id].user === user && id !== except) dropPeer(id);
    });
  }

  function newPeer(id, user, name) {
    dropUser(user, id);
    if (state.peers[id]) return state.peers[id];
    var pc = new RTCPeerConnection({ iceServers: config.iceServers || [] });
    var peer = { id: id, user: user, name: name, pc: pc, pending: [], chain: Promise.resolve() };
    state.peers[id] = peer;
    var kinds = { audio: false, video: false };
    if (state.local) {
      state.local.getTracks().forEach(function (track) {
        pc.addTrack(track, state.local);
        kinds[track.kind] = true;
      });
    }
    ["audio", "video"].forEach(function (kind) {
      if (!kinds[kind]) pc.addTransceiver(kind, { direction: "recvonly" });
    });
    pc.onicecandidate = function (e) {
      if (e.candidate) send({ type: "signal", to: id, data: { candidate: e.candidate.toJSON() } });
    };
    pc.ontrack = function (e) {
      var video = tile(id, name);
      var remote = e.streams && e.streams[0] ? e.streams[0] : new MediaStream([e.track]);
      if (video.srcObject !== remote) {
        video.srcObject = remote;
        play(video);
      }
    };
    pc.onconnectionstatechange = function () {
      if (pc.connectionState === "failed" && state.peers[id] === peer) dropPeer(id);
    };
    renderPresence();
    return peer;
  }

  function later(peer, task) {
    peer.chain = peer.chain.then(task).catch(function (e) { console.warn("conference:", e); });
  }

  async function flush(peer) {
    var waiting = peer.pending;
    peer.pending = [];
    for (var i = 0; i < waiting.length; i++) {
      try { await peer.pc.addIceCandidate(waiting[i]); } catch (e) { /* stale */ }
    }
  }

  function offerTo(id, user, name) {
    var peer = newPeer(id, user, name);
    later(peer, async function () {
      var offer = await peer.pc.createOffer();
      await peer.pc.setLocalDescription(offer);
      send({ type: "signal", to: id, data: { description: peer.pc.localDescription.toJSON() } });
    });
  }

  function onSignal(m) {
    var data = m.data || {};
    var peer = state.peers[m.from];
    if (data.description && data.description.type === "offer") {
      peer = newPeer(m.from, m.user, m.name);
      later(peer, async function () {
        await peer.pc.setRemoteDescription(data.description);
        await flush(peer);
        var answer = await peer.pc.createAnswer();
        await peer.pc.setLocalDescription(answer);
        send({ type: "signal", to: m.from, data: { description: peer.pc.localDescription.toJSON() } });
      });
    } else if (data.description && data.description.type === "answer") {
      if (!peer) return;
      later(peer, async function () {
        await peer.pc.setRemoteDescription(data.description);
        await flush(peer);
      });
    } else if (data.candidate && peer) {
      later(peer, async function () {
        if (!peer.pc.remoteDescription) { peer.pending.push(data.candidate); return; }
        try { await peer.pc.addIceCandidate(data.candidate); } catch (e) { /* stale */ }
      });
    }
  }

  function dropAll() {
    Object.keys(state.peers).forEach(dropPeer);
    if (state.janus) state.janus.stop();
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
        state.you = m.you;
        state.position = m.position;
        (m.agenda || []).forEach(function (item) { showDecision(item.case_id, item.decision); });
        renderAgenda();
        if (config.provider === "janus" && window.PuenteJanus) {
          state.janus = window.PuenteJanus.start(config, state.local, {
            tile: tile, dropTile: dropTile, play: play, changed: renderPresence, note: note
          });
        } else {
          (m.peers || []).forEach(function (p) { offerTo(p.peer, p.user, p.name); });
        }
        renderPresence();
        break;
      case "presence":
        if (m.peer === state.you) break;
        if (!m.present) { dropPeer(m.peer); break; }
        if (!state.janus) dropUser(m.user, m.peer);
        renderPresence();
        break;
      case "signal":
        if (!state.janus) onSignal(m);
        break;
      case "agenda":
        state.position = m.position;
        renderAgenda();
        break;
      case "decided":
        showDecision(m.case_id, m.decision);
        break;
      case "full":
        over(M.full.replace("{limit}", String(m.limit)), "full");
        break;
      case "cancelled":
        over(M.cancelled, "cancelled");
        break;
      default:
        break;
    }
  }

  function over(text, name) {
    state.over = true;
    dropAll();
    stopMedia();
    status(text, name);
    root.querySelectorAll("button").forEach(function (b) { b.disabled = true; });
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
    if (response.status === 409) return null;
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
    dropAll();
    state.janus = null;
    if (state.over) return;
    if (code === 4429) { over(M.full.replace("{limit}", "4"), "full"); return; }
    if (code === 4409) { over(M.replaced, "replaced"); return; }
    if (state.leaving) { status(M.left, "left"); return; }
    if (code === 4403) { over(M.refused, "refused"); return; }
    status(M.reconnecting, "reconnecting");
    var delay = Math.min(500 * Math.pow(2, state.retry), 8000);
    state.retry += 1;
    setTimeout(async function () {
      try {
        var token = await freshToken();
        if (token) connect(token); else over(M.cancelled, "cancelled");
      } catch (e) {
        closed(1006);
      }
    }, delay);
  }

  /* -------------------------------------------------------------- controls */

  $("leave").addEventListener("click", function () {
    state.leaving = true;
    send({ type: "leave" });
    dropAll();
    stopMedia();
    status(M.left, "left");
  });
  var prev = $("previous-case");
  if (prev) prev.addEventListener("click", function () { send({ type: "agenda", position: state.position - 1 }); });
  var next = $("next-case");
  if (next) next.addEventListener("click", function () { send({ type: "agenda", position: state.position + 1 }); });
  var form = $("decision-form");
  if (form) {
    form.addEventListener("submit", async function (e) {
      e.preventDefault();
      var li = $("agenda").querySelector('li[data-position="' + state.position + '"]');
      var text = $("decision-input").value.trim();
      if (!li || !text) return;
      var caseId = Number(li.dataset.case);
      var response = await fetch(config.decisionUrl.replace("{case}", String(caseId)), {
        method: "PUT",
        credentials: "same-origin",
        headers: { "X-CSRF-Token": config.csrf, "Content-Type": "application/json" },
        body: JSON.stringify({ decision: text })
      });
      if (!response.ok) { note(M.not_saved); return; }
      note(M.saved);
      showDecision(caseId, text);
      send({ type: "decided", case_id: caseId });
    });
  }

  // For the browser tests and for support staff: remote video frames
  // decoded so far, per participant (user id).
  window.puenteConference = {
    state: state,
    peerCount: peerCount,
    framesByUser: async function () {
      if (state.janus) return state.janus.framesByUser();
      var out = {};
      var ids = Object.keys(state.peers);
      for (var i = 0; i < ids.length; i++) {
        var peer = state.peers[ids[i]];
        var frames = 0;
        (await peer.pc.getStats()).forEach(function (r) {
          if (r.type === "inbound-rtp" && r.kind === "video") frames += r.framesDecoded || 0;
        });
        out[peer.user] = frames;
      }
      return out;
    }
  };

  renderAgenda();
  getMedia().then(function () { connect(config.token); });
})();
