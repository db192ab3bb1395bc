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

  window.Tally = {
    readChoice, requestJSON, errorMessage, isResults, votesText, percentText,
    pollFromPath, reducedMotion, announce, Bars, scaleSummaryText, scaleEndsText,
  };
})();
