/* Tally results page: polls GET /results every second while the page is visible. */
(function () {
  "use strict";

  const POLL = "default";
  const INTERVAL_MS = 1000;
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
  let timer = null;
  let inFlight = false;
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

  function schedule() {
    clearTimeout(timer);
    timer = document.hidden ? null : setTimeout(poll, INTERVAL_MS);
  }

  async function poll() {
    timer = null;
    if (inFlight || document.hidden) return;
    inFlight = true;
    try {
      const r = await Tally.requestJSON("/results", { cache: "no-store" }, 5000);
      if (!r.ok || !Tally.isResults(r.data)) throw new Error("HTTP " + r.status);
      render(r.data);
      conn.textContent = "";
    } catch (e) {
      // Keep the last numbers on screen and keep trying.
      if (conn.textContent !== "Reconnecting…") conn.textContent = "Reconnecting…";
    } finally {
      inFlight = false;
      schedule();
    }
  }

  document.addEventListener("visibilitychange", () => {
    if (document.hidden) {
      clearTimeout(timer);
      timer = null;
    } else if (!inFlight) {
      poll();
    }
  });

  poll();
})();
