/* Tally: small helpers shared by the vote page (app.js) and the results page (results.js). */
(function () {
  "use strict";

  // Lets the CSS tell the JavaScript experience apart from the plain HTML one.
  document.documentElement.classList.add("js");

  // The option ids of the current choice, from the readable cookie `tally_choice_<poll>`
  // that the server sets after a vote ("a", or "a,c" for multiple choice).
  function readChoice(poll) {
    const name = "tally_choice_" + poll + "=";
    for (const part of document.cookie.split(";")) {
      const item = part.trim();
      if (item.startsWith(name)) {
        let value = item.slice(name.length).replace(/^"|"$/g, "");
        try { value = decodeURIComponent(value); } catch (e) { /* keep it as it is */ }
        return value.split(",").map((s) => s.trim()).filter(Boolean);
      }
    }
    return [];
  }

  // fetch() that always resolves to { ok, status, data, retryAfter } once the server
  // answered (data is the parsed JSON body or null), and rejects on network failure
  // or when no answer came within timeoutMs.
  async function requestJSON(url, options, timeoutMs) {
    const init = Object.assign({ credentials: "same-origin" }, options);
    init.headers = Object.assign({ Accept: "application/json" }, init.headers);
    const controller = new AbortController();
    init.signal = controller.signal;
    const timer = setTimeout(() => controller.abort(), timeoutMs || 10000);
    try {
      const res = await fetch(url, init);
      let data = null;
      try { data = await res.json(); } catch (e) { /* not JSON */ }
      return { ok: res.ok, status: res.status, data: data, retryAfter: res.headers.get("Retry-After") };
    } finally {
      clearTimeout(timer);
    }
  }

  // A sentence for a failed request, preferring the server's own {"error": "..."}.
  function errorMessage(result) {
    const fromServer = result.data && typeof result.data.error === "string" && result.data.error.trim();
    let message = fromServer || "Something went wrong (HTTP " + result.status + ").";
    if (!/[.!?]$/.test(message)) message += ".";
    const seconds = parseInt(result.retryAfter, 10);
    if (result.status === 503 && seconds > 0) {
      message += " Please try again in " + seconds + (seconds === 1 ? " second." : " seconds.");
    } else if (result.status === 429 || result.status === 503) {
      message += " Please try again in a moment.";
    }
    return message;
  }

  // True when `data` looks like a GET /results answer.
  function isResults(data) {
    return !!data && Array.isArray(data.options) &&
      data.options.every((o) => o && typeof o.id === "string");
  }

  window.Tally = { readChoice, requestJSON, errorMessage, isResults };
})();
