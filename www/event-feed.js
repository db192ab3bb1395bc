/* Tally events: what the audience page, the presenter view and the projector view
   share. The join code in the address, the presenter's key, and the event's live feed
   (/live/e/<code>), which reconnects with back-off, drops stale frames and, when no
   WebSocket can be opened at all, falls back to asking over HTTP every few seconds. */
(function () {
  "use strict";

  const RETRY_FIRST_MS = 500;       // first reconnect soon: most drops are brief
  const RETRY_MAX_MS = 15000;       // never wait longer than this between tries
  const FALLBACK_AFTER = 3;         // sockets in a row that never got a frame before polling
  const FALLBACK_EVERY_MS = 3000;   // polling is the exception: a few seconds behind is fine
  const NO_SUCH_EVENT = 4404;       // close code the result service uses
  const KEY_PREFIX = "tally_presenter_"; // localStorage name of a presenter key, per code

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
    this.socket = null;
    this.attempt = 0;
    this.silent = 0;            // sockets in a row that closed before their first frame
    this.retryTimer = null;
    this.pollTimer = null;
    this.gone = false;
    this.eventVersion = -Infinity;
    this.current = null;        // the poll of the question shown now
    this.versions = new Map();  // poll → highest results version seen
    window.addEventListener("online", () => this.nudge());
    document.addEventListener("visibilitychange", () => { if (!document.hidden) this.nudge(); });
  }

  Feed.prototype.start = function () {
    this.on.state("connecting");
    this.connect();
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

  Feed.prototype.url = function () {
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    return scheme + location.host + "/live/e/" + encodeURIComponent(this.code);
  };

  Feed.prototype.connect = function () {
    clearTimeout(this.retryTimer);
    this.retryTimer = null;
    if (this.gone) return;
    let ws;
    try {
      ws = new WebSocket(this.url());
    } catch (e) {
      this.silent += 1;
      this.retry();
      return;
    }
    this.socket = ws;
    let heard = false;
    ws.addEventListener("message", (message) => {
      let frame;
      try { frame = JSON.parse(message.data); } catch (e) { return; }
      if (!heard) {
        heard = true;
        this.attempt = 0;
        this.silent = 0;
        this.stopPolling();
      }
      if (frame.type === "event") {
        this.on.state("live");
        this.acceptEvent(frame.event);
      } else if (frame.type === "results") {
        this.acceptResults(frame.results);
      } else if (frame.type === "status") {
        this.on.state(frame.state === "live" ? "live" : "reconnecting");
      }
    });
    ws.addEventListener("close", (event) => {
      if (this.socket !== ws) return;
      this.socket = null;
      if (event.code === NO_SUCH_EVENT) {
        this.end();
        return;
      }
      if (!heard) this.silent += 1;
      this.retry();
    });
  };

  // Exponential back-off with jitter, so a restarted server is not hit by every phone at once.
  Feed.prototype.retry = function () {
    this.on.state("reconnecting");
    if (this.silent >= FALLBACK_AFTER) this.startPolling();
    const ceiling = Math.min(RETRY_MAX_MS, RETRY_FIRST_MS * Math.pow(2, this.attempt));
    this.attempt += 1;
    this.retryTimer = setTimeout(() => this.connect(), ceiling / 2 + Math.random() * (ceiling / 2));
  };

  // Back online or back in view: try at once instead of waiting out the back-off.
  Feed.prototype.nudge = function () {
    if (!this.socket && this.retryTimer && !this.gone) this.connect();
  };

  Feed.prototype.end = function () {
    this.gone = true;
    clearTimeout(this.retryTimer);
    this.stopPolling();
    if (this.socket) this.socket.close();
    this.on.state("gone");
  };

  Feed.prototype.startPolling = function () {
    if (this.pollTimer || this.gone) return;
    const tick = async () => {
      await this.refresh();
      if (this.pollTimer) this.pollTimer = setTimeout(tick, FALLBACK_EVERY_MS);
    };
    this.pollTimer = setTimeout(tick, 0);
  };

  Feed.prototype.stopPolling = function () {
    clearTimeout(this.pollTimer);
    this.pollTimer = null;
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

  window.TallyEvent = { codeFromPath, spaced, failure, ownerToken, forgetToken, showConn, Feed };
})();
