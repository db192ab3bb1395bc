/* Tally new-event page (/new-event): questions added, removed and put in order before the
   event is created, then sent as JSON; the answer's join code, QR code and private
   presenter link are shown before presenting starts. Without this script the form
   posts one question and the server redirects to the presenter view. */
(function () {
  "use strict";

  const MAX_QUESTIONS = 30;   // what the vote service accepts for one event
  const MAX_OPTIONS = 10;     // what it accepts for one question
  const QR_RETRY_MS = 400;    // the event exists once the worker applied it, within moments
  const QR_TRIES = 20;

  const form = document.getElementById("create-event");
  const list = document.getElementById("questions");
  const addQuestion = document.getElementById("add-question");
  const status = document.getElementById("status");
  const $ = (id) => document.getElementById(id);

  // The first card, clean, as the pattern for every card added later.
  const pattern = list.querySelector(".question-card").cloneNode(true);
  let made = 1; // cards made so far: ids stay unique even after removals

  function cards() {
    return Array.from(list.querySelectorAll(".question-card"));
  }

  // Renumbers legends and tool labels after a card is added, removed or moved, and
  // shows only the tools that can act (no "Move up" on the first card, ...).
  function renumber() {
    const all = cards();
    all.forEach((card, index) => {
      const n = index + 1;
      card.querySelector(".question-legend").textContent = "Question " + n;
      const tools = { ".move-up": "Move question " + n + " up", ".move-down": "Move question " + n + " down",
        ".remove-question": "Remove question " + n };
      for (const [selector, label] of Object.entries(tools)) card.querySelector(selector).setAttribute("aria-label", label);
      card.querySelector(".move-up").hidden = index === 0;
      card.querySelector(".move-down").hidden = index === all.length - 1;
      card.querySelector(".remove-question").hidden = all.length === 1;
    });
    addQuestion.hidden = all.length >= MAX_QUESTIONS;
  }

  // Gives a fresh card's fields ids of their own; radio groups get their own name so
  // each question keeps its own choice (the JSON body does not use the names).
  function identify(card, key) {
    card.dataset.key = key;
    card.querySelectorAll(".field").forEach((field) => {
      const input = field.querySelector("input");
      const label = field.querySelector("label");
      if (!input || !label) return;
      const id = input.id.replace(/^q\d+-/, "q" + key + "-");
      label.htmlFor = input.id = id;
    });
    if (key !== 1) card.querySelectorAll("input[type=radio]").forEach((radio) => { radio.name = "choice-" + key; });
  }

  function newCard() {
    made += 1;
    const card = pattern.cloneNode(true);
    identify(card, made);
    card.querySelectorAll("input[type=text]").forEach((input) => { input.value = ""; });
    return card;
  }

  function addOption(card) {
    const fields = Array.from(card.querySelectorAll(".option-field"));
    if (fields.length >= MAX_OPTIONS) return;
    const n = fields.length + 1;
    const field = fields[fields.length - 1].cloneNode(true);
    const label = field.querySelector("label");
    const input = field.querySelector("input");
    label.htmlFor = input.id = "q" + card.dataset.key + "-option-" + n;
    label.textContent = "Answer " + n;
    input.value = "";
    input.required = false;
    card.querySelector(".add-option").before(field);
    card.querySelector(".add-option").hidden = n >= MAX_OPTIONS;
    input.focus();
  }

  list.addEventListener("click", (event) => {
    const button = event.target.closest("button");
    if (!button) return;
    const card = button.closest(".question-card");
    if (button.classList.contains("add-option")) {
      addOption(card);
    } else if (button.classList.contains("move-up") && card.previousElementSibling) {
      card.previousElementSibling.before(card);
      renumber();
      (button.hidden ? card.querySelector(".move-down") : button).focus();
    } else if (button.classList.contains("move-down") && card.nextElementSibling) {
      card.nextElementSibling.after(card);
      renumber();
      (button.hidden ? card.querySelector(".move-up") : button).focus();
    } else if (button.classList.contains("remove-question") && cards().length > 1) {
      const next = card.nextElementSibling || card.previousElementSibling;
      card.remove();
      renumber();
      next.querySelector(".question-text").focus();
      Tally.announce(status, "Question removed.");
    }
  });

  addQuestion.addEventListener("click", () => {
    if (cards().length >= MAX_QUESTIONS) return;
    const card = newCard();
    list.appendChild(card);
    renumber();
    card.querySelector(".question-text").focus();
  });

  function body() {
    return {
      title: form.elements.title.value.trim(),
      questions: cards().map((card) => ({
        question: card.querySelector(".question-text").value.trim(),
        options: Array.from(card.querySelectorAll(".option-field input"))
          .map((input) => input.value.trim()).filter(Boolean),
        choice: card.querySelector("input[type=radio]:checked").value,
      })),
    };
  }

  // The QR code names an event the worker may not have applied yet: try again shortly.
  function showQr(code, tries) {
    const img = $("created-qr");
    img.onerror = () => {
      if (tries < QR_TRIES) setTimeout(() => showQr(code, tries + 1), QR_RETRY_MS);
    };
    img.src = "/e/" + code + "/qr.svg" + (tries ? "?try=" + tries : "");
  }

  function showCreated(answer) {
    const code = answer.code;
    const presenterUrl = location.origin + answer.presenter_path;
    $("created-code").textContent = code.slice(0, 4) + " " + code.slice(4);
    const join = $("created-join");
    join.href = answer.join_path;
    join.textContent = location.host + answer.join_path;
    $("created-qr").alt = "QR code that opens " + location.host + answer.join_path;
    showQr(code, 0);
    $("created-presenter").value = presenterUrl;
    $("created-screen").href = answer.screen_path;
    $("created-audience").href = answer.audience_path;
    $("open-presenter").href = answer.presenter_path;
    $("copy-presenter").addEventListener("click", async () => {
      try {
        await navigator.clipboard.writeText(presenterUrl);
        Tally.announce(status, "Presenter link copied. Keep it private.");
      } catch (e) {
        const input = $("created-presenter");
        input.focus();
        input.select();
        Tally.announce(status, "Press Ctrl+C (or ⌘C) to copy the selected link.");
      }
    });
    form.hidden = true;
    Tally.announce(status, "");
    const created = $("created");
    created.hidden = false;
    created.focus();
  }

  async function create() {
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    Tally.announce(status, "Creating your event…");
    try {
      const r = await Tally.requestJSON("/events", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(body()),
      }, 10000);
      if (r.ok && r.data && typeof r.data.code === "string" && typeof r.data.presenter_path === "string") {
        showCreated(r.data);
        return;
      }
      Tally.announce(status, Tally.errorMessage(r), true);
    } catch (e) {
      Tally.announce(status, "Could not reach the server. Check your connection and try again.", true);
    }
    button.disabled = false;
  }

  identify(list.querySelector(".question-card"), 1);
  renumber();
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    create();
  });
})();
