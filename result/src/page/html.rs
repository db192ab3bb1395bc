//! The vote page and the error pages as HTML. Every value from a poll goes through
//! `html-escape`; the markup uses the site's stylesheet and scripts only (the edge's
//! Content-Security-Policy forbids inline code), and works without JavaScript.

use std::fmt::Write;

use html_escape::{encode_double_quoted_attribute as attr, encode_text as text};

use tally_model::{Choice, Identity, Scale, ScaleSummary};

use super::ranking;
use super::view::PageView;
use super::words;

/// The no-JavaScript notice of a ballot refused for want of the voter cookie (the page
/// is reached at `#cookie-required`), on poll and event pages alike.
pub(crate) const COOKIE_REQUIRED_NOTICE: &str = "      <p id=\"cookie-required\" class=\"notice\">\
     Your vote was not counted: this poll takes one vote per browser, and this browser did not \
     send Tally's cookie. Allow cookies for this site, reload the page and vote again.</p>\n";

/// Where a poll counts one ballot per voter code: the field for it, typed any way.
const VOTER_CODE_FIELD: &str = r#"        <div class="field credential">
          <label for="voter-code">Your voter code <span class="legend-hint">(on the slip you were given)</span></label>
          <input id="voter-code" name="code" type="text" required maxlength="32" autocomplete="off" autocapitalize="characters" spellcheck="false" placeholder="K7P2Q-9XQ4B">
        </div>
"#;

/// Where a poll sits behind a room passcode: the field for it.
const PASSCODE_FIELD: &str = r#"        <div class="field credential">
          <label for="passcode">Room passcode <span class="legend-hint">(the presenter shows it)</span></label>
          <input id="passcode" name="passcode" type="text" required maxlength="80" autocomplete="off" autocapitalize="none" spellcheck="false">
        </div>
"#;

/// The no-JavaScript notices of a voter code refused (`#code-required`, `#unknown-code`).
const VOTER_CODE_NOTICES: &str =
    "      <p id=\"code-required\" class=\"notice\">Your vote was not \
     counted: type the voter code you were given.</p>\n      <p id=\"unknown-code\" \
     class=\"notice\">Your vote was not counted: that is not one of this poll's voter codes. \
     Check the code and vote again.</p>\n";

/// The no-JavaScript notices of a passcode refused (`#passcode-required`, `#wrong-passcode`).
const PASSCODE_NOTICES: &str = "      <p id=\"passcode-required\" class=\"notice\">Your vote was \
     not counted: type the room's passcode, which the presenter shows.</p>\n      <p \
     id=\"wrong-passcode\" class=\"notice\">Your vote was not counted: that is not the room's \
     passcode. Check it and vote again.</p>\n";

/// The script that enhances a poll's page (and the error pages, where it does nothing).
const POLL_SCRIPT: &str = "/poll.js";

/// What a poll's page says while its counts are withheld.
const POLL_HIDDEN_NOTE: &str = "Results are hidden until the poll closes.";

/// The head and site header every page shares; `{title}` is already escaped. `script`
/// is the page's own script (after the shared `/tally.js`); `poll` adds a link to its
/// live results.
pub(crate) fn open_page(out: &mut String, title: &str, poll: Option<&str>, script: &str) {
    let _ = write!(
        out,
        r##"<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <meta name="color-scheme" content="light dark">
  <title>{title} — Tally</title>
  <link rel="icon" href="/favicon.svg" type="image/svg+xml">
  <link rel="stylesheet" href="/style.css">
  <script src="/tally.js" defer></script>
  <script src="{script}" defer></script>
</head>
<body>
  <a class="skip-link" href="#main">Skip to content</a>
  <header class="site-header">
    <a class="brand" href="/"><img src="/favicon.svg" alt="" width="28" height="28">Tally</a>
    <nav aria-label="Main">
      <ul>
        <li><a href="/new">New poll</a></li>
        <li><a href="/new-event">New event</a></li>
"##
    );
    if let Some(poll) = poll {
        let _ = writeln!(
            out,
            r#"        <li><a href="/p/{}/live">Live results</a></li>"#,
            attr(poll)
        );
    }
    out.push_str("      </ul>\n    </nav>\n  </header>\n");
}

pub(crate) fn close_page(out: &mut String) {
    out.push_str(
        r#"  <footer class="site-footer">
    <p>Tally — one ballot per person, counted exactly once.</p>
  </footer>
</body>
</html>
"#,
    );
}

