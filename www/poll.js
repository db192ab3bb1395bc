/* Tally poll page (/p/<id>, rendered by the server): votes without a reload and keeps
   the counts fresh from the poll's live feed (Tally.PollFeed). Without this script the
   form posts and the page reloads. */
(function () {
  "use strict";

  const main = document.getElementById("main");
  const form = document.getElementById("ballot");
  const status = document.getElementById("status");
  if (!main || !main.dataset.poll) return;
  const POLL = main.dataset.poll;

  function chosen() {
    return form ? Array.from(form.querySelectorAll("input[name=option]:checked")).map((i) => i.value) : [];
  }

  function markMine(ids) {
    for (const row of document.querySelectorAll("#results .result")) {
      let badge = row.querySelector(".result-mine");
      const mine = ids.includes(row.dataset.option);
      if (!badge && mine) {
        badge = document.createElement("span");
        badge.className = "result-mine";
        badge.textContent = "Your vote";
        row.querySelector(".result-label").after(badge);
      }
      if (badge) badge.hidden = !mine;
    }
  }

  // Updates the server-rendered rows in place (the page reloads for other changes).
  function render(data) {
    const list = document.getElementById("results");
    if (!list || !Tally.isResults(data) || data.hidden || !Number.isFinite(data.total)) return;
    const total = data.total;
    for (const option of data.options) {
      const row = list.querySelector('[data-option="' + CSS.escape(option.id) + '"]');
      if (!row) continue;
      const votes = Math.max(0, Number(option.votes) || 0);
      row.dataset.votes = String(votes);
      row.querySelector(".result-count").textContent = Tally.votesText(votes);
      row.querySelector(".result-pct").textContent = Tally.percentText(total > 0 ? (votes / total) * 100 : 0);
      const meter = row.querySelector("progress");
      meter.max = Math.max(1, total);
      meter.value = votes;
    }
    const totalEl = document.getElementById("total");
    if (totalEl) {
      totalEl.dataset.total = String(total);
      totalEl.textContent = Tally.votesText(total);
    }
  }

  async function vote() {
    const options = chosen();
    if (!options.length) {
      Tally.announce(status, "Choose an option first.", true);
      return;
    }
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    form.setAttribute("aria-busy", "true");
    try {
      const r = await Tally.sendBallot(Tally.withCredentials({ poll: POLL, options: options }, form), 10000);
      if (r.ok) {
        Tally.announce(status, "Your vote was received — you can change it while the poll is open.");
        markMine(options);
      } else if (r.status === 409) {
        Tally.announce(status, "This poll is closed: your vote was not counted.", true);
      } else if (r.status === 403) {
        Tally.announce(status, Tally.refusalMessage(r), true);
      } else {
        Tally.announce(status, Tally.errorMessage(r), true);
      }
    } catch (e) {
      Tally.announce(status, "Could not reach the server. Check your connection and try again.", true);
    } finally {
      button.disabled = false;
      form.removeAttribute("aria-busy");
    }
  }

  if (form) {
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      vote();
    });
  }

  // Arrived by the form post's redirect (/p/<id>#voted, #cookie-required): say it once, then drop the
  // fragment so that a reload does not repeat it.
  if (location.hash === "#voted") {
    Tally.announce(status, "Your vote was received — you can change it while the poll is open.");
    history.replaceState(null, "", location.pathname + location.search);
  } else if (location.hash === "#cookie-required") {
    Tally.announce(status, Tally.COOKIE_REQUIRED, true);
    history.replaceState(null, "", location.pathname + location.search);
  }
  markMine(Tally.readChoice(POLL));
  new Tally.PollFeed(POLL, render).start();
})();
