/* Tally presenter view: changing the questions while the event runs. Every question can
   move up or down; one the room has not seen can also be edited or removed. One form
   adds a question or edits one; an edit starts from the question as it is (its answers
   read from its results). The presenter view (present.js) owns the commands and the
   state: this file only draws the controls and the form. */
(function () {
  "use strict";

  const $ = (id) => document.getElementById(id);
  const LISTED_KINDS = ["single", "multiple", "ranking", "words"];  // the form's kinds but scale

  let host = null;      // { command(action, button, body, statusEl) -> Promise<bool>, auth(), list(), usable(), reorder(polls) }
  let editing = null;   // the poll being edited, or null when adding

  function kind() {
    return $("editor-kind").value;
  }

  // Shows the fields of the kind chosen; hidden fieldsets are disabled, so never read.
  function showKind() {
    const chosen = kind();
    const options = $("editor-options-field");
    options.hidden = chosen === "scale" || chosen === "words";
    const scale = $("editor-scale");
    scale.hidden = scale.disabled = chosen !== "scale";
    const words = $("editor-words");
    words.hidden = words.disabled = chosen !== "words";
  }

  // The question as the vote service reads it, from the form.
  function question() {
    const body = { question: $("editor-text").value.trim() };
    const chosen = kind();
    if (chosen === "scale") {
      body.scale = {
        min: Number($("editor-scale-min").value),
        max: Number($("editor-scale-max").value),
        min_label: $("editor-scale-min-label").value.trim(),
        max_label: $("editor-scale-max-label").value.trim(),
      };
    } else if (chosen === "words") {
      body.choice = "words";
      body.words = {
        max_words: Number($("editor-words-max").value),
        max_chars: Number($("editor-words-chars").value) || 25,
      };
    } else {
      body.choice = chosen;
      body.options = $("editor-options").value.split("\n").map((line) => line.trim()).filter(Boolean);
    }
    return body;
  }

  function open(heading, save) {
    const form = $("question-form");
    $("editor-heading").textContent = heading;
    $("editor-save").textContent = save;
    $("editor-status").textContent = "";
    form.hidden = false;
    showKind();
    $("editor-text").focus();
  }

  function close() {
    $("question-form").hidden = true;
    editing = null;
    $("add-question").focus();
  }

  function startAdding() {
    if (!host.usable()) return;
    editing = null;
    $("question-form").reset();
    open("Add a question", "Add the question");
  }

  // Fills the form with the question of `poll`; its answers come from its results.
  async function startEditing(entry) {
    if (!host.usable()) return;
    editing = entry.poll;
    const form = $("question-form");
    form.reset();
    $("editor-text").value = entry.question;
    $("editor-kind").value = entry.scale ? "scale" : (LISTED_KINDS.includes(entry.choice) ? entry.choice : "single");
    if (entry.scale) {
      $("editor-scale-min").value = String(entry.scale.min);
      $("editor-scale-max").value = String(entry.scale.max);
      $("editor-scale-min-label").value = entry.scale.min_label || "";
      $("editor-scale-max-label").value = entry.scale.max_label || "";
    }
    if (entry.words) {
      $("editor-words-max").value = String(entry.words.max_words);
      $("editor-words-chars").value = String(entry.words.max_chars);
    }
    open("Edit question " + (host.list().findIndex((q) => q.poll === entry.poll) + 1), "Save the question");
    if (entry.scale || entry.choice === "words") return;
    try {
      const r = await Tally.requestJSON("/results/" + encodeURIComponent(entry.poll),
        { cache: "no-store", headers: host.auth() }, 5000);
      if (r.ok && r.data && Array.isArray(r.data.options) && editing === entry.poll) {
        $("editor-options").value = r.data.options.map((o) => o.label).join("\n");
      }
    } catch (e) {
      Tally.announce($("editor-status"), "Could not read the question's answers: type them again.", true);
    }
  }

  async function save(event) {
    event.preventDefault();
    const body = question();
    if (!body.question) {
      Tally.announce($("editor-status"), "Write the question first.", true);
      $("editor-text").focus();
      return;
    }
    const action = editing ? "edit-question" : "add-question";
    if (editing) body.poll = editing;
    if (await host.command(action, $("editor-save"), body, $("editor-status"))) close();
  }

  // The polls in order with the one at `index` moved by `step` (-1 up, +1 down).
  function moved(index, step) {
    const polls = host.list().map((q) => q.poll);
    const [poll] = polls.splice(index, 1);
    polls.splice(index + step, 0, poll);
    return polls;
  }

  function button(text, label, focusKey, onClick) {
    const b = document.createElement("button");
    b.type = "button";
    b.className = "button button--quiet agenda-tool";
    b.textContent = text;
    b.setAttribute("aria-label", label);
    b.dataset.focusKey = focusKey;
    b.addEventListener("click", (event) => onClick(event.currentTarget));
    return b;
  }

  async function move(b, index, step) {
    const polls = moved(index, step);
    if (await host.command("order", b, { polls: polls })) host.reorder(polls);
  }

  // After the agenda is drawn again, the focus goes back to the control it was on (by
  // its question's poll), or to the nearest one of the same question that can be used.
  function refocus(agenda, key) {
    const [kindOfTool, poll] = key.split(":");
    const order = { up: ["up", "down", "show"], down: ["down", "up", "show"] }[kindOfTool] || [kindOfTool, "show"];
    for (const kind of order) {
      const found = agenda.querySelector('[data-focus-key="' + kind + ":" + poll + '"]');
      if (found && !found.disabled) { found.focus(); return; }
    }
  }

  // The tools of the agenda item for `entry` at `index` of `count` questions.
  function decorate(item, entry, index, count) {
    const tools = document.createElement("span");
    tools.className = "agenda-tools";
    const number = index + 1;
    const up = button("↑", "Move question " + number + " up", "up:" + entry.poll, (b) => move(b, index, -1));
    up.disabled = index === 0;
    const down = button("↓", "Move question " + number + " down", "down:" + entry.poll, (b) => move(b, index, 1));
    down.disabled = index === count - 1;
    tools.append(up, down);
    if (!entry.shown) {
      tools.append(button("Edit", "Edit question " + number, "edit:" + entry.poll, () => startEditing(entry)));
      tools.append(button("Remove", "Remove question " + number, "remove:" + entry.poll, (b) => {
        if (window.confirm("Remove question " + number + ", “" + entry.question + "”?")) {
          host.command("remove-question", b, { poll: entry.poll });
        }
      }));
    }
    item.appendChild(tools);
  }

  // Marks the tools usable as the state allows. While a command is on its way they are
  // only marked (aria-disabled), not disabled, so the keyboard focus stays on them; the
  // presenter view ignores presses meanwhile. (The first question's ↑ and the last's ↓
  // are disabled as they are drawn.)
  function paint() {
    const usable = host.usable();
    for (const b of document.querySelectorAll(".agenda-tool")) b.setAttribute("aria-disabled", String(!usable));
    $("add-question").disabled = host.list().length >= 30;
    $("add-question").setAttribute("aria-disabled", String(!usable));
    $("editor-save").setAttribute("aria-disabled", String(!usable));
  }

  function init(presenter) {
    host = presenter;
    $("add-question").addEventListener("click", startAdding);
    $("editor-kind").addEventListener("change", showKind);
    $("editor-cancel").addEventListener("click", close);
    $("question-form").addEventListener("submit", save);
  }

  window.TallyQuestions = { init, decorate, paint, refocus };
})();