/// A page that says what went wrong, with a way on.
pub(crate) fn error_page(title: &str, message: &str) -> String {
    let mut out = String::with_capacity(2048);
    open_page(&mut out, &text(title), None, POLL_SCRIPT);
    let _ = write!(
        out,
        r#"  <main id="main" class="page">
    <div class="card">
      <h1>{}</h1>
      <p>{}</p>
      <p class="next"><a href="/">Go to the front page</a> · <a href="/new">Start a poll</a></p>
    </div>
  </main>
"#,
        text(title),
        text(message)
    );
    close_page(&mut out);
    out
}

/// The vote page of `view`; `chosen` are this browser's current options.
pub(crate) fn vote_page(view: &PageView, chosen: &[String]) -> String {
    let mut out = String::with_capacity(8192);
    let question = text(&view.question);
    open_page(&mut out, &question, Some(&view.poll), POLL_SCRIPT);
    let _ = write!(
        out,
        r#"  <main id="main" class="page" data-poll="{poll}" data-open="{open}" data-hidden="{hidden}" data-choice="{choice}">
    <div class="card">
      <p class="eyebrow">{eyebrow}</p>
      <h1 id="question">{question}</h1>
"#,
        poll = attr(&view.poll),
        open = view.open,
        hidden = view.hidden,
        choice = view.choice.name(),
        eyebrow = if view.open { "Poll" } else { "Poll · closed" },
    );
    if view.open {
        ballot(&mut out, view, chosen);
    } else {
        out.push_str(
            "      <p id=\"closed\" class=\"banner\">This poll is closed. These are the final results.</p>\n",
        );
    }
    out.push_str(
        "      <p id=\"status\" class=\"status\" role=\"status\" aria-live=\"polite\"></p>\n",
    );
    results(&mut out, view, chosen, POLL_HIDDEN_NOTE);
    out.push_str("    </div>\n");
    let _ = write!(
        out,
        r#"    <p class="next"><a href="/p/{}/live">Watch the results live <span aria-hidden="true">→</span></a></p>
  </main>
"#,
        attr(&view.poll)
    );
    close_page(&mut out);
    out
}

/// The form: radio buttons, checkboxes, or one select per place, posting to `/vote`.
pub(crate) fn ballot(out: &mut String, view: &PageView, chosen: &[String]) {
    let multiple = view.choice == Choice::Multiple;
    let (kind, hint) = match view.choice {
        Choice::Multiple => (
            "checkbox",
            "Pick one or more. You can change your vote while the poll is open.",
        ),
        Choice::Single => (
            "radio",
            "Pick one. You can change your vote while the poll is open.",
        ),
        Choice::Ranking => (
            "",
            "Put every option in order, your favourite first. You can change your vote while voting is open.",
        ),
        Choice::Words => (
            "",
            "Write your answers, a word or two each. You can change them while voting is open.",
        ),
    };
    if let Some(closes_at) = &view.closes_at {
        let _ = writeln!(
            out,
            r#"      <p class="hint">Closes at <time datetime="{}">{}</time>.</p>"#,
            attr(closes_at),
            text(closes_at)
        );
    }
    out.push_str(
        "      <!-- Shown without JavaScript after the form post redirects to #voted, #closed,\n           #cookie-required, or a voter code's or passcode's refusal. -->\n      \
         <p id=\"voted\" class=\"notice\">Your vote was received — you can change it.</p>\n      \
         <p id=\"closed\" class=\"notice\">This poll is closed: your vote was not counted.</p>\n",
    );
    out.push_str(COOKIE_REQUIRED_NOTICE);
    out.push_str(match view.identity {
        Identity::Code => VOTER_CODE_NOTICES,
        Identity::Passcode => PASSCODE_NOTICES,
        Identity::Browser | Identity::Open => "",
    });
    let _ = write!(
        out,
        r#"      <form id="ballot" class="ballot" method="post" action="/vote">
        <input type="hidden" name="poll" value="{poll}">
        <fieldset class="options">
          <legend>{hint}</legend>
"#,
        poll = attr(&view.poll),
    );
    if let Some(ends) = view
        .scale
        .as_ref()
        .map(scale_ends)
        .filter(|ends| !ends.is_empty())
    {
        let _ = writeln!(
            out,
            r#"          <p class="scale-ends">{}</p>"#,
            text(&ends)
        );
    }
    if view.choice == Choice::Words {
        words::inputs(out, view);
        close_ballot(out, view, "Send");
        return;
    }
    if view.choice == Choice::Ranking {
        ranking::places(out, view, chosen);
        close_ballot(out, view, "Vote");
        return;
    }
    for (index, option) in view.options.iter().enumerate() {
        let checked = if chosen.contains(&option.id) {
            " checked"
        } else {
            ""
        };
        let required = if multiple { "" } else { " required" };
        let _ = write!(
            out,
            r#"          <label class="option option--c{palette}">
            <input type="{kind}" name="option" value="{id}"{checked}{required}>
            <span class="option-label">{label}</span>
          </label>
"#,
            palette = index % 4,
            id = attr(&option.id),
            label = text(&option.label),
        );
    }
    close_ballot(out, view, "Vote");
}

