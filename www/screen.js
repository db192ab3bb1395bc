/* Tally projector view (/e/<code>/screen): the question the presenter shows, its live
   results as big bars, and how to join (link, code, QR code) in a corner. Follows the
   presenter over the event's feed; no key needed, it shows only what the room sees. */
(function () {
  "use strict";

  const RESULTS_GRACE_MS = 1500; // a results frame follows its event frame; ask if it does not

  const CODE = TallyEvent.codeFromPath();
  const $ = (id) => document.getElementById(id);
  const question = $("question");
  const notice = $("notice");
  const list = $("results");
  const totalEl = $("total");
  const announcer = $("announcer");

  let view = null;
  let results = null;
  let shownPoll;       // the poll whose bars are drawn (undefined: nothing drawn yet)
  let bars = null;

  function showNotice(text) {
    notice.hidden = !text;
    notice.textContent = text || "";
  }

  function setConn(state) {
    TallyEvent.showConn($("conn"), state, "the numbers shown");
    if (state === "gone") {
      question.textContent = "No such event";
      showNotice("There is no event with the code " + TallyEvent.spaced(CODE) + ".");
    }
  }

  function paint() {
    if (!view) return;
    const current = view.current;
    $("event-title").textContent = view.title;
    const people = Number(view.participants) || 0;
    $("participants").textContent = new Intl.NumberFormat().format(people) +
      (people === 1 ? " participant" : " participants");
    if ((current ? current.poll : null) !== shownPoll) {
      const first = shownPoll === undefined;
      shownPoll = current ? current.poll : null;
      list.textContent = "";
      bars = new Tally.Bars(list, true);
      if (!first && current) Tally.announce(announcer, "New question: " + current.question);
    }
    if (!current) {
      question.textContent = "Waiting for the presenter…";
      document.title = view.title + " — projector — Tally";
      $("position").textContent = view.questions + (view.questions === 1 ? " question" : " questions");
      showNotice("Join now: the first question appears here when the presenter shows it.");
      list.hidden = true;
      totalEl.textContent = "—";
      delete totalEl.dataset.total;
      return;
    }
    question.textContent = current.question;
    document.title = current.question + " — projector — Tally";
    $("position").textContent = "Question " + (current.position + 1) + " of " + view.questions;
    const data = results && results.poll === current.poll ? results : null;
    list.hidden = !data;
    const ends = $("scale-ends");
    ends.textContent = Tally.scaleEndsText(data ? data.scale : current.scale);
    ends.hidden = !ends.textContent;
    const summary = $("summary");
    summary.hidden = true; // until results that the room may see say otherwise
    if (!data) {
      showNotice("");
      return;
    }
    // Hidden from the room: the answers, without counts or bars.
    const hidden = !view.results_visible || data.hidden === true || !Number.isFinite(data.total);
    list.classList.toggle("results--hidden", hidden);
    list.classList.toggle("results--scale", !!data.scale);
    const shown = bars.update(data, []);
    summary.textContent = hidden ? "" : Tally.scaleSummaryText(data);
    summary.hidden = !summary.textContent;
    const closed = data.open === false || view.locked;
    if (hidden) {
      showNotice((closed ? "Voting is closed. " : "Vote now! ") + "The presenter will reveal the results.");
      totalEl.textContent = "Results hidden";
      delete totalEl.dataset.total;
    } else {
      showNotice(closed ? "Voting is closed." : "");
      totalEl.dataset.total = String(shown.total);
      totalEl.textContent = Tally.totalText(data, shown.total);
    }
  }

  if (!CODE) {
    question.textContent = "No such event";
    showNotice("This address names no event: it should look like /e/12345678/screen.");
    setConn("gone");
    return;
  }
  const joinPath = "/j/" + CODE;
  const link = $("join-link");
  link.href = joinPath;
  link.textContent = location.host + joinPath;
  $("join-code").textContent = TallyEvent.spaced(CODE);
  const passcode = TallyEvent.roomPasscode(CODE);
  $("room-passcode").textContent = passcode;
  $("room-passcode").hidden = $("room-passcode-label").hidden = !passcode;
  const qr = $("qr");
  qr.src = "/e/" + CODE + "/qr.svg";
  qr.alt = "QR code that opens " + location.host + joinPath;

  const feed = new TallyEvent.Feed(CODE, {
    event: (next) => {
      const moved = !view || (view.current ? view.current.poll : null) !== (next.current ? next.current.poll : null);
      view = next;
      if (moved) {
        results = null;
        // Its results frame follows at once; should it be lost in a reconnect, ask once.
        if (next.current) setTimeout(() => { if (!results) feed.refresh(); }, RESULTS_GRACE_MS);
      }
      paint();
    },
    results: (next) => {
      results = next;
      paint();
    },
    state: setConn,
  });
  feed.start();
})();
