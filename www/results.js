/* Tally results page: the default poll's results, live over its WebSocket feed
   (Tally.PollFeed, which asks over HTTP only while no WebSocket can be opened). */
(function () {
  "use strict";

  const POLL = "default";
  const list = document.getElementById("results");
  const template = document.getElementById("result-template");
  const question = document.getElementById("question");
  const total = document.getElementById("total");
  const updated = document.getElementById("updated");
  const conn = document.getElementById("conn");
  const rows = new Map(); // option id -> <li>
  const count = new Intl.NumberFormat();
  const percent = new Intl.NumberFormat(undefined, { minimumFractionDigits: 1, maximumFractionDigits: 1 });
  const PALETTE = 4; // style.css defines --c0 … --c3
  let lastVersion = null;

  function rowFor(option, index) {
    let row = rows.get(option.id);
    if (!row) {
      row = template.content.firstElementChild.cloneNode(true);
      row.classList.add("result--c" + (index % PALETTE));
      list.appendChild(row);
      row.offsetWidth; // lay out at width 0 first so the bar grows into place
      rows.set(option.id, row);
    }
    return row;
  }

  function render(data) {
    if (data.version !== undefined && data.version === lastVersion) return;
    lastVersion = data.version;

    if (typeof data.question === "string" && data.question) {
      question.textContent = data.question;
      document.title = "Results: " + data.question + " — Tally";
    }

    const votes = data.options.map((o) => Math.max(0, Number(o.votes) || 0));
    const sum = Number.isFinite(data.total) ? data.total : votes.reduce((a, b) => a + b, 0);
    const mine = Tally.readChoice(POLL);
    const seen = new Set();

    data.options.forEach((option, i) => {
      const row = rowFor(option, i);
      const share = sum > 0 ? (votes[i] / sum) * 100 : 0;
      seen.add(option.id);
      row.querySelector(".result-label").textContent = option.label || option.id;
      row.querySelector(".result-mine").hidden = !mine.includes(option.id);
      row.querySelector(".result-count").textContent =
        count.format(votes[i]) + (votes[i] === 1 ? " vote" : " votes");
      row.querySelector(".result-pct").textContent = percent.format(share) + "%";
      row.querySelector(".result-bar").style.width = Math.min(100, share) + "%";
    });
    for (const [id, row] of rows) {
      if (!seen.has(id)) { row.remove(); rows.delete(id); }
    }

    total.textContent = count.format(sum) + (sum === 1 ? " vote" : " votes");
    const when = new Date(data.updated_at);
    if (data.updated_at && !isNaN(when)) {
      updated.dateTime = data.updated_at;
      updated.textContent = when.toLocaleTimeString();
    }
  }

  const feed = new Tally.PollFeed(POLL, render, (state) => {
    // Keep the last numbers on screen while the feed comes back.
    conn.textContent = state === "reconnecting" ? "Reconnecting…" : "";
  });
  feed.start();
})();
