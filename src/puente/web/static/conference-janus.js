/* Puente case conference over a Janus VideoRoom, without janus.js.
 *
 * Every call goes to Puente's proxy (config.janusUrl), never to Janus
 * itself; Puente fixes the room, its PIN and our display name. We publish
 * once (one RTCPeerConnection up) and subscribe to each other publisher
 * (one RTCPeerConnection down each). Offers and answers carry their ICE
 * candidates (we wait for gathering to complete: no trickle). */
(function () {
  "use strict";

  function start(config, local, ui) {
    var api = config.janusUrl;
    var live = true;
    var session = null;
    var feeds = {};        // feed id → {handle, pc, user, name}
    var publisher = null;  // {handle, pc}
    var timer = null;

    async function call(body) {
      var response = await fetch(api, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": config.csrf },
        body: JSON.stringify(body)
      });
      if (!response.ok) throw new Error("janus proxy " + response.status);
      return response.json();
    }

    function gathered(pc) {
      if (pc.iceGatheringState === "complete") return Promise.resolve();
      return new Promise(function (resolve) {
        var done = function () {
          if (pc.iceGatheringState === "complete") {
            pc.removeEventListener("icegatheringstatechange", done);
            resolve();
          }
        };
        pc.addEventListener("icegatheringstatechange", done);
        setTimeout(resolve, 3000);
      });
    }

    function who(display) {
      var m = /^u(\d+):(.*)$/.exec(display || "");
      return m ? { user: Number(m[1]), name: m[2] } : { user: 0, name: display || "" };
    }

    async function attach() {
      var r = await call({ janus: "attach", session_id: session, plugin: "janus.plugin.videoroom" });
      return r.data.id;
    }

    async function publish() {
      var handle = await attach();
      var pc = new RTCPeerConnection({ iceServers: config.iceServers || [] });
      publisher = { handle: handle, pc: pc };
      if (local) local.getTracks().forEach(function (t) { pc.addTrack(t, local); });
      await call({
        janus: "message", session_id: session, handle_id: handle,
        videoroom: { request: "join", ptype: "publisher" }
      });
    }

    async function configure() {
      var pc = publisher.pc;
      await pc.setLocalDescription(await pc.createOffer());
      await gathered(pc);
      await call({
        janus: "message", session_id: session, handle_id: publisher.handle,
        videoroom: { request: "configure", audio: true, video: true },
        jsep: { type: "offer", sdp: pc.localDescription.sdp }
      });
    }

    async function subscribe(feed) {
      if (feeds[feed.id] || !live) return;
      var person = who(feed.display);
      feeds[feed.id] = { handle: null, pc: null, user: person.user, name: person.name };
      var handle = await attach();
      feeds[feed.id].handle = handle;
      await call({
        janus: "message", session_id: session, handle_id: handle,
        videoroom: { request: "join", ptype: "subscriber", feed: feed.id }
      });
      ui.changed();
    }

    async function answer(feedId, jsep) {
      var entry = feeds[feedId];
      if (!entry) return;
      var pc = new RTCPeerConnection({ iceServers: config.iceServers || [] });
      entry.pc = pc;
      pc.ontrack = function (e) {
        var video = ui.tile("feed-" + feedId, entry.name);
        var stream = e.streams && e.streams[0] ? e.streams[0] : new MediaStream([e.track]);
        if (video.srcObject !== stream) { video.srcObject = stream; ui.play(video); }
      };
      await pc.setRemoteDescription(jsep);
      await pc.setLocalDescription(await pc.createAnswer());
      await gathered(pc);
      await call({
        janus: "message", session_id: session, handle_id: entry.handle,
        videoroom: { request: "start" },
        jsep: { type: "answer", sdp: pc.localDescription.sdp }
      });
    }

    function gone(feedId) {
      var entry = feeds[feedId];
      if (!entry) return;
      if (entry.pc) entry.pc.close();
      delete feeds[feedId];
      ui.dropTile("feed-" + feedId);
      ui.changed();
    }

    function handleOf(sender) {
      if (publisher && publisher.handle === sender) return { kind: "publisher" };
      var ids = Object.keys(feeds);
      for (var i = 0; i < ids.length; i++) {
        if (feeds[ids[i]].handle === sender) return { kind: "subscriber", feed: Number(ids[i]) };
      }
      return null;
    }

    async function onEvent(e) {
      if (e.janus !== "event" || !e.plugindata) return;
      var data = e.plugindata.data || {};
      var from = handleOf(e.sender);
      if (!from) return;
      if (from.kind === "publisher") {
        if (data.videoroom === "joined") {
          await configure();
          (data.publishers || []).forEach(function (p) { subscribe(p).catch(console.warn); });
        }
        if (e.jsep && e.jsep.type === "answer") await publisher.pc.setRemoteDescription(e.jsep);
        (data.publishers || []).forEach(function (p) {
          if (data.videoroom !== "joined") subscribe(p).catch(console.warn);
        });
        if (data.unpublished) gone(data.unpublished);
        if (data.leaving) gone(data.leaving);
      } else if (e.jsep && e.jsep.type === "offer") {
        await answer(from.feed, e.jsep);
      }
    }

    async function poll() {
      while (live && session) {
        var r;
        try {
          var response = await fetch(api + "/events?session_id=" + session, {
            credentials: "same-origin"
          });
          r = await response.json();
        } catch (err) {
          await new Promise(function (ok) { setTimeout(ok, 1000); });
          continue;
        }
        var events = Array.isArray(r) ? r : [r];
        for (var i = 0; i < events.length; i++) {
          try { await onEvent(events[i]); } catch (err) { console.warn("janus:", err); }
        }
      }
    }

    (async function () {
      var created = await call({ janus: "create" });
      session = created.data.id;
      poll();
      timer = setInterval(function () {
        call({ janus: "keepalive", session_id: session }).catch(function () {});
      }, 25000);
      await publish();
    })().catch(function (err) { console.warn("janus:", err); ui.note(config.messages.refused); });

    return {
      count: function () { return Object.keys(feeds).length; },
      stop: function () {
        live = false;
        clearInterval(timer);
        Object.keys(feeds).forEach(function (id) { gone(Number(id)); });
        if (publisher) publisher.pc.close();
        if (session) call({ janus: "destroy", session_id: session }).catch(function () {});
      },
      framesByUser: async function () {
        var out = {};
        var ids = Object.keys(feeds);
        for (var i = 0; i < ids.length; i++) {
          var entry = feeds[ids[i]];
          var frames = 0;
          if (entry.pc) {
            (await entry.pc.getStats()).forEach(function (r) {
              if (r.type === "inbound-rtp" && r.kind === "video") frames += r.framesDecoded || 0;
            });
          }
          out[entry.user] = frames;
        }
        return out;
      }
    };
  }

  window.PuenteJanus = { start: start };
})();
