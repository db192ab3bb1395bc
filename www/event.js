/* Tally audience page (/e/<code>, rendered by the server): follows the presenter over
   the event's live feed, so the question, its ballot and its results change in place
   without a reload, and votes without leaving the page. Without this script the page
   shows the question that was current when it loaded, and its form posts. */
(function () {
  "use strict";

  const main = document.getElementById("main");
  if (!main || !main.dataset.event) return; // the join page loads this script too

  // The feed lives in its own file, shared with the presenter and projector views;
  // load it when the page did not. Should it fail, the page stays a working form.
  if (window.TallyEvent) {
    start();
  } else {
    const script = document.createElement("script");
    script.src = "/event-feed.js";
    script.addEventListener("load", start);
    document.head.appendChild(script);
  }

  function start() {
    const RESULTS_GRACE_MS = 1500; // a results frame follows its event frame; ask if it does not

    const CODE = main.dataset.event;
    const card = main.querySelector(".card") || main;
    const fromServer = { poll: main.dataset.poll || "", checked: checkedIn(card), ranked: rankedIn(card) };

    let view = null;        // the latest EventView
    let results = null;     // the latest results of the current question
    let painted = null;     // the poll whose question the page shows (null: waiting)
    let el = null;          // the page's own elements, once it has taken the card over
    let bars = null;
    let graceTimer = null;
    const mine = new Map(); // poll → option ids this browser voted for, this visit
    let arrival = null;     // what a form post's redirect came to say, [text, isError]

    function checkedIn(root) {
      return Array.from(root.querySelectorAll("input[name=option]:checked")).map((i) => i.value);
    }

    // A ranking's order as the page shows it (hidden inputs, one per place), or as the
    // server's page had it (one select per place).
    function rankedIn(root) {
      const fields = root.querySelectorAll(".ranking input[name=option], select[name=option]");
      return Array.from(fields).map((field) => field.value);
    }

    // Replaces the server's markup below the eyebrow with elements this script keeps up
    // to date. Classes and ids are the server page's, so the stylesheet serves both.
    function takeOver() {
      if (el) return;
      const eyebrow = card.querySelector(".eyebrow");
      while (eyebrow && eyebrow.nextSibling) eyebrow.nextSibling.remove();
      const body = document.createElement("div");
      body.className = "event-body";
      body.innerHTML =
        '<p id="position" class="question-position" hidden></p>' +
        '<h1 id="question"></h1>' +
        '<div id="waiting" class="waiting" hidden><p class="hint">The first question appears here ' +
        "as soon as the presenter shows it. There is no need to reload.</p></div>" +
        '<p id="voting-closed" class="banner" hidden></p>' +
        '<form id="ballot" class="ballot" method="post" action="/vote" aria-labelledby="question" hidden>' +
        '<input type="hidden" name="poll">' +
        '<fieldset class="options"><legend id="choice-hint"></legend>' +
        '<p id="scale-ends" class="scale-ends" hidden></p></fieldset>' +
        '<p id="loading-options" class="note" hidden>Loading the answers…</p>' +
        '<div id="passcode-field" class="field credential" hidden><label for="passcode">Room passcode ' +
        '<span class="legend-hint">(the presenter shows it)</span></label>' +
        '<input id="passcode" name="passcode" type="text" maxlength="80" autocomplete="off" ' +
        'autocapitalize="none" spellcheck="false" disabled></div>' +
        '<div id="voter-code-field" class="field credential" hidden><label for="voter-code">Your voter code ' +
        '<span class="legend-hint">(on the slip you were given)</span></label>' +
        '<input id="voter-code" name="code" type="text" maxlength="32" autocomplete="off" ' +
        'autocapitalize="characters" spellcheck="false" placeholder="K7P2Q-9XQ4B" disabled></div>' +
        '<button class="button" type="submit">Vote</button></form>' +
        '<p id="status" class="status" role="status" aria-live="polite"></p>' +
        '<section id="results-section" aria-labelledby="results-heading" hidden>' +
        '<h2 id="results-heading" class="subhead">Results</h2>' +
        '<p id="results-hidden" class="note" hidden>The presenter will reveal the results.</p>' +
        '<ol id="results" class="results" aria-label="Votes per option"></ol>' +
        '<p id="summary" class="scale-summary" hidden></p>' +
        '<p class="meta"><strong id="total"></strong><span id="participants"></span></p>' +
        "</section>" +
        '<p id="conn" class="conn conn--quiet" data-state="connecting"></p>';
      (eyebrow ? eyebrow.after(body) : card.prepend(body));
      el = {};
      for (const node of body.querySelectorAll("[id]")) el[node.id] = node;
      el.options = el.ballot.querySelector(".options");
      el.submit = el.ballot.querySelector("button[type=submit]");
      el.ballot.addEventListener("submit", (event) => {
        event.preventDefault();
        vote();
      });
      // Polite word of a new question, for screen readers; the heading itself is not live.
      el.announcer = document.createElement("p");
      el.announcer.className = "visually-hidden";
      el.announcer.setAttribute("aria-live", "polite");
      document.body.appendChild(el.announcer);
      // The server's status paragraph is gone: say again what it was saying.
      if (arrival) Tally.announce(el.status, arrival[0], arrival[1]);
    }

    function paintEyebrow() {
      const title = card.querySelector(".event-title");
      const code = card.querySelector(".join-code");
      if (title) title.textContent = view.title;
      if (code) code.textContent = TallyEvent.spaced(view.code);
    }

    // Draws the page from `view` and `results`; every step may run again with no harm.
    function paint() {
      if (!view) return;
      const current = view.current;
      const ready = !!(current && results && results.poll === current.poll);
      // Until the first results of the question the server drew arrive, its markup is
      // the better picture: keep it rather than flash an empty form.
      if (!el && current && current.poll === fromServer.poll && !ready) return;
      takeOver();
      paintEyebrow();
      if (!current) {
        if (painted !== null) {
          if (painted) Tally.announce(el.status, "");
          painted = null;
          el.question.textContent = "Waiting for the presenter…";
          document.title = view.title + " — Tally";
        }
        el.waiting.hidden = false;
        el.position.hidden = true;
        el.ballot.hidden = true;
        el["voting-closed"].hidden = true;
        el["results-section"].hidden = true;
        return;
      }
      if (painted !== current.poll) {
        const first = painted === undefined;
        painted = current.poll;
        el.question.textContent = current.question;
        document.title = current.question + " — " + view.title + " — Tally";
        if (!first) Tally.announce(el.status, "");
        el.results.textContent = "";
        bars = new Tally.Bars(el.results, true);
        if (!first) Tally.announce(el.announcer, "New question: " + current.question);
      }
      el.waiting.hidden = true;
      el.position.hidden = false;
      el.position.textContent = "Question " + (current.position + 1) + " of " + view.questions;
      paintBallot(current, ready ? results : null);
      paintResults(ready ? results : null);
    }

    // What a voter types once per event, for this tab: the field, by the identity that
    // asks for it, and where the tab keeps it.
    const CREDENTIALS = {
      passcode: { field: "passcode-field", input: "passcode", key: "tally-passcode:" + CODE },
      code: { field: "voter-code-field", input: "voter-code", key: "tally-voter-code:" + CODE },
    };

    function remembered(key) {
      try {
        return sessionStorage.getItem(key) || "";
      } catch (e) {
        return ""; // storage off: the person types it again
      }
    }

    function remember(key, value) {
      try {
        sessionStorage.setItem(key, value);
      } catch (e) {
        // storage off: nothing to keep it in
      }
    }

    // Shows the one field the question's identity asks for (none for browser or open),
    // filled from this tab's memory.
    function paintCredentials(identity) {
      for (const [name, credential] of Object.entries(CREDENTIALS)) {
        const wanted = identity === name;
        const input = el[credential.input];
        el[credential.field].hidden = !wanted;
        input.disabled = !wanted;
        input.required = wanted;
        if (wanted && !input.value) input.value = remembered(credential.key);
      }
    }

    function rememberCredentials() {
      for (const credential of Object.values(CREDENTIALS)) {
        const input = el[credential.input];
        if (!input.disabled) remember(credential.key, input.value);
      }
    }

    function chosen(poll) {
      return mine.get(poll) || Tally.readChoice(poll);
    }

    // The form for `data` (null while its results are on the way); rebuilt only when
    // the question or its options change, keeping what the person had ticked.
    function paintBallot(current, data) {
      const form = el.ballot;
      // An event behind a room passcode or voter codes asks once; this tab remembers it.
      paintCredentials(data ? data.identity : null);
      const choice = data && data.choice ? data.choice : current.choice;
      const multiple = choice === "multiple";
      const ranking = choice === "ranking";
      const words = choice === "words";
      const limits = (data && data.word_limits) || current.words || { max_words: 3, max_chars: 25 };
      const scale = data && data.scale ? data.scale : current.scale;
      el["choice-hint"].textContent = words ?
        (limits.max_words === 1 ? "Write your answer, a word or two." :
          "Write up to " + limits.max_words + " answers, a word or two each.") +
        " You can change them while voting is open." : scale ?
        "Pick a number from " + scale.min + " to " + scale.max + ". You can change your vote while voting is open." :
        ranking ? "Put every option in order, your favourite first: move them with the arrows. You can change your vote while voting is open." :
          multiple ? "Pick one or more. You can change your vote while voting is open." :
            "Pick one. You can change your vote while voting is open.";
      el["scale-ends"].textContent = Tally.scaleEndsText(scale);
      el["scale-ends"].hidden = !el["scale-ends"].textContent;
      el.options.classList.toggle("options--scale", !!scale);
      const signature = !data ? "" : words ?
        current.poll + "|words|" + limits.max_words + "|" + limits.max_chars :
        current.poll + "|" + choice + "|" + data.options.map((o) => o.id + "=" + (o.label || "")).join("|");
      if (form.dataset.signature !== signature) {
        const samePoll = form.elements.poll.value === current.poll;
        const keep = samePoll ? (ranking ? rankedIn(form) : words ? typedIn(form) : checkedIn(form)) :
          words ? mine.get(current.poll) || [] :
          current.poll === fromServer.poll && fromServer.checked.length ? fromServer.checked :
            current.poll === fromServer.poll && fromServer.ranked.length ? fromServer.ranked :
              chosen(current.poll);
        for (const label of el.options.querySelectorAll(".option, .ranking, .word-field, .word-limit")) label.remove();
        form.elements.poll.value = current.poll;
        form.dataset.signature = signature;
        el.submit.textContent = words ? "Send" : "Vote";
        if (words) {
          if (data) wordFields(limits, keep);
          return paintVoting(data);
        }
        if (ranking) {
          rankingList(data ? data.options : [], keep);
          return paintVoting(data);
        }
        (data ? data.options : []).forEach((option, index) => {
          const label = document.createElement("label");
          label.className = scale ? "option option--point" : "option option--c" + (index % 4);
          const input = document.createElement("input");
          input.type = multiple ? "checkbox" : "radio";
          input.name = "option";
          input.value = option.id;
          input.checked = keep.includes(option.id);
          const text = document.createElement("span");
          text.className = "option-label";
          text.textContent = option.label || option.id;
          label.append(input, text);
          el.options.appendChild(label);
        });
      }
      paintVoting(data);
    }

    // One text field per answer the question takes, holding `keep` (what this browser
    // wrote), the first one required.
    function wordFields(limits, keep) {
      for (let index = 0; index < limits.max_words; index++) {
        const label = document.createElement("label");
        label.className = "word-field";
        const name = document.createElement("span");
        name.className = "visually-hidden";
        name.textContent = "Answer " + (index + 1);
        const input = document.createElement("input");
        input.type = "text";
        input.name = "word";
        // Browsers count UTF-16 units (an emoji is two), and the service trims
        // before it counts characters: it says what is too long, not the field.
        input.maxLength = limits.max_chars * 2;
        input.autocomplete = "off";
        input.setAttribute("autocapitalize", "none");
        input.spellcheck = false;
        input.enterKeyHint = "send";
        input.value = keep[index] || "";
        label.append(name, input);
        el.options.appendChild(label);
      }
      const note = document.createElement("p");
      note.className = "hint word-limit";
      note.textContent = "At most " + limits.max_chars + " characters each.";
      el.options.appendChild(note);
    }

    function typedIn(root) {
      return Array.from(root.querySelectorAll("input[name=word]")).map((i) => i.value.trim()).filter(Boolean);
    }

    // A ranking's options in the order `keep` names (when it names every one), each
    // with buttons that move it up or down a place; focus follows the moved option.
    function rankingList(options, keep) {
      const ids = options.map((o) => o.id);
      const order = keep.length === ids.length && ids.every((id) => keep.includes(id)) ?
        keep.map((id) => options[ids.indexOf(id)]) : options.slice();
      const list = document.createElement("ol");
      list.className = "ranking";
      order.forEach((option, index) => {
        const item = document.createElement("li");
        item.className = "option option--rank option--c" + (ids.indexOf(option.id) % 4);
        item.innerHTML = '<input type="hidden" name="option"><span class="rank-place"></span>' +
          '<span class="option-label"></span><span class="rank-moves">' +
          '<button type="button" class="rank-move" data-move="-1"><span aria-hidden="true">↑</span></button>' +
          '<button type="button" class="rank-move" data-move="1"><span aria-hidden="true">↓</span></button></span>';
        item.querySelector("input").value = option.id;
        const label = option.label || option.id;
        item.querySelector(".option-label").textContent = label;
        item.querySelector('[data-move="-1"]').setAttribute("aria-label", "Move " + label + " up");
        item.querySelector('[data-move="1"]').setAttribute("aria-label", "Move " + label + " down");
        list.appendChild(item);
      });
      list.addEventListener("click", (event) => {
        const button = event.target.closest(".rank-move");
        if (!button) return;
        const item = button.closest("li");
        const sibling = button.dataset.move === "-1" ? item.previousElementSibling : item.nextElementSibling;
        if (!sibling) return;
        if (button.dataset.move === "-1") sibling.before(item); else sibling.after(item);
        numberPlaces(list);
        // At the top or the bottom the pressed button is disabled: focus its neighbour.
        const other = item.querySelector('[data-move="' + (button.dataset.move === "-1" ? "1" : "-1") + '"]');
        (button.disabled ? other : button).focus();
        const place = Array.from(list.children).indexOf(item);
        Tally.announce(el.status, item.querySelector(".option-label").textContent + " is now " + ordinal(place) + ".");
      });
      el.options.appendChild(list);
      numberPlaces(list);
    }

    function numberPlaces(list) {
      Array.from(list.children).forEach((item, index) => {
        item.querySelector(".rank-place").textContent = ordinal(index);
        item.querySelector('[data-move="-1"]').disabled = index === 0;
        item.querySelector('[data-move="1"]').disabled = index === list.children.length - 1;
      });
    }

    // "1st", "2nd", "3rd", "4th" for the place at `index` (0 for the first).
    function ordinal(index) {
      const n = index + 1;
      const teen = n % 100 >= 11 && n % 100 <= 13;
      const suffix = teen ? "th" : ({ 1: "st", 2: "nd", 3: "rd" })[n % 10] || "th";
      return n + suffix;
    }

    // Whether the form is shown, takes votes, or says why not.
    function paintVoting(data) {
      const form = el.ballot;
      el["loading-options"].hidden = !!data;
      el.options.hidden = !data;
      el.submit.disabled = !data || form.getAttribute("aria-busy") === "true";
      let closed = "";
      if (view.locked) closed = "Voting is closed: the presenter has locked this event.";
      else if (data && data.open === false) closed = "Voting is closed for this question.";
      el["voting-closed"].textContent = closed;
      el["voting-closed"].hidden = !closed;
      form.hidden = !!closed;
    }

    function paintResults(data) {
      el["results-section"].hidden = !data;
      if (!data) return;
      const people = Number(view.participants) || 0;
      el.participants.textContent = people === 1 ? "1 person has voted in this event" :
        new Intl.NumberFormat().format(people) + " people have voted in this event";
      const hidden = !view.results_visible || data.hidden === true || !Number.isFinite(data.total);
      el["results-hidden"].hidden = !hidden;
      el.results.hidden = hidden;
      el.total.hidden = hidden;
      el.summary.textContent = hidden ? "" : Tally.scaleSummaryText(data);
      el.summary.hidden = !el.summary.textContent;
      if (hidden) return;
      el.results.classList.toggle("results--scale", !!data.scale);
      const shown = bars.update(data, chosen(data.poll));
      el.total.textContent = Tally.totalText(data, shown.total);
      el.total.dataset.total = String(shown.total);
    }

    // The results frame comes right after a new question's event frame; if it is lost
    // on the way (a reconnect in between), ask once over HTTP.
    function expectResults() {
      clearTimeout(graceTimer);
      if (!view || !view.current || (results && results.poll === view.current.poll)) return;
      graceTimer = setTimeout(() => feed.refresh(), RESULTS_GRACE_MS);
    }

    async function vote() {
      const form = el.ballot;
      const poll = form.elements.poll.value;
      const words = !!form.querySelector(".word-field");
      const options = words ? typedIn(form) : form.querySelector(".ranking") ? rankedIn(form) : checkedIn(form);
      if (!options.length) {
        Tally.announce(el.status, words ? "Write an answer first." : "Choose an answer first.", true);
        return;
      }
      el.submit.disabled = true;
      form.setAttribute("aria-busy", "true");
      try {
        const ballot = words ? { poll: poll, words: options } : { poll: poll, options: options };
        const r = await Tally.sendBallot(Tally.withCredentials(ballot, form), 10000);
        if (r.ok) {
          rememberCredentials();
          mine.set(poll, options);
          Tally.announce(el.status, words ?
            "Your answers were received — you can change them while voting is open." :
            "Your vote was received — you can change it while voting is open.");
        } else {
          // Not the current question any more, locked, or closed: the server says which.
          const why = r.status === 403 ? Tally.refusalMessage(r) : TallyEvent.failure(r) + (r.status === 409 ? " Your vote was not counted." : "");
          Tally.announce(el.status, why, true);
          if (r.status === 409) feed.refresh();
        }
      } catch (e) {
        Tally.announce(el.status, "Could not reach the server. Check your connection and try again.", true);
      } finally {
        form.removeAttribute("aria-busy");
        paint();
      }
    }

    function setConn(state) {
      if (!el) return;
      TallyEvent.showConn(el.conn, state, "what you see");
    }

    let connState = "connecting";
    const feed = new TallyEvent.Feed(CODE, {
      event: (next) => {
        const moved = !view || !next.current || !view.current || next.current.poll !== view.current.poll;
        view = next;
        if (moved && (!next.current || !results || results.poll !== next.current.poll)) results = null;
        paint();
        setConn(connState);
        if (moved) expectResults();
      },
      results: (next) => {
        results = next;
        clearTimeout(graceTimer);
        paint();
        setConn(connState);
      },
      state: (state) => {
        connState = state;
        if (state === "gone") {
          takeOver();
          painted = null;
          el.question.textContent = "No such event";
          el.waiting.hidden = true;
          el.ballot.hidden = true;
          el["results-section"].hidden = true;
          Tally.announce(el.status, "There is no event with this code. Check the code on the presenter's screen.", true);
        }
        setConn(state);
      },
    });

    // Arrived by a form post's redirect (/e/<code>#voted): say it once, then drop the
    // fragment so that a reload does not repeat it.
    const arrivals = {
      "#voted": ["Your vote was received — you can change it while voting is open.", false],
      "#closed": ["Voting is closed: your vote was not counted.", true],
      "#not-current": ["The presenter had moved on, so that vote was not counted. This is the question now.", true],
      "#cookie-required": [Tally.COOKIE_REQUIRED, true],
    };
    arrival = arrivals[location.hash] || null;
    if (arrival) {
      const status = document.getElementById("status");
      if (status) Tally.announce(status, arrival[0], arrival[1]);
      history.replaceState(null, "", location.pathname + location.search);
    }
    painted = undefined; // the first question drawn is not announced as a new one
    feed.start();
  }
})();
