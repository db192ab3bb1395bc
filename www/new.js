/* Tally create page: sends the poll as JSON and opens its admin page. Without this
   script the form posts and the server redirects to the same place. */
(function () {
  "use strict";

  const MAX_OPTIONS = 10; // what the vote service accepts

  const form = document.getElementById("create");
  const status = document.getElementById("status");
  const group = document.getElementById("options");
  const add = document.getElementById("add-option");

  function optionFields() {
    return Array.from(group.querySelectorAll(".option-field"));
  }

  function addOption() {
    const fields = optionFields();
    if (fields.length >= MAX_OPTIONS) return;
    const n = fields.length + 1;
    const field = fields[fields.length - 1].cloneNode(true);
    const label = field.querySelector("label");
    const input = field.querySelector("input");
    label.htmlFor = input.id = "option-" + n;
    label.textContent = "Answer " + n;
    input.value = "";
    input.required = false;
    add.before(field);
    input.focus();
    add.hidden = n >= MAX_OPTIONS;
  }

  async function create() {
    const options = optionFields().map((f) => f.querySelector("input").value.trim()).filter(Boolean);
    const closes = form.elements.closes_at.value;
    const body = {
      question: form.elements.question.value.trim(),
      options: options,
      choice: form.elements.choice.value || "single",
      hide_results: form.elements.hide_results.checked,
      identity: form.elements.identity.value || "browser",
    };
    // The field holds local time; the server wants an instant.
    if (closes) body.closes_at = new Date(closes).toISOString();
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    Tally.announce(status, "Creating your poll…");
    try {
      const r = await Tally.requestJSON("/polls", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(body),
      }, 10000);
      if (r.ok && r.data && typeof r.data.admin_path === "string") {
        location.assign(r.data.admin_path);
        return;
      }
      Tally.announce(status, Tally.errorMessage(r), true);
    } catch (e) {
      Tally.announce(status, "Could not reach the server. Check your connection and try again.", true);
    }
    button.disabled = false;
  }

  add.addEventListener("click", addOption);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    create();
  });
})();
