/* Tally create page: sends the poll as JSON and opens its admin page. A poll behind
   voter codes or a room passcode first shows them, once (the server keeps only their
   fingerprints), with the codes to print or download as CSV. Without this script the
   form posts and the server redirects to the admin page. */
(function () {
  "use strict";

  const MAX_OPTIONS = 10; // what the vote service accepts

  const form = document.getElementById("create");
  const status = document.getElementById("status");
  const group = document.getElementById("options");
  const add = document.getElementById("add-option");
  const identityFields = Tally.identityChoice(form);

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
      ...identityFields(),
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
        if (r.data.voter_codes && r.data.voter_codes.length || r.data.passcode) showCreated(r.data, body.question);
        else location.assign(r.data.admin_path);
        return;
      }
      Tally.announce(status, Tally.errorMessage(r), true);
    } catch (e) {
      Tally.announce(status, "Could not reach the server. Check your connection and try again.", true);
    }
    button.disabled = false;
  }

  // What only this once can be shown: the drawn or typed passcode and the voter codes.
  function showCreated(answer, question) {
    const share = document.getElementById("created-share");
    const shareUrl = location.origin + answer.share_path;
    share.href = answer.share_path;
    share.textContent = location.host + answer.share_path;
    document.getElementById("open-admin").href = answer.admin_path;
    Tally.showPasscode(answer.passcode);
    Tally.showVoterCodes(answer.voter_codes || [], question, shareUrl,
      "tally-" + answer.poll + "-codes.csv", status);
    form.hidden = true;
    Tally.announce(status, "");
    const created = document.getElementById("created");
    created.hidden = false;
    created.focus();
  }

  add.addEventListener("click", addOption);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    create();
  });
})();
