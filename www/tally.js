/* Tally: small helpers shared by every page's script: requests, cookies, figures, bars. */
(function () {
  "use strict";

  // Lets the CSS tell the JavaScript experience apart from the plain HTML one.
  document.documentElement.classList.add("js");

  // The option ids of the current choice, from the readable cookie `tally_choice_<poll>`
  // that the server sets after a vote ("a", or "a,c" for multiple choice).
  function readChoice(poll) {
    const name = "tally_choice_" + poll + "=";
    for (const part of document.cookie.split(";")) {
      const item = part.trim();
      if (item.startsWith(name)) {
        let value = item.slice(name.length).replace(/^"|"$/g, "");
        try { value = decodeURIComponent(value); } catch (e) { /* keep it as it is */ }
        return value.split(",").map((s) => s.trim()).filter(Boolean);
      }
    }
    return [];
  }

  // fetch() that always resolves to { ok, status, data, retryAfter } once the server
  // answered (data is the parsed JSON body or null), and rejects on network failure
  // or when no answer came within timeoutMs.
  async function requestJSON(url, options, timeoutMs) {
    const init = Object.assign({ credentials: "same-origin" }, options);
    init.headers = Object.assign({ Accept: "application/json" }, init.headers);
    const controller = new AbortController();
    init.signal = controller.signal;
    const timer = setTimeout(() => controller.abort(), timeoutMs || 10000);
    try {
      const res = await fetch(url, init);
      let data = null;
      try { data = await res.json(); } catch (e) { /* not JSON */ }
      return { ok: res.ok, status: res.status, data: data, retryAfter: res.headers.get("Retry-After") };
    } finally {
      clearTimeout(timer);
    }
  }

  // What a voter reads when a ballot was refused for want of the voter cookie.
  const COOKIE_REQUIRED = "Your vote was not counted: this poll takes one vote per browser, " +
    "and this browser did not send Tally's cookie. Allow cookies for this site, reload the page and vote again.";

  // POST /vote with `ballot` (JSON). A poll that takes one vote per browser refuses a
  // ballot without the voter cookie (403), which the edge hands out with this page: a
  // browser that lost it (the page came from its cache, or the hall's address was over
  // its rate when it loaded) fetches the page again for one, then sends the ballot once
  // more.
  async function sendBallot(ballot, timeoutMs) {
    const post = () => requestJSON("/vote", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(ballot),
    }, timeoutMs);
    const first = await post();
    // Only a missing cookie is mended by the page; a code or passcode refusal is not.
    const reason = first.data && first.data.reason;
    if (first.status !== 403 || (reason && reason !== "voter_cookie_required")) return first;
    try {
      await fetch(location.pathname, { credentials: "same-origin", cache: "no-store" });
    } catch (e) {
      return first;
    }
    return post();
  }

  // The voter code or room passcode typed in `form`, added to `ballot` where the form
  // asks for one (the server draws the field for polls that take it).
  function withCredentials(ballot, form) {
    for (const name of ["code", "passcode"]) {
      const field = form && form.elements[name];
      if (field && !field.disabled) ballot[name] = field.value;
    }
    return ballot;
  }

  // What a voter reads when a ballot was refused with 403: the cookie's sentence, or
  // the server's own (a code or passcode that is missing or wrong).
  function refusalMessage(result) {
    const reason = result.data && result.data.reason;
    return !reason || reason === "voter_cookie_required" ? COOKIE_REQUIRED : errorMessage(result);
  }

  // A sentence for a failed request, preferring the server's own {"error": "..."}.
  function errorMessage(result) {
    const fromServer = result.data && typeof result.data.error === "string" && result.data.error.trim();
    let message = fromServer || "Something went wrong (HTTP " + result.status + ").";
    if (!/[.!?]$/.test(message)) message += ".";
    const seconds = parseInt(result.retryAfter, 10);
    if (result.status === 503 && seconds > 0) {
      message += " Please try again in " + seconds + (seconds === 1 ? " second." : " seconds.");
    } else if (result.status === 429 || result.status === 503) {
      message += " Please try again in a moment.";
    }
    return message;
  }

  // True when `data` looks like a GET /results answer.
  function isResults(data) {
    return !!data && Array.isArray(data.options) &&
      data.options.every((o) => o && typeof o.id === "string");
  }

  const counter = new Intl.NumberFormat();
  const percenter = new Intl.NumberFormat(undefined, { minimumFractionDigits: 1, maximumFractionDigits: 1 });

  // "1 vote", "1,024 votes".
  function votesText(n) {
    return counter.format(n) + (n === 1 ? " vote" : " votes");
  }

  // "66.7%".
  function percentText(share) {
    return percenter.format(share) + "%";
  }

  // The poll id in a poll page's address (/p/<id>, /p/<id>/live, /p/<id>/admin), or "".
  function pollFromPath() {
    const match = /^\/p\/([A-Za-z0-9_-]{1,64})(?:\/|$)/.exec(location.pathname);
    return match ? match[1] : "";
  }

  function reducedMotion() {
    return window.matchMedia("(prefers-reduced-motion: reduce)").matches;
  }

  // The live region `element` says `text` (emptied first, so the same text is said again).
  function announce(element, text, isError) {
    clearTimeout(element._tallyTimer);
    element.textContent = "";
    element.classList.toggle("status--error", !!isError);
    element._tallyTimer = setTimeout(() => { element.textContent = text; }, 60);
  }

  // Bars for a results document in the <ol> `list`: one row per option, the bar as wide
  // as the option's share of ballots. With `animate`, counts roll to their new values
  // (not when the reader prefers reduced motion). Rows carry data-votes at once.
  function Bars(list, animate) {
    this.list = list;
    this.animate = !!animate;
    this.rows = new Map();
    this.PALETTE = 4; // style.css defines --c0 … --c3
    this.label = list.getAttribute("aria-label");
  }

  Bars.prototype.row = function (option, index) {
    let row = this.rows.get(option.id);
    if (row) return row;
    row = document.createElement("li");
    row.className = "result result--c" + (index % this.PALETTE);
    row.dataset.option = option.id;
    row.innerHTML =
      '<div class="result-head"><span class="result-label"></span>' +
      '<span class="result-mine" hidden>Your vote</span>' +
      '<span class="result-figures"><span class="result-count"></span> · ' +
      '<span class="result-pct"></span></span></div>' +
      '<div class="result-track" aria-hidden="true"><div class="result-bar"></div></div>';
    this.list.appendChild(row);
    row.offsetWidth; // lay out at width 0 first so the bar grows into place
    this.rows.set(option.id, row);
    return row;
  };

  Bars.prototype.update = function (data, mine) {
    if (data.choice === "words") return this.cloud(data);
    this.list.classList.remove("results--cloud");
    if (this.label) this.list.setAttribute("aria-label", this.label);
    const hidden = !!data.hidden || data.total === null ||
      data.options.some((o) => o.votes === null || o.votes === undefined);
    // A ranking's bars are Borda points, longest first, out of a first place on every
    // ballot; any other question's are votes, in display order, out of the ballots.
    const ranking = data.choice === "ranking";
    const value = (o) => Math.max(0, Number(ranking ? o.score : o.votes) || 0);
    const votes = data.options.map((o) => Math.max(0, Number(o.votes) || 0));
    const total = Number.isFinite(data.total) ? data.total : votes.reduce((a, b) => a + b, 0);
    const full = ranking ? total * Math.max(1, data.options.length - 1) : total;
    const order = data.options.map((option, i) => i);
    if (ranking && !hidden) order.sort((a, b) => value(data.options[b]) - value(data.options[a]) || a - b);
    this.list.classList.toggle("results--ranking", ranking);
    const seen = new Set();
    order.forEach((i) => {
      const option = data.options[i];
      const row = this.row(option, i);
      if (ranking) this.list.appendChild(row); // in score order
      seen.add(option.id);
      row.querySelector(".result-label").textContent = option.label || option.id;
      row.querySelector(".result-mine").hidden = ranking || !(mine || []).includes(option.id);
      if (hidden) {
        delete row.dataset.votes;
        row.querySelector(".result-count").textContent = "hidden";
        row.querySelector(".result-pct").textContent = "—";
        row.querySelector(".result-bar").style.width = "0%";
        return;
      }
      const now = value(option);
      const before = Number(row.dataset.votes || 0);
      row.dataset.votes = String(now);
      row.querySelector(".result-bar").style.width = Math.min(100, full > 0 ? (now / full) * 100 : 0) + "%";
      const countEl = row.querySelector(".result-count");
      const pctEl = row.querySelector(".result-pct");
      const firsts = ranking && Array.isArray(option.places) ? Number(option.places[0]) || 0 : 0;
      this.roll(row, before, now, (n) => {
        if (ranking) {
          // The points are the figure people compare: in the place a share takes.
          countEl.textContent = counter.format(firsts) + (firsts === 1 ? " first place" : " first places");
          pctEl.textContent = pointsText(n);
        } else {
          countEl.textContent = votesText(n);
          pctEl.textContent = percentText(total > 0 ? (n / total) * 100 : 0);
        }
      });
    });
    for (const [id, row] of this.rows) {
      if (!seen.has(id)) { row.remove(); this.rows.delete(id); }
    }
    return { hidden: hidden, total: hidden ? null : total };
  };

  // A word cloud question's answers as a cloud: one item per answer, its size growing
  // with the share of participants who gave it. Items are placed in an order fixed by
  // the answer itself (not its count), so the cloud grows in place instead of
  // reshuffling with every ballot; each says its count to screen readers.
  Bars.prototype.cloud = function (data) {
    this.list.classList.add("results--cloud");
    this.list.setAttribute("aria-label", "Answers, larger the more people gave them");
    const hidden = !!data.hidden || data.total === null || !Array.isArray(data.words);
    const words = hidden ? [] : data.words;
    const total = Number.isFinite(data.total) ? data.total : 0;
    const most = words.reduce((m, w) => Math.max(m, Number(w.count) || 0), 1);
    const seen = new Set();
    words.slice().sort((a, b) => wordHash(a.word) - wordHash(b.word) || (a.word < b.word ? -1 : 1))
      .forEach((entry) => {
        const key = "word:" + entry.word;
        let item = this.rows.get(key);
        if (!item) {
          item = document.createElement("li");
          item.className = "cloud-word";
          item.innerHTML = '<span class="cloud-text"></span> <span class="cloud-count"></span>';
          item.querySelector(".cloud-text").textContent = entry.word;
          this.rows.set(key, item);
        }
        this.list.appendChild(item); // in the fixed order
        seen.add(key);
        const count = Math.max(0, Number(entry.count) || 0);
        item.dataset.word = entry.word;
        item.dataset.count = String(count);
        item.classList.remove("cloud-word--c0", "cloud-word--c1", "cloud-word--c2", "cloud-word--c3");
        item.classList.add("cloud-word--c" + (wordHash(entry.word) % this.PALETTE));
        // From 1 to CLOUD_STEPS by the count's share of the largest.
        const step = 1 + Math.round((count / most) * (CLOUD_STEPS - 1));
        item.style.setProperty("--cloud-step", String(step));
        item.querySelector(".cloud-count").textContent = counter.format(count);
        item.setAttribute("aria-label", entry.word + ": " + (count === 1 ? "1 person" : counter.format(count) + " people"));
      });
    for (const [key, item] of this.rows) {
      if (!seen.has(key)) { item.remove(); this.rows.delete(key); }
    }
    return { hidden: hidden, total: hidden ? null : total };
  };

  const CLOUD_STEPS = 6; // sizes an answer can take (style.css scales --cloud-step)

  // A small, stable number for a word: its place in the cloud does not depend on counts.
  function wordHash(word) {
    let hash = 2166136261;
    for (let i = 0; i < word.length; i++) {
      hash ^= word.charCodeAt(i);
      hash = Math.imul(hash, 16777619) >>> 0;
    }
    return hash;
  }

  // "1 person answered", "1,024 people answered".
  function answeredText(n) {
    return (n === 1 ? "1 person" : counter.format(n) + " people") + " answered";
  }

  // The total under a question's results: ballots, or people for a word cloud.
  function totalText(data, n) {
    return data && data.choice === "words" ? answeredText(n) : votesText(n);
  }

  // Shows a row's figures with show(n), rolling n from `from` to `to`.
  Bars.prototype.roll = function (row, from, to, show) {
    cancelAnimationFrame(row._tallyFrame);
    if (!this.animate || reducedMotion() || from === to) { show(to); return; }
    const DURATION_MS = 600;
    const start = performance.now();
    const step = (now) => {
      const t = Math.min(1, (now - start) / DURATION_MS);
      const eased = 1 - Math.pow(1 - t, 3);
      show(t >= 1 ? to : Math.round(from + (to - from) * eased));
      if (t < 1) row._tallyFrame = requestAnimationFrame(step);
    };
    row._tallyFrame = requestAnimationFrame(step);
  };

  // "1 point", "12 points" (a ranking's Borda score).
  function pointsText(n) {
    return counter.format(n) + (n === 1 ? " point" : " points");
  }

  const RETRY_FIRST_MS = 500;       // first reconnect soon: most drops are brief
  const RETRY_MAX_MS = 15000;       // never wait longer than this between tries
  const FALLBACK_AFTER = 3;         // sockets in a row that never got a frame before polling
  const FALLBACK_EVERY_MS = 3000;   // polling is the exception: a few seconds behind is fine
  const NO_SUCH_THING = 4404;       // close code the result service uses for an unknown poll or event

  // A WebSocket to one of the result service's live feeds (`path`, e.g. /live/<poll>)
  // that reconnects with back-off and jitter and, when sockets keep closing before
  // their first frame (a proxy that refuses WebSockets), asks over HTTP every few
  // seconds until one works again. `on.frame(frame)` gets each parsed frame and returns
  // the state it means ("live", "reconnecting") or nothing; `on.state(state)` hears
  // "connecting", "live", "reconnecting" and "gone" (the feed's subject does not
  // exist); `on.refresh()` is one ask over HTTP, for the fallback.
  function LiveSocket(path, on) {
    this.path = path;
    this.on = on;
    this.socket = null;
    this.attempt = 0;
    this.silent = 0;            // sockets in a row that closed before their first frame
    this.retryTimer = null;
    this.pollTimer = null;
    this.gone = false;
    window.addEventListener("online", () => this.nudge());
    document.addEventListener("visibilitychange", () => { if (!document.hidden) this.nudge(); });
  }

  LiveSocket.prototype.start = function () {
    this.on.state("connecting");
    this.connect();
  };

  LiveSocket.prototype.connect = function () {
    clearTimeout(this.retryTimer);
    this.retryTimer = null;
    if (this.gone) return;
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    let ws;
    try {
      ws = new WebSocket(scheme + location.host + this.path);
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
      const state = this.on.frame(frame);
      if (state) this.on.state(state);
    });
    ws.addEventListener("close", (event) => {
      if (this.socket !== ws) return;
      this.socket = null;
      if (event.code === NO_SUCH_THING) {
        this.end();
        return;
      }
      if (!heard) this.silent += 1;
      this.retry();
    });
  };

  // Exponential back-off with jitter, so a restarted server is not hit by every screen at once.
  LiveSocket.prototype.retry = function () {
    this.on.state("reconnecting");
    if (this.silent >= FALLBACK_AFTER) this.startPolling();
    const ceiling = Math.min(RETRY_MAX_MS, RETRY_FIRST_MS * Math.pow(2, this.attempt));
    this.attempt += 1;
    this.retryTimer = setTimeout(() => this.connect(), ceiling / 2 + Math.random() * (ceiling / 2));
  };

  // Back online or back in view: try at once instead of waiting out the back-off.
  LiveSocket.prototype.nudge = function () {
    if (!this.socket && this.retryTimer && !this.gone) this.connect();
  };

  // The feed's subject does not exist: stop for good.
  LiveSocket.prototype.end = function () {
    this.gone = true;
    clearTimeout(this.retryTimer);
    this.stopPolling();
    if (this.socket) this.socket.close();
    this.on.state("gone");
  };

  LiveSocket.prototype.startPolling = function () {
    if (this.pollTimer || this.gone) return;
    const tick = async () => {
      await this.on.refresh();
      if (this.pollTimer) this.pollTimer = setTimeout(tick, FALLBACK_EVERY_MS);
    };
    this.pollTimer = setTimeout(tick, 0);
  };

  LiveSocket.prototype.stopPolling = function () {
    clearTimeout(this.pollTimer);
    this.pollTimer = null;
  };

  // The live results of `poll` (/live/<poll>): `onResults(results)` gets every results
  // document not older than the last, from the socket or, while it cannot open, from
  // GET /results/<poll>; `onState(state)` as LiveSocket's.
  function PollFeed(poll, onResults, onState) {
    let version = -Infinity;
    const take = (results) => {
      if (!isResults(results) || results.poll !== poll) return;
      const next = Number(results.version);
      if (Number.isFinite(next)) {
        if (next < version) return;
        version = next;
      }
      onResults(results);
    };
    this.socket = new LiveSocket("/live/" + encodeURIComponent(poll), {
      frame: (frame) => {
        if (frame.type === "results") { take(frame.results); return "live"; }
        if (frame.type === "status") return frame.state === "live" ? "live" : "reconnecting";
        return null;
      },
      state: onState || (() => {}),
      refresh: async () => {
        try {
          const r = await requestJSON("/results/" + encodeURIComponent(poll), { cache: "no-store" }, 5000);
          if (r.status === 404) this.socket.end();
          else if (r.ok) take(r.data);
        } catch (e) { /* the next try, or the socket, will do */ }
      },
    });
  }

  PollFeed.prototype.start = function () { this.socket.start(); };

  const averager = new Intl.NumberFormat(undefined, { maximumFractionDigits: 1 });

  // "Mean 6.8 · median 8.5" for a scale question's results, "" for any other (or while
  // nobody answered, or while the counts are hidden).
  function scaleSummaryText(data) {
    const summary = data && data.scale ? data.summary : null;
    if (!summary || !Number.isFinite(summary.mean) || !Number.isFinite(summary.median)) return "";
    return "Mean " + averager.format(summary.mean) + " · median " + averager.format(summary.median);
  }

  // "0 = Not at all · 10 = Certainly" (what a scale's ends mean), "" without labels.
  function scaleEndsText(scale) {
    if (!scale) return "";
    const ends = [];
    if (scale.min_label) ends.push(scale.min + " = " + scale.min_label);
    if (scale.max_label) ends.push(scale.max + " = " + scale.max_label);
    return ends.join(" · ");
  }

  // One CSV line (RFC 4180): fields quoted where they hold a comma, quote or line break.
  function csvRow(fields) {
    return fields.map((field) => {
      const text = String(field);
      return /[",\r\n]/.test(text) ? '"' + text.replace(/"/g, '""') + '"' : text;
    }).join(",") + "\r\n";
  }

  // Saves `blob` as a download called `name` through a temporary object URL; returns the name.
  function saveFile(name, blob) {
    const link = document.createElement("a");
    link.href = URL.createObjectURL(blob);
    link.download = name;
    document.body.appendChild(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 10000);
    return name;
  }

  // A creation form's "Who may vote" group (.identity-group): shows the detail field of
  // the chosen identity only (`code` needs this script, so its fields start disabled), and
  // returns what to add to the request: the identity, with its passcode or code count.
  function identityChoice(form) {
    const group = form.querySelector(".identity-group");
    function show() {
      const chosen = form.elements.identity.value;
      for (const detail of group.querySelectorAll(".identity-detail")) {
        const shown = detail.dataset.identity === chosen;
        detail.hidden = !shown;
        for (const input of detail.querySelectorAll("input")) input.disabled = !shown;
      }
    }
    group.addEventListener("change", show);
    for (const input of group.querySelectorAll("input[disabled]")) input.disabled = false;
    show();
    return () => {
      const fields = { identity: form.elements.identity.value || "browser" };
      const passcode = form.elements.passcode.value.trim();
      if (fields.identity === "passcode" && passcode) fields.passcode = passcode;
      if (fields.identity === "code") fields.voter_codes = Number(form.elements.voter_codes.value);
      return fields;
    };
  }

  // The room passcode a creation answered with, in #created-passcode-block; nothing when none.
  function showPasscode(passcode) {
    if (!passcode) return;
    document.getElementById("created-passcode").textContent = passcode;
    document.getElementById("created-passcode-block").hidden = false;
  }

  // The voter codes a creation answered with, shown the one time they can be: slips in
  // #created-codes naming `caption` and `link` (the page prints as a sheet of them), and
  // #download-codes saving them as a CSV (code, link) called `name`. Nothing when none.
  function showVoterCodes(codes, caption, link, name, status) {
    if (!codes.length) return;
    const list = document.getElementById("created-codes");
    const where = caption + " · " + link.replace(/^https?:\/\//, "");
    for (const code of codes) {
      const item = document.createElement("li");
      item.className = "voter-code";
      const text = document.createElement("span");
      text.className = "join-code";
      text.textContent = code;
      const note = document.createElement("span");
      note.className = "voter-code-where";
      note.textContent = where;
      item.append(text, note);
      list.appendChild(item);
    }
    // Printed, the sheet holds the slips alone: never a passcode or a presenter's link.
    window.addEventListener("afterprint", () => document.body.classList.remove("printing-codes"));
    document.getElementById("print-codes").addEventListener("click", () => {
      document.body.classList.add("printing-codes");
      window.print();
    });
    document.getElementById("download-codes").addEventListener("click", () => {
      const csv = csvRow(["code", "link"]) + codes.map((code) => csvRow([code, link])).join("");
      saveFile(name, new Blob([csv], { type: "text/csv;charset=utf-8" }));
      announce(status, "Voter codes downloaded as " + name + ".");
    });
    document.getElementById("created-codes-block").hidden = false;
  }

  window.Tally = {
    readChoice, requestJSON, sendBallot, withCredentials, refusalMessage, COOKIE_REQUIRED, errorMessage, isResults, votesText, percentText,
    pollFromPath, reducedMotion, announce, Bars, LiveSocket, PollFeed, scaleSummaryText, scaleEndsText,
    answeredText, totalText, csvRow, saveFile, identityChoice, showPasscode, showVoterCodes,
  };
})();
