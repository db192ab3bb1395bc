/* Tally vote page: sends votes without a reload and shows the voter's current choice. */
(function () {
  "use strict";

  const POLL = "default";
  const form = document.getElementById("ballot");
  const status = document.getElementById("status");
  const question = document.getElementById("question");
  const buttons = Array.from(form.querySelectorAll("button[name=vote]"));
  let busy = false;
  let announceTimer = null;

  function labelOf(id) {
    const button = buttons.find((b) => b.value === id);
    return button ? button.querySelector(".choice-label").textContent : id;
  }

  function markChosen(ids) {
    for (const b of buttons) b.setAttribute("aria-pressed", String(ids.includes(b.value)));
  }

  // Empty the live region first so that the same message twice is announced twice.
  function say(text, isError) {
    clearTimeout(announceTimer);
    status.textContent = "";
    status.classList.toggle("status--error", !!isError);
    announceTimer = setTimeout(() => { status.textContent = text; }, 60);
  }

  function received(id) {
    say("Your vote for " + labelOf(id) + " was received — you can change it.");
  }

  function setBusy(on) {
    busy = on;
    form.setAttribute("aria-busy", String(on));
    for (const b of buttons) b.disabled = on;
  }

  // Question and labels are configurable on the server; keep the HTML defaults on failure.
  async function loadPoll() {
    try {
      const r = await Tally.requestJSON("/results", { cache: "no-store" }, 5000);
      if (!r.ok || !Tally.isResults(r.data)) return;
      if (typeof r.data.question === "string" && r.data.question) {
        question.textContent = r.data.question;
        document.title = r.data.question + " — Tally";
      }
      for (const option of r.data.options) {
        const button = buttons.find((b) => b.value === option.id);
        if (button && typeof option.label === "string" && option.label) {
          button.querySelector(".choice-label").textContent = option.label;
        }
      }
    } catch (e) { /* offline or slow: the defaults stay */ }
  }

  async function vote(button) {
    const id = button.value;
    setBusy(true);
    try {
      const r = await Tally.requestJSON("/vote", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ poll: POLL, option: id }),
      }, 10000);
      if (r.ok) {
        const cookie = Tally.readChoice(POLL);
        markChosen(cookie.includes(id) ? cookie : [id]);
        received(id);
      } else {
        say(Tally.errorMessage(r), true);
      }
    } catch (e) {
      say("Could not reach the server. Check your connection and try again.", true);
    } finally {
      setBusy(false);
      // Disabling the button took its focus away; give it back unless the user moved on.
      if (document.activeElement === document.body || document.activeElement === null) {
        button.focus({ preventScroll: true });
      }
    }
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const button = event.submitter || document.activeElement;
    if (busy || !button || button.name !== "vote") return;
    vote(button);
  });

  markChosen(Tally.readChoice(POLL));

  loadPoll().then(() => {
    // Arrived here by the no-JavaScript form post (303 to /#voted-a): say it once, then
    // drop the fragment so that a reload does not repeat it.
    const match = /^#voted-(.+)$/.exec(location.hash);
    const id = match ? match[1] : "";
    if (buttons.some((b) => b.value === id)) {
      const cookie = Tally.readChoice(POLL);
      if (!cookie.length) markChosen([id]);
      received(id);
      history.replaceState(null, "", location.pathname + location.search);
    }
  });
})();