/// The end of the form: the answers' fieldset closed, the voter code or room passcode
/// field where the poll takes one, and the button.
fn close_ballot(out: &mut String, view: &PageView, button: &str) {
    out.push_str("        </fieldset>\n");
    out.push_str(match view.identity {
        Identity::Code => VOTER_CODE_FIELD,
        Identity::Passcode => PASSCODE_FIELD,
        Identity::Browser | Identity::Open => "",
    });
    let _ = write!(
        out,
        "        <button class=\"button\" type=\"submit\">{button}</button>\n      </form>\n"
    );
}

/// Counts and bars, or `hidden_note` when they are withheld.
pub(crate) fn results(out: &mut String, view: &PageView, chosen: &[String], hidden_note: &str) {
    out.push_str("      <h2 class=\"subhead\">Results</h2>\n");
    let total = match (view.hidden, view.total) {
        (false, Some(total)) => total,
        _ => {
            let _ = writeln!(
                out,
                r#"      <p id="results-hidden" class="note">{}</p>"#,
                text(hidden_note)
            );
            return;
        }
    };
    if view.choice == Choice::Ranking {
        ranking::scores(out, view, total);
        return;
    }
    if view.choice == Choice::Words {
        words::cloud(out, view, total);
        return;
    }
    out.push_str("      <ol id=\"results\" class=\"results\" aria-label=\"Votes per option\">\n");
    for (index, option) in view.options.iter().enumerate() {
        let votes = option.votes.unwrap_or(0).max(0);
        let tenths = if total > 0 {
            (votes * 1000 + total / 2) / total
        } else {
            0
        };
        let mine = if chosen.contains(&option.id) {
            "<span class=\"result-mine\">Your vote</span>"
        } else {
            ""
        };
        let _ = write!(
            out,
            r#"        <li class="result result--c{palette}" data-option="{id}" data-votes="{votes}">
          <div class="result-head">
            <span class="result-label">{label}</span>{mine}
            <span class="result-figures"><span class="result-count">{votes} {noun}</span> · <span class="result-pct">{whole}.{tenth}%</span></span>
          </div>
          <progress class="result-meter" max="{total_max}" value="{votes}" aria-hidden="true"></progress>
        </li>
"#,
            palette = index % 4,
            id = attr(&option.id),
            label = text(&option.label),
            noun = if votes == 1 { "vote" } else { "votes" },
            whole = tenths / 10,
            tenth = tenths % 10,
            total_max = total.max(1),
        );
    }
    out.push_str("      </ol>\n");
    if let Some(summary) = view.summary.as_ref().and_then(summary_text) {
        let _ = writeln!(
            out,
            r#"      <p id="summary" class="scale-summary">{summary}</p>"#
        );
    }
    let _ = writeln!(
        out,
        "      <p class=\"meta\"><strong id=\"total\" data-total=\"{total}\">{total} {}</strong></p>",
        if total == 1 { "vote" } else { "votes" }
    );
}

/// "1 = Not at all · 5 = Completely": what a scale's ends mean, "" without labels (as
/// www/tally.js says it).
fn scale_ends(scale: &Scale) -> String {
    let mut ends = Vec::new();
    if !scale.min_label.is_empty() {
        ends.push(format!("{} = {}", scale.min, scale.min_label));
    }
    if !scale.max_label.is_empty() {
        ends.push(format!("{} = {}", scale.max, scale.max_label));
    }
    ends.join(" · ")
}

