/* Tally events: what the audience page, the presenter view and the projector view
   share. The join code in the address, the presenter's key and the room passcode this
   browser keeps, and the event's live feed
   (/live/e/<code>, on Tally.LiveSocket: it reconnects with back-off and, when no
   WebSocket can be opened at all, falls back to asking over HTTP every few seconds),
   which drops stale frames. */
(function () {
  "use strict";

  const KEY_PREFIX = "tally_presenter_"; // localStorage name of a presenter key, per code
  const PASSCODE_PREFIX = "tally_room_passcode_"; // the room passcode its creator was shown

  // The 8-digit join code in /e/<code>, /e/<code>/present or /e/<code>/screen, or "".
  function codeFromPath() {
    const match = /^\/e\/([0-9]{8})(?:\/|$)/.exec(location.pathname);
    return match ? match[1] : "";
  }

  // "12345678" → "1234 5678", as the projector shows it.
  function spaced(code) {
    return code.length === 8 ? code.slice(0, 4) + " " + code.slice(4) : code;
  }

  // A sentence for a failed request: the server's own words, first letter raised.
  function failure(result) {
    const message = Tally.errorMessage(result);
    return message.charAt(0).toUpperCase() + message.slice(1);
  }

  // localStorage if this browser lets the page use it, else null (privacy modes, policies).
  function storage() {
    try {
      const store = window.localStorage;
      store.setItem(KEY_PREFIX + "probe", "1");
      store.removeItem(KEY_PREFIX + "probe");
      return store;
    } catch (e) {
      return null;
    }
  }

  // The presenter's key for `code`: from the address's fragment (which browsers never
  // send) and then kept in localStorage, or from localStorage when the fragment is gone.
  // `kept` says whether the key is safely stored, i.e. a reload without the fragment works.
  function ownerToken(code) {
    let fromHash = "";
    try { fromHash = decodeURIComponent(location.hash.replace(/^#/, "")).trim(); } catch (e) { /* malformed */ }
    const store = storage();
    const name = KEY_PREFIX + code;
    if (fromHash) {
      let kept = false;
      if (store) {
        try {
          store.setItem(name, fromHash);
          kept = store.getItem(name) === fromHash;
        } catch (e) { /* full or refused: keep the fragment */ }
      }
      return { token: fromHash, fromHash: true, kept: kept };
    }
    const stored = store ? store.getItem(name) || "" : "";
    return { token: stored, fromHash: false, kept: !!stored };
  }

  // The room passcode of event `code` as this browser's creation page was shown it (the
  // server keeps only a fingerprint), for the presenter and projector views to show; ""
  // where it is not known here. With `passcode`, keeps it first.
  function roomPasscode(code, passcode) {
    const store = storage();
    if (!store) return passcode || "";
    try {
      if (passcode) store.setItem(PASSCODE_PREFIX + code, passcode);
      return store.getItem(PASSCODE_PREFIX + code) || "";
    } catch (e) {
      return passcode || "";
    }
  }

  // Forgets the stored key for `code` (the fragment, if any, is the caller's business).
  function forgetToken(code) {
    const store = storage();
    if (store) store.removeItem(KEY_PREFIX + code);
  }

  // The event's live feed. `on.event(view)` gets each EventView that is not older than
  // the last one; `on.results(results)` the current question's results, never older than
  // the last of that poll; `on.state(state)` "connecting", "live", "reconnecting" (the
  // socket or the server's own link is down: what is shown may be behind) or "gone"
  // (no such event). `headers` go with the fallback's HTTP requests (the owner's key).
  function Feed(code, on, headers) {
    this.code = code;
    this.on = on;
    this.headers = headers || {};
    this.eventVersion = -Infinity;
    this.current = null;        // the poll of the question shown now
    this.versions = new Map();  // poll → highest results version seen
    // Reconnects with back-off; falls back to refresh() when no socket can be opened.
    this.live = new Tally.LiveSocket("/live/e/" + encodeURIComponent(code), {
      frame: (frame) => {
        if (frame.type === "event") { this.acceptEvent(frame.event); return "live"; }
        if (frame.type === "results") { this.acceptResults(frame.results); return null; }
        if (frame.type === "status") return frame.state === "live" ? "live" : "reconnecting";
        return null;
      },
      state: (state) => on.state(state),
      refresh: () => this.refresh(),
    });
  }

  Feed.prototype.start = function () {
    this.live.start();
  };

  // Takes an EventView unless an older one than already seen; true when taken.
  Feed.prototype.acceptEvent = function (view) {
    if (!view || typeof view.code !== "string" || !Number.isFinite(view.version)) return false;
    if (view.version < this.eventVersion) return false;
    this.eventVersion = view.version;
    this.current = view.current && view.current.poll ? view.current.poll : null;
    this.on.event(view);
    return true;
  };

  // Takes results of the current question unless older than already seen of that poll.
  Feed.prototype.acceptResults = function (results) {
    if (!Tally.isResults(results) || results.poll !== this.current) return false;
    const version = Number(results.version);
    const last = this.versions.get(results.poll);
    if (Number.isFinite(version)) {
      if (last !== undefined && version < last) return false;
      this.versions.set(results.poll, version);
    }
    this.on.results(results);
    return true;
  };

  // No such event: stop for good.
  Feed.prototype.end = function () {
    this.live.end();
  };

  // Asks once over HTTP for the event and its current question's results, through the
  // same checks as the feed's frames (so an answer older than a frame changes nothing).
  Feed.prototype.refresh = async function () {
    const init = { cache: "no-store", headers: this.headers };
    try {
      const r = await Tally.requestJSON("/events/" + encodeURIComponent(this.code), init, 5000);
      if (r.status === 404) { this.end(); return; }
      if (!r.ok || !this.acceptEvent(r.data) || !this.current) return;
      const poll = this.current;
      const results = await Tally.requestJSON("/results/" + encodeURIComponent(poll), init, 5000);
      if (results.ok) this.acceptResults(results.data);
    } catch (e) { /* the next try, or the socket, will do */ }
  };

  // Shows a feed state on the connection indicator `conn` (style.css draws the dot from
  // data-state); `behind` names what may be stale while reconnecting.
  function showConn(conn, state, behind) {
    const texts = {
      connecting: "Connecting…",
      live: "Live",
      reconnecting: "Reconnecting… " + behind + " may be behind.",
      gone: "Not connected",
    };
    conn.dataset.state = state;
    conn.textContent = texts[state] || "";
  }

  window.TallyEvent = { codeFromPath, spaced, failure, ownerToken, forgetToken, roomPasscode, showConn, Feed };
})();
