/* Tally presenter view (/e/<code>/present#<key>): paces the room. The private key comes
   in the address's fragment, which browsers never send; requests carry it as a Bearer
   token. Once the server has accepted it and this browser has stored it, the fragment
   is taken out of the address bar (a projected or shared screen shows no key) and a
   reload reads the stored key instead. Where storage is refused, the fragment stays. */
(function () {
  "use strict";

  const SETUP_RETRY_MS = 300;    // a new event appears within a second of its creation
  const SETUP_TRIES = 40;        // then give up: the code names no event
  const LOAD_RETRY_MS = 2000;    // the server did not answer: try again
  const SETTLE_MS = 1500;        // after a command, check over HTTP in case a frame was lost

  const CODE = TallyEvent.codeFromPath();
  const owner = TallyEvent.ownerToken(CODE);
  const $ = (id) => document.getElementById(id);
  const status = $("status");
  const announcer = $("announcer");
  const buttons = {
    previous: $("previous"), next: $("next"), hide: $("hide"), reveal: $("reveal"),
    close: $("close"), reopen: $("reopen"), lock: $("lock"), unlock: $("unlock"),
  };
  const bars = { list: $("results"), draw: null };

  let view = null;     // the latest EventView
  let list = [];       // every question in order (the owner's view only)
  let results = null;  // the current question's results, with counts (the owner's)
  let ready = false;   // the server accepted the key and the event exists
  let busy = false;    // a command is on its way
  let feed = null;
  let fetching = false;
  let fetchAgain = false;

  function auth() {
    return { Authorization: "Bearer " + owner.token };
  }

  function currentPoll() {
    return view && view.current ? view.current.poll : null;
  }

  function count() {
    return view ? Number(view.questions) || list.length : list.length;
  }

  // Results with counts, unless older than the ones shown for the same poll.
  function takeResults(data) {
    if (!Tally.isResults(data) || data.poll !== currentPoll()) return;
    if (results && results.poll === data.poll && Number(data.version) < Number(results.version)) return;
    results = data;
    paint();
  }

  // The owner's copy of the current question's results: counts even while hidden from
  // the room. One request at a time; a change meanwhile asks once more afterwards.
  async function fetchResults() {
    if (fetching) { fetchAgain = true; return; }
    fetching = true;
    try {
      do {
        fetchAgain = false;
        const poll = currentPoll();
        if (!poll) break;
        try {
          const r = await Tally.requestJSON("/results/" + encodeURIComponent(poll),
            { cache: "no-store", headers: auth() }, 5000);
          if (r.ok) takeResults(r.data);
        } catch (e) { /* keep the counts shown; the next change asks again */ }
      } while (fetchAgain);
    } finally {
      fetching = false;
    }
  }

  function onEvent(next) {
    const moved = currentPoll() !== (next.current ? next.current.poll : null);
    if (Array.isArray(next.questions_list)) list = next.questions_list;
    view = next;
    if (moved) {
      results = null;
      bars.list.textContent = "";
      bars.draw = new Tally.Bars(bars.list, true);
      fetchResults();
    }
    paint();
  }

  function onResults(data) {
    // The feed carries the room's view: counts only while the room sees them.
    if (data.hidden === true || !Number.isFinite(data.total)) {
      if (results && results.poll === data.poll) results = Object.assign({}, results, { open: data.open });
      paint();
      fetchResults();
    } else {
      takeResults(data);
    }
  }

  function setConn(state) {
    TallyEvent.showConn($("conn"), state, "the state shown");
    if (state === "gone") {
      ready = false;
      Tally.announce(status, "This event no longer exists.", true);
      paint();
    }
  }

  // Every button, label and list item from the state; runs after each change.
  function paint() {
    if (!view) return;
    const before = document.activeElement;
    const current = view.current;
    const total = count();
    const open = !results || results.open !== false;
    $("title").textContent = view.title;
    document.title = "Present: " + view.title + " — Tally";
    $("code").textContent = TallyEvent.spaced(view.code);
    $("join-code").textContent = TallyEvent.spaced(view.code);
    const passcode = TallyEvent.roomPasscode(view.code);
    $("room-passcode").textContent = passcode;
    $("room-passcode-line").hidden = !passcode;
    $("now-position").textContent = current ?
      "Question " + (current.position + 1) + " of " + total : "No question shown yet";
    $("now-question").textContent = current ? current.question : "The room is waiting for the first question.";
    const facts = [];
    if (current) facts.push(open ? "Voting open" : "Voting closed");
    facts.push(view.results_visible ? "results shown to the room" : "results hidden from the room");
    if (view.locked) facts.push("event locked: no ballots taken");
    const sentence = facts.join(" · ");
    $("now-state").textContent = sentence.charAt(0).toUpperCase() + sentence.slice(1);
    const people = Number(view.participants) || 0;
    $("participants").textContent = new Intl.NumberFormat().format(people) +
      (people === 1 ? " participant" : " participants");

    const position = current ? current.position : -1;
    buttons.previous.disabled = !ready || !current || position <= 0;
    buttons.next.disabled = !ready || position >= total - 1;
    buttons.next.textContent = current ? "Next question →" : "Show the first question";
    buttons.hide.hidden = !view.results_visible;
    buttons.reveal.hidden = view.results_visible;
    buttons.close.hidden = !open;
    buttons.reopen.hidden = open;
    buttons.close.disabled = buttons.reopen.disabled = !ready || !current;
    buttons.lock.hidden = view.locked;
    buttons.unlock.hidden = !view.locked;
    buttons.hide.disabled = buttons.reveal.disabled = !ready;
    buttons.lock.disabled = buttons.unlock.disabled = !ready;
    document.querySelector(".present-now").setAttribute("aria-busy", busy ? "true" : "false");

    paintAgenda(position);
    paintResults();
    paintModeration(current);
    paintBlockList();
    keepFocus(before);
  }

  // A button that just hid itself or went out of use hands the focus to its twin (Hide
  // and Reveal, ...) or to the next usable button in its group, never to the page.
  // In the agenda it stays on the same question, never on another's "Show this one": a
  // second Enter must not show the room a question by accident.
  function keepFocus(before) {
    if (!before || before.tagName !== "BUTTON" || (!before.hidden && !before.disabled)) return;
    const group = before.closest(".actions, .agenda, .moderation");
    if (!group) return;
    const scope = group.classList.contains("agenda") ? before.closest("li") : group;
    if (!scope) return;
    const usable = Array.from(scope.querySelectorAll("button")).filter((b) => !b.hidden && !b.disabled);
    if (usable.length) usable[0].focus();
  }

  function paintAgenda(position) {
    const agenda = $("agenda");
    const signature = list.map((q) => q.poll + (q.shown ? "*" : "")).join(",");
    if (agenda.dataset.signature !== signature) {
      agenda.dataset.signature = signature;
      const focused = agenda.contains(document.activeElement) ? document.activeElement.dataset.focusKey : null;
      agenda.textContent = "";
      list.forEach((question, index) => {
        const item = document.createElement("li");
        item.className = "agenda-item";
        item.innerHTML =
          '<span class="agenda-number" aria-hidden="true"></span>' +
          '<span class="agenda-text"><span class="agenda-question"></span>' +
          '<span class="agenda-kind"></span></span>' +
          '<button class="button button--quiet agenda-show" type="button"></button>';
        item.querySelector(".agenda-number").textContent = String(index + 1);
        item.querySelector(".agenda-question").textContent = question.question;
        item.querySelector(".agenda-kind").textContent = question.scale ?
          "Scale " + question.scale.min + "–" + question.scale.max :
          question.choice === "ranking" ? "Ranking" : question.choice === "words" ? "Word cloud" :
            question.choice === "multiple" ? "Several answers" : "One answer";
        const show = item.querySelector("button");
        show.dataset.focusKey = "show:" + question.poll;
        // The poll names the question even if the list moved since this was drawn.
        show.addEventListener("click", (event) =>
          command("show", event.currentTarget, { position: index, poll: question.poll }));
        TallyQuestions.decorate(item, question, index, list.length);
        agenda.appendChild(item);
      });
      if (focused) TallyQuestions.refocus(agenda, focused);
    }
    TallyQuestions.paint();
    Array.from(agenda.children).forEach((item, index) => {
      const shown = index === position;
      const button = item.querySelector(".agenda-show");
      if (shown) item.setAttribute("aria-current", "step");
      else item.removeAttribute("aria-current");
      button.textContent = shown ? "On screen" : "Show this one";
      button.setAttribute("aria-label", (shown ? "On screen: question " : "Show this one: question ") + (index + 1));
      button.disabled = !ready || shown;
    });
  }

  function paintResults() {
    const totalEl = $("total");
    const have = !!(results && results.poll === currentPoll() && bars.draw);
    $("no-results").hidden = have;
    if (!have) $("summary").hidden = true;
    bars.list.hidden = !have;
    if (!have) {
      totalEl.textContent = currentPoll() ? "Loading the counts…" : "—";
      delete totalEl.dataset.total;
      return;
    }
    bars.list.classList.toggle("results--scale", !!results.scale);
    const shown = bars.draw.update(results, []);
    const summary = $("summary");
    summary.textContent = shown.hidden ? "" : Tally.scaleSummaryText(results);
    summary.hidden = !summary.textContent;
    if (shown.hidden) {
      totalEl.textContent = "Counts unavailable";
      delete totalEl.dataset.total;
    } else {
      totalEl.dataset.total = String(shown.total);
      totalEl.textContent = Tally.totalText(results, shown.total);
    }
  }

  // A word cloud's answers, each with a Hide button, and the hidden ones (from the
  // owner's view of the event) with a Show button. Rebuilt only when either list changes.
  function paintModeration(current) {
    const section = $("moderation");
    const question = current ? list[current.position] : null;
    const cloud = !!(question && question.choice === "words");
    section.hidden = !cloud;
    if (!cloud) return;
    const hiddenWords = Array.isArray(question.hidden_words) ? question.hidden_words : [];
    const shownWords = results && results.poll === current.poll && Array.isArray(results.words) ?
      results.words.map((w) => w.word) : [];
    const signature = current.poll + "|" + shownWords.join("\u001f") + "|" + hiddenWords.join("\u001f");
    if (section.dataset.signature !== signature) {
      section.dataset.signature = signature;
      moderationList($("answers"), shownWords, "hide-word", "Hide", current.poll);
      moderationList($("hidden-answers"), hiddenWords, "show-word", "Show again", current.poll);
    }
    $("no-hidden").hidden = hiddenWords.length > 0;
    for (const button of section.querySelectorAll("button")) button.disabled = !ready || busy;
  }

  // The event's block list, shown while it has a word cloud question. The text area
  // takes the saved list when the list changes, unless the presenter is typing in it.
  function paintBlockList() {
    const section = $("block-list");
    section.hidden = !list.some((question) => question.choice === "words");
    if (section.hidden) return;
    const saved = Array.isArray(view.blocked_words) ? view.blocked_words : [];
    const area = $("blocked-words");
    const signature = saved.join("\n");
    if (area.dataset.saved !== signature && document.activeElement !== area) {
      area.dataset.saved = signature;
      area.value = signature;
    }
    $("save-block-list").disabled = !ready || busy;
  }

  function moderationList(ul, words, action, verb, poll) {
    ul.textContent = "";
    for (const word of words) {
      const item = document.createElement("li");
      const text = document.createElement("span");
      text.textContent = word;
      const button = document.createElement("button");
      button.type = "button";
      button.className = "button button--quiet";
      button.textContent = verb;
      button.setAttribute("aria-label", verb + ": " + word);
      button.dataset.word = word;
      button.addEventListener("click", () => command(action, button, { poll: poll, word: word }));
      item.append(text, button);
      ul.appendChild(item);
    }
  }

  function question(position) {
    const found = list[position];
    return "question " + (position + 1) + (found ? ": " + found.question : "");
  }

  // What the status says once the server took a command.
  function said(action, answer) {
    const position = answer && Number.isInteger(answer.position) ? answer.position : null;
    switch (action) {
      case "show": case "next": case "previous":
        if (position === null) return "Moved on.";
        // No full stop after a question that ends with its own mark.
        return "Showing " + question(position) + (/[.?!…]$/.test(question(position)) ? "" : ".");
      case "reveal": return "The room now sees the results.";
      case "hide": return "The results are hidden from the room.";
      case "close": return "Voting on this question is closed.";
      case "reopen": return "Voting on this question is open again.";
      case "lock": return "The event is locked: it takes no more votes.";
      case "unlock": return "The event takes votes again.";
      case "hide-word": return "“" + (answer && answer.word ? answer.word : "The answer") + "” is hidden from every screen.";
      case "show-word": return "“" + (answer && answer.word ? answer.word : "The answer") + "” is shown again.";
      case "block-words": {
        const n = answer && Array.isArray(answer.blocked_words) ? answer.blocked_words.length : 0;
        return n === 0 ? "The block list is empty: every answer is taken." :
          "The block list is saved: " + n + (n === 1 ? " answer is" : " answers are") + " refused from now on.";
      }
      case "add-question": return "The question is added at the end of the list.";
      case "edit-question": return "The question is saved.";
      case "remove-question": return "The question is removed.";
      case "order": return "The questions are in their new order.";
      default: return "Done.";
    }
  }

  // Sends a command; says how it went (a refusal in `errorStatus` when given) and
  // resolves to whether the server took it.
  async function command(action, button, body, errorStatus) {
    if (busy || !ready || !button || button.disabled) return false;
    const refused = errorStatus || status;
    busy = true;
    paint();
    try {
      const r = await Tally.requestJSON("/events/" + encodeURIComponent(CODE) + "/" + action, {
        method: "POST",
        headers: Object.assign({ "Content-Type": "application/json" }, auth()),
        body: JSON.stringify(body || {}),
      }, 10000);
      if (r.ok) {
        Tally.announce(status, said(action, Object.assign({}, r.data, body && body.word ? { word: body.word } : {})));
        // The worker applies it within moments and the feed says so; should a frame be
        // lost on the way, ask once over HTTP.
        setTimeout(() => feed && feed.refresh(), SETTLE_MS);
        return true;
      }
      if (r.status === 401 || r.status === 403) {
        Tally.announce(refused, "This presenter link is not valid for this event: the command was refused.", true);
      } else {
        Tally.announce(refused, TallyEvent.failure(r), true);
      }
    } catch (e) {
      Tally.announce(refused, "Could not reach the server. Check your connection and try again.", true);
    } finally {
      busy = false;
      paint();
    }
    return false;
  }

  // The first look at the event: the owner's view, with the whole list of questions.
  async function load(tries) {
    let r;
    try {
      r = await Tally.requestJSON("/events/" + encodeURIComponent(CODE), { cache: "no-store", headers: auth() }, 5000);
    } catch (e) {
      Tally.announce(status, "Could not reach the server. Trying again…", true);
      setTimeout(() => load(tries), LOAD_RETRY_MS);
      return;
    }
    if (r.status === 404 && tries < SETUP_TRIES) {
      $("title").textContent = "Setting up your event…";
      setTimeout(() => load(tries + 1), SETUP_RETRY_MS);
      return;
    }
    if (r.status === 404) {
      $("title").textContent = "No such event";
      Tally.announce(status, "There is no event with the code " + TallyEvent.spaced(CODE) + ".", true);
      return;
    }
    if (r.status === 401 || r.status === 403) {
      if (!owner.fromHash) TallyEvent.forgetToken(CODE);
      $("title").textContent = "This presenter link is not valid";
      Tally.announce(status, "The key in this link does not open the event " + TallyEvent.spaced(CODE) +
        ". Use the full presenter link you were given when you created it.", true);
      return;
    }
    if (!r.ok || !r.data) {
      Tally.announce(status, TallyEvent.failure(r) + " Trying again…", true);
      setTimeout(() => load(tries), LOAD_RETRY_MS);
      return;
    }
    ready = true;
    if (owner.kept && owner.fromHash) history.replaceState(null, "", location.pathname + location.search);
    if (!owner.kept) {
      $("key-note").textContent = "Whoever has this link controls the event. This browser cannot " +
        "store the key, so it stays in the address bar: keep the address private.";
      $("forget").hidden = true;
    }
    feed = new TallyEvent.Feed(CODE, { event: onEvent, results: onResults, state: setConn }, auth());
    feed.acceptEvent(r.data);
    feed.start();
  }

  function setLinks() {
    const joinPath = "/j/" + CODE;
    const link = $("join-link");
    link.href = joinPath;
    link.textContent = location.host + joinPath;
    $("screen-link").href = "/e/" + CODE + "/screen";
    $("audience-link").href = "/e/" + CODE;
    const qr = $("qr");
    qr.src = "/e/" + CODE + "/qr.svg";
    qr.alt = "QR code that opens " + location.host + joinPath;
    const presenterUrl = location.origin + "/e/" + CODE + "/present#" + encodeURIComponent(owner.token);
    $("presenter-url").value = presenterUrl;
    $("copy-presenter").addEventListener("click", async () => {
      try {
        await navigator.clipboard.writeText(presenterUrl);
        Tally.announce(status, "Presenter link copied. Keep it private.");
      } catch (e) {
        const input = $("presenter-url");
        input.focus();
        input.select();
        Tally.announce(status, "Press Ctrl+C (or ⌘C) to copy the selected link.");
      }
    });
    $("forget").addEventListener("click", () => {
      TallyEvent.forgetToken(CODE);
      // This tab keeps working: the key goes back into the address, until the tab closes.
      history.replaceState(null, "", location.pathname + "#" + encodeURIComponent(owner.token));
      $("key-note").textContent = "This browser no longer keeps the key. It is back in the address " +
        "bar, so this tab keeps working; copy the presenter link before you close it.";
      $("forget").hidden = true;
      Tally.announce(status, "The key is forgotten on this device.");
    });
  }

  // A presentation clicker sends Page Down / Page Up (or the arrow keys).
  document.addEventListener("keydown", (event) => {
    if (event.altKey || event.ctrlKey || event.metaKey || event.shiftKey || event.defaultPrevented) return;
    const target = event.target;
    if (target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName))) return;
    const action = { ArrowRight: "next", PageDown: "next", ArrowLeft: "previous", PageUp: "previous" }[event.key];
    if (!action) return;
    event.preventDefault();
    command(action, buttons[action]);
  });

  if (!CODE) {
    $("title").textContent = "No such event";
    Tally.announce(status, "This address names no event: it should look like /e/12345678/present#key.", true);
    return;
  }
  if (!owner.token) {
    $("title").textContent = "This presenter link is incomplete";
    Tally.announce(status, "The private key after # is missing from the address. Use the full presenter " +
      "link you were given when you created the event.", true);
    return;
  }
  for (const action of Object.keys(buttons)) {
    buttons[action].addEventListener("click", () => command(action, buttons[action]));
  }
  $("block-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const words = $("blocked-words").value.split("\n").map((line) => line.trim()).filter(Boolean);
    command("block-words", $("save-block-list"), { blocked_words: words });
  });
  TallyQuestions.init({
    command, auth,
    list: () => list,
    usable: () => ready && !busy,
    // The order as the server took it, drawn before the feed confirms it, so a second
    // move starts from the first one's result.
    reorder: (polls) => {
      list = polls.map((poll) => list.find((q) => q.poll === poll)).filter(Boolean);
      paint();
    },
  });
  setLinks();
  load(0);
})();