/// "Mean 3.4 · median 4", one decimal at most; `None` before any answer.
fn summary_text(summary: &ScaleSummary) -> Option<String> {
    let one_decimal = |n: f64| {
        let rounded = (n * 10.0).round() / 10.0;
        if rounded.fract() == 0.0 {
            format!("{rounded:.0}")
        } else {
            format!("{rounded:.1}")
        }
    };
    Some(format!(
        "Mean {} · median {}",
        one_decimal(summary.mean?),
        one_decimal(summary.median?)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::page::view::ViewOption;

    fn view(hidden: bool, open: bool) -> PageView {
        PageView {
            poll: "p1".into(),
            question: "<script>alert(1)</script> & \"quotes\"".into(),
            choice: Choice::Single,
            open,
            closes_at: None,
            hidden,
            total: (!hidden).then_some(3),
            options: vec![
                ViewOption {
                    id: "a".into(),
                    label: "Tea <b>".into(),
                    votes: (!hidden).then_some(2),
                    score: None,
                    places: None,
                },
                ViewOption {
                    id: "b".into(),
                    label: "Coffee".into(),
                    votes: (!hidden).then_some(1),
                    score: None,
                    places: None,
                },
            ],
            word_limits: None,
            words: None,
            scale: None,
            summary: None,
            identity: tally_model::Identity::Open,
        }
    }

    #[test]
    fn a_scale_says_what_its_ends_mean_and_its_mean_and_median() {
        let mut scale = view(false, true);
        scale.scale = Some(Scale {
            min: 1,
            max: 2,
            min_label: "Not <at> all".into(),
            max_label: String::new(),
        });
        scale.summary = Some(ScaleSummary {
            mean: Some(1.333),
            median: Some(1.0),
        });
        let page = vote_page(&scale, &[]);
        assert!(
            page.contains(r#"<p class="scale-ends">1 = Not &lt;at&gt; all</p>"#),
            "{page}"
        );
        assert!(page.contains("Mean 1.3 · median 1</p>"), "{page}");
        scale.summary = Some(ScaleSummary {
            mean: None,
            median: None,
        });
        assert!(!vote_page(&scale, &[]).contains("Mean"));
    }

    #[test]
    fn a_poll_behind_codes_or_a_passcode_asks_for_it_in_its_form() {
        let mut poll = view(false, true);
        let page = vote_page(&poll, &[]);
        assert!(!page.contains("name=\"code\"") && !page.contains("name=\"passcode\""));
        poll.identity = Identity::Code;
        let page = vote_page(&poll, &[]);
        let field = page.find("name=\"code\"").expect("a code field");
        assert!(
            field < page.find("type=\"submit\"").expect("a button"),
            "{page}"
        );
        assert!(
            page.contains("id=\"unknown-code\" class=\"notice\""),
            "{page}"
        );
        poll.identity = Identity::Passcode;
        let page = vote_page(&poll, &[]);
        assert!(
            page.contains("name=\"passcode\" type=\"text\" required"),
            "{page}"
        );
        assert!(
            page.contains("id=\"wrong-passcode\" class=\"notice\""),
            "{page}"
        );
        assert!(!page.contains("name=\"code\""));
    }

    #[test]
    fn poll_text_is_escaped() {
        let page = vote_page(&view(false, true), &[]);
        assert!(!page.contains("<script>alert"), "{page}");
        assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp;"));
        assert!(page.contains("Tea &lt;b&gt;"));
    }

    #[test]
    fn an_open_poll_has_a_form_and_counts_with_percentages() {
        let page = vote_page(&view(false, true), &["b".to_owned()]);
        assert!(page.contains(r#"<form id="ballot" class="ballot" method="post" action="/vote">"#));
        assert!(page.contains(r#"<input type="hidden" name="poll" value="p1">"#));
        assert!(page.contains(r#"<input type="radio" name="option" value="b" checked required>"#));
        assert!(page.contains("2 votes</span> · <span class=\"result-pct\">66.7%"));
        assert!(page.contains("1 vote</span> · <span class=\"result-pct\">33.3%"));
        assert!(!page.contains(" style="), "the CSP forbids inline styles");
    }

    #[test]
    fn hidden_counts_never_reach_the_page() {
        let page = vote_page(&view(true, true), &[]);
        assert!(page.contains("Results are hidden until the poll closes."));
        assert!(!page.contains("result-count"));
        assert!(!page.contains("data-votes"));
    }

    #[test]
    fn a_closed_poll_has_no_form() {
        let page = vote_page(&view(false, false), &[]);
        assert!(page.contains("This poll is closed."));
        assert!(!page.contains("<form"));
        assert!(page.contains("result-count"));
    }
}
