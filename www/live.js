/* Tally live results: the poll's tallies over a WebSocket (/live/<poll>, Tally.PollFeed),
   drawn as big bars for a projector; says so while the feed reconnects. */
(function () {
  "use strict";

  const POLL = Tally.pollFromPath();
  const ANNOUNCE_EVERY_MS = 5000;    // a screen reader hears a summary at most this often

  const question = document.getElementById("question");
  const pollState = document.getElementById("poll-state");
  const notice = document.getElementById("notice");
  const totalEl = document.getElementById("total");
  const conn = document.getElementById("conn");
  const announcer = document.getElementById("announcer");
  const bars = new Tally.Bars(document.getElementById("results"), true);

  let gone = false;
  let lastTotal = null;
  let lastVersion = null;
  let announceTimer = null;
  let latest = null;

  function setConn(state, text) {
    conn.dataset.state = state;
    conn.textContent = text;
  }

  function showNotice(text) {
    notice.hidden = !text;
    notice.textContent = text || "";
  }

  function render(data) {
    if (!Tally.isResults(data)) return;
    if (data.version !== undefined && data.version === lastVersion && latest) return;
    lastVersion = data.version;
    latest = data;
    if (typeof data.question === "string" && data.question) {
      question.textContent = data.question;
      document.title = data.question + " — live results — Tally";
    }
    const shown = bars.update(data, []);
    const closed = data.open === false;
    pollState.textContent = closed ? "Final results" : "Live results";
    if (shown.hidden) {
      showNotice("Results are hidden until the poll closes. Votes are being counted.");
      totalEl.textContent = "Results hidden";
      delete totalEl.dataset.total;
    } else {
      showNotice(closed ? "This poll is closed." : "");
      totalEl.dataset.total = String(shown.total);
      totalEl.textContent = Tally.votesText(shown.total);
    }
    if (lastTotal !== null && shown.total !== lastTotal) scheduleAnnouncement();
    lastTotal = shown.total;
  }

  // One polite summary of the latest numbers, at most every ANNOUNCE_EVERY_MS.
  function scheduleAnnouncement() {
    if (announceTimer) return;
    announceTimer = setTimeout(() => {
      announceTimer = null;
      if (!latest || latest.hidden) return;
      const total = Number(latest.total) || 0;
      const parts = latest.options.map((o) => {
        const share = total > 0 ? ((Number(o.votes) || 0) / total) * 100 : 0;
        return (o.label || o.id) + " " + Tally.percentText(share);
      });
      Tally.announce(announcer, Tally.votesText(total) + ". " + parts.join(", ") + ".");
    }, ANNOUNCE_EVERY_MS);
  }

  // The feed reconnects with back-off by itself, and asks over HTTP while it cannot.
  const feed = new Tally.PollFeed(POLL, render, (state) => {
    if (state === "live") setConn("live", "Live");
    else if (state === "reconnecting") setConn("reconnecting", "Reconnecting… the numbers shown may be behind.");
    else if (state === "gone") noSuchPoll();
  });

  function noSuchPoll() {
    gone = true;
    setConn("gone", "Not connected");
    question.textContent = "No such poll";
    showNotice("There is no such poll. Check the address.");
  }

  async function firstPaint() {
    try {
      const r = await Tally.requestJSON("/results/" + encodeURIComponent(POLL), { cache: "no-store" }, 5000);
      if (r.status === 404) {
        if (!gone) feed.socket.end();
        return;
      }
      if (r.ok && !latest) render(r.data);
    } catch (e) { /* the socket's snapshot will do */ }
  }

  if (!POLL) {
    question.textContent = "No such poll";
    showNotice("This address names no poll.");
    setConn("gone", "Not connected");
    return;
  }
  const share = location.host + "/p/" + POLL;
  const link = document.getElementById("share-link");
  link.href = "/p/" + POLL;
  link.textContent = share;
  const qr = document.getElementById("qr");
  qr.src = "/p/" + encodeURIComponent(POLL) + "/qr.svg";
  qr.alt = "QR code that opens " + share;
  feed.start();
  firstPaint();
})();
