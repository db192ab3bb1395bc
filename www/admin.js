/* Tally admin page (/p/<id>/admin#<token>): the private token stays in the fragment,
   which browsers never send; requests carry it as a Bearer token. The counts follow
   the poll's live feed; while the room's copy hides them, each change is read again
   over HTTP with the token (one request per change, never per second). */
(function () {
  "use strict";

  const SETUP_RETRY_MS = 300; // a fresh poll appears within a second of its creation

  const POLL = Tally.pollFromPath();
  const TOKEN = decodeURIComponent(location.hash.replace(/^#/, ""));
  const question = document.getElementById("question");
  const pollState = document.getElementById("poll-state");
  const status = document.getElementById("status");
  const closeButton = document.getElementById("close");
  const reopenButton = document.getElementById("reopen");
  const csvButton = document.getElementById("csv");
  const totalEl = document.getElementById("total");
  const bars = new Tally.Bars(document.getElementById("results"), false);
  let timer = null;
  let seen = false;
  let feed = null;
  let reading = false;  // an owner's read in flight
  let again = false;    // a change arrived during it: read once more after

  function auth() {
    return { Authorization: "Bearer " + TOKEN };
  }

  function render(data) {
    if (!Tally.isResults(data)) return;
    seen = true;
    question.textContent = data.question;
    document.title = "Manage: " + data.question + " — Tally";
    const open = data.open !== false;
    pollState.textContent = open ? "open" : "closed";
    closeButton.hidden = !open;
    reopenButton.hidden = open;
    const shown = bars.update(data, []);
    if (shown.hidden) {
      totalEl.textContent = "Results hidden";
      delete totalEl.dataset.total;
    } else {
      totalEl.dataset.total = String(shown.total);
      totalEl.textContent = Tally.votesText(shown.total);
    }
  }

  // Reads the owner's copy (counts even while hidden); until the poll exists, tries
  // again shortly, then follows the feed.
  async function refresh() {
    clearTimeout(timer);
    if (reading) { again = true; return; }
    reading = true;
    try {
      const r = await Tally.requestJSON("/results/" + encodeURIComponent(POLL),
        { cache: "no-store", headers: auth() }, 5000);
      if (r.ok) render(r.data);
      else if (r.status === 404 && !seen) { question.textContent = "Setting up your poll…"; timer = setTimeout(refresh, SETUP_RETRY_MS); }
    } catch (e) { /* keep the numbers shown; the next change reads again */ }
    reading = false;
    if (again) { again = false; refresh(); }
    if (seen && !feed) {
      feed = new Tally.PollFeed(POLL, (data) => (data.hidden ? refresh() : render(data)));
      feed.start();
    }
  }

  async function command(action, button) {
    button.disabled = true;
    try {
      const r = await Tally.requestJSON("/polls/" + encodeURIComponent(POLL) + "/" + action,
        { method: "POST", headers: auth() }, 10000);
      if (r.ok) {
        Tally.announce(status, action === "close" ? "The poll is closed: it takes no more votes." :
          "The poll is open again.");
        // The feed shows the change as soon as the worker has applied it.
      } else if (r.status === 401 || r.status === 403) {
        Tally.announce(status, "This admin link is not valid for this poll.", true);
      } else {
        Tally.announce(status, Tally.errorMessage(r), true);
      }
    } catch (e) {
      Tally.announce(status, "Could not reach the server. Check your connection and try again.", true);
    } finally {
      button.disabled = false;
    }
  }

  // fetch with the token, then save the answer through a temporary object URL.
  async function downloadCsv() {
    csvButton.disabled = true;
    try {
      const res = await fetch("/results/" + encodeURIComponent(POLL) + "/csv",
        { headers: auth(), cache: "no-store", credentials: "same-origin" });
      if (!res.ok) {
        let data = null;
        try { data = await res.json(); } catch (e) { /* not JSON */ }
        Tally.announce(status, Tally.errorMessage({ status: res.status, data: data }), true);
        return;
      }
      const blob = await res.blob();
      const disposition = res.headers.get("Content-Disposition") || "";
      const named = /filename="?([^";]+)"?/.exec(disposition);
      const name = Tally.saveFile(named ? named[1] : "tally-" + POLL + ".csv", blob);
      Tally.announce(status, "Results downloaded as " + name + ".");
    } catch (e) {
      Tally.announce(status, "Could not download the results. Try again.", true);
    } finally {
      csvButton.disabled = false;
    }
  }

  if (!POLL || !TOKEN) {
    question.textContent = "This admin link is incomplete";
    Tally.announce(status, "The private key after # is missing from the address. Use the full admin link you were given.", true);
    for (const b of [closeButton, reopenButton, csvButton]) b.disabled = true;
    return;
  }
  const share = location.origin + "/p/" + POLL;
  document.getElementById("share-url").value = share;
  document.getElementById("vote-link").href = "/p/" + POLL;
  document.getElementById("live-link").href = "/p/" + POLL + "/live";
  document.getElementById("copy").addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(share);
      Tally.announce(status, "Link copied.");
    } catch (e) {
      const input = document.getElementById("share-url");
      input.focus();
      input.select();
      Tally.announce(status, "Press Ctrl+C (or ⌘C) to copy the selected link.");
    }
  });
  closeButton.addEventListener("click", () => command("close", closeButton));
  reopenButton.addEventListener("click", () => command("reopen", reopenButton));
  csvButton.addEventListener("click", downloadCsv);
  refresh();
})();
