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

  // What kind of question a card asks, and a scale's range and ends. Built here, not
  // in the page: without this script the form posts written answers only.
  function addKindFields(card) {
    const kind = document.createElement("fieldset");
    kind.className = "field-group kind-group";
    kind.innerHTML = '<legend>Kind of question</legend>' +
      '<label class="check"><input type="radio" name="kind" value="answers" checked> Answers to pick from</label>' +
      '<label class="check"><input type="radio" name="kind" value="scale"> A scale (1 to 5, 0 to 10…)</label>' +
      '<label class="check"><input type="radio" name="kind" value="words"> Written answers, shown as a word cloud</label>';
    const words = document.createElement("fieldset");
    words.className = "field-group words-group";
    words.hidden = words.disabled = true;
    words.innerHTML = '<legend>Word cloud</legend>' +
      '<div class="field"><label for="q1-words-max">Answers per person</label><select id="q1-words-max" class="words-max">' +
      Array.from({ length: 10 }, (_, i) => i + 1)
        .map((n) => '<option value="' + n + '"' + (n === 3 ? " selected" : "") + ">" + n + "</option>").join("") +
      "</select></div>" +
      '<div class="field"><label for="q1-words-chars">Longest answer, in characters</label>' +
      '<input id="q1-words-chars" class="words-chars" type="number" min="1" max="40" value="25" inputmode="numeric"></div>' +
      '<p class="field-hint">Answers that differ only in case, ' +
      "spaces or punctuation count as one; you can hide any answer while presenting.</p>";
    const scale = document.createElement("fieldset");
    scale.className = "field-group scale-group";
    scale.hidden = scale.disabled = true;
    const points = (from, to, chosen) => Array.from({ length: to - from + 1 }, (_, i) => from + i)
      .map((n) => '<option value="' + n + '"' + (n === chosen ? " selected" : "") + ">" + n + "</option>").join("");
    scale.innerHTML = '<legend>Scale</legend>' +
      '<div class="scale-range">' +
      '<div class="field"><label for="q1-scale-min">From</label><select id="q1-scale-min" class="scale-min">' +
      points(0, 1, 1) + "</select></div>" +
      '<div class="field"><label for="q1-scale-max">To</label><select id="q1-scale-max" class="scale-max">' +
      points(3, 10, 5) + "</select></div></div>" +
      '<div class="field"><label for="q1-scale-min-label">What the lowest means <span class="legend-hint">(optional)</span></label>' +
      '<input id="q1-scale-min-label" class="scale-min-label" type="text" maxlength="60" autocomplete="off" placeholder="Not at all"></div>' +
      '<div class="field"><label for="q1-scale-max-label">What the highest means <span class="legend-hint">(optional)</span></label>' +
      '<input id="q1-scale-max-label" class="scale-max-label" type="text" maxlength="60" autocomplete="off" placeholder="Completely"></div>';
    card.querySelector(".question-text").closest(".field").after(kind);
    card.querySelector(".choice-group").after(scale);
    scale.after(words);
  }

  // Shows the answers or the scale of `card`, as its kind says. A disabled fieldset's
  // fields are neither validated nor sent, so required answers do not block a scale.
  function showKind(card) {
    const kind = kindOf(card);
    for (const selector of [".option-group", ".choice-group"]) {
      const group = card.querySelector(selector);
      group.hidden = group.disabled = kind !== "answers";
    }
    const scale = card.querySelector(".scale-group");
    scale.hidden = scale.disabled = kind !== "scale";
    const words = card.querySelector(".words-group");
    words.hidden = words.disabled = kind !== "words";
  }

  // "answers", "scale" or "words".
  function kindOf(card) {
    const kind = card.querySelector(".kind-group input:checked");
    return kind ? kind.value : "answers";
  }

  function isScale(card) {
    return kindOf(card) === "scale";
  }

  addKindFields(list.querySelector(".question-card"));
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
      const input = field.querySelector("input, select");
      const label = field.querySelector("label");
      if (!input || !label) return;
      const id = input.id.replace(/^q\d+-/, "q" + key + "-");
      label.htmlFor = input.id = id;
    });
    if (key !== 1) {
      card.querySelectorAll("input[type=radio]").forEach((radio) => {
        radio.name = radio.name.replace(/-\d+$/, "") + "-" + key;
      });
    }
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

  list.addEventListener("change", (event) => {
    if (event.target.matches(".kind-group input")) showKind(event.target.closest(".question-card"));
  });

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

  const identityFields = Tally.identityChoice(form);

  function body() {
    const blocked = form.elements.blocked_words ? form.elements.blocked_words.value : "";
    return {
      title: form.elements.title.value.trim(),
      ...identityFields(),
      blocked_words: blocked.split(/[\n,]/).map((word) => word.trim()).filter(Boolean),
      questions: cards().map((card) => {
        const question = card.querySelector(".question-text").value.trim();
        if (kindOf(card) === "words") {
          return { question, words: {
            max_words: Number(card.querySelector(".words-max").value),
            max_chars: Number(card.querySelector(".words-chars").value) || 25,
          } };
        }
        if (isScale(card)) {
          return {
            question,
            scale: {
              min: Number(card.querySelector(".scale-min").value),
              max: Number(card.querySelector(".scale-max").value),
              min_label: card.querySelector(".scale-min-label").value.trim(),
              max_label: card.querySelector(".scale-max-label").value.trim(),
            },
          };
        }
        return {
          question,
          options: Array.from(card.querySelectorAll(".option-field input"))
            .map((input) => input.value.trim()).filter(Boolean),
          choice: card.querySelector(".choice-group input:checked").value,
        };
      }),
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
    Tally.showVoterCodes(answer.voter_codes || [], form.elements.title.value.trim(),
      location.origin + answer.join_path, "tally-event-" + code + "-codes.csv", status);
    if (answer.passcode) TallyEvent.roomPasscode(code, answer.passcode);
    Tally.showPasscode(answer.passcode);
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
