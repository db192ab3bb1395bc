//! The audience page of an event and the join page, as HTML. Every value from an event
//! goes through `html-escape`; the page works without JavaScript (the form posts to
//! `/vote`, a reload shows the question the presenter shows now) and `/event.js` makes
//! it follow the presenter live.

use std::fmt::Write;

use html_escape::{encode_double_quoted_attribute as attr, encode_text as text};
use tally_model::event::{spaced_join_code, EventView};

use crate::page::html::{ballot, close_page, open_page, results};
use crate::page::view::PageView;

/// The script that makes the audience page follow the presenter.
const EVENT_SCRIPT: &str = "/event.js";

/// What the audience sees while the presenter keeps the counts to themselves.
const EVENT_HIDDEN_NOTE: &str = "The presenter will reveal the results.";

/// The question shown now, as the page renders it.
#[derive(Debug)]
pub(crate) struct ShownQuestion<'q> {
    /// The question's poll, read from its results document.
    pub(crate) view: &'q PageView,
    /// This browser's current options on it.
    pub(crate) chosen: &'q [String],
}

/// The audience page of `event`, showing `question` (or a wait for the first one).
pub(crate) fn audience_page(event: &EventView, question: Option<ShownQuestion<'_>>) -> String {
    let mut out = String::with_capacity(8192);
    let title = text(&event.title);
    open_page(&mut out, &title, None, EVENT_SCRIPT);
    let poll = question
        .as_ref()
        .map_or("", |shown| shown.view.poll.as_str());
    let _ = write!(
        out,
        r#"  <main id="main" class="page event" data-event="{code}" data-poll="{poll}" data-version="{version}">
    <div class="card">
      <p class="eyebrow"><span class="event-title">{title}</span> · <span class="join-code">{spaced}</span></p>
"#,
        code = attr(&event.code),
        poll = attr(poll),
        version = event.version,
        spaced = text(&spaced_join_code(&event.code)),
    );
    match question {
        None => out.push_str(
            r#"      <div id="waiting" class="waiting">
        <h1 id="question">Waiting for the presenter</h1>
        <p class="hint">The first question appears here as soon as the presenter shows it. Without JavaScript, reload the page.</p>
      </div>
      <p id="status" class="status" role="status" aria-live="polite"></p>
"#,
        ),
        Some(shown) => question_block(&mut out, event, &shown),
    }
    out.push_str("    </div>\n");
    let _ = write!(
        out,
        r#"    <p class="next">Joined with code <strong>{}</strong>. <a href="/e/{}">Reload</a> to see the question shown now.</p>
  </main>
"#,
        text(&spaced_join_code(&event.code)),
        attr(&event.code),
    );
    close_page(&mut out);
    out
}

fn question_block(out: &mut String, event: &EventView, shown: &ShownQuestion<'_>) {
    let view = shown.view;
    let _ = writeln!(
        out,
        r#"      <h1 id="question">{}</h1>
      <!-- Shown without JavaScript when a vote came after the presenter moved on. -->
      <p id="not-current" class="notice">The presenter had moved on, so that vote was not counted. This is the question now.</p>"#,
        text(&view.question)
    );
    if event.locked {
        out.push_str(
            "      <p id=\"locked\" class=\"banner\">The presenter has locked this event: it takes no more votes.</p>\n",
        );
    } else if view.open {
        ballot(out, view, shown.chosen);
    } else {
        out.push_str(
            "      <p id=\"closed\" class=\"banner\">Voting on this question is closed.</p>\n",
        );
    }
    out.push_str(
        "      <p id=\"status\" class=\"status\" role=\"status\" aria-live=\"polite\"></p>\n",
    );
    results(out, view, shown.chosen, EVENT_HIDDEN_NOTE);
}

/// The page that asks for a join code; `problem` says what was wrong with the last one.
pub(crate) fn join_page(problem: Option<&str>, typed: &str) -> String {
    let mut out = String::with_capacity(4096);
    open_page(&mut out, "Join an event", None, EVENT_SCRIPT);
    out.push_str(
        r#"  <main id="main" class="page">
    <div class="card">
      <p class="eyebrow">Event</p>
      <h1>Join an event</h1>
"#,
    );
    if let Some(problem) = problem {
        let _ = writeln!(
            out,
            r#"      <p class="banner" role="alert">{}</p>"#,
            text(problem)
        );
    }
    let _ = write!(
        out,
        r#"      <form class="join" method="get" action="/j">
        <label for="join-code">The code on the presenter's screen</label>
        <input id="join-code" name="code" value="{}" inputmode="numeric" autocomplete="off" placeholder="1234 5678" maxlength="20" required>
        <button class="button" type="submit">Join</button>
      </form>
    </div>
  </main>
"#,
        attr(typed)
    );
    close_page(&mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::page::view::ViewOption;

    fn event(locked: bool) -> EventView {
        EventView {
            code: "01234567".into(),
            title: "<b>All hands</b>".into(),
            questions: 2,
            current: None,
            results_visible: true,
            locked,
            participants: 0,
            version: 3,
        }
    }

    fn question(hidden: bool) -> PageView {
        PageView {
            poll: "Qu3st10n01".into(),
            question: "Lunch?".into(),
            choice: tally_model::Choice::Single,
            open: true,
            closes_at: None,
            hidden,
            total: (!hidden).then_some(1),
            options: vec![ViewOption {
                id: "a".into(),
                label: "Soup".into(),
                votes: (!hidden).then_some(1),
                score: None,
                places: None,
            }],
            word_limits: None,
            words: None,
            scale: None,
            summary: None,
            identity: tally_model::Identity::Open,
        }
    }

    #[test]
    fn before_the_first_question_the_room_waits() {
        let page = audience_page(&event(false), None);
        assert!(
            page.contains(r#"data-event="01234567" data-poll="""#),
            "{page}"
        );
        assert!(page.contains("Waiting for the presenter"));
        assert!(page.contains("&lt;b&gt;All hands&lt;/b&gt;"));
        assert!(page.contains("0123 4567"));
        assert!(page.contains(r#"<script src="/event.js" defer></script>"#));
        assert!(!page.contains("<form"));
    }

    #[test]
    fn the_current_question_has_a_form_and_its_counts() {
        let view = question(false);
        let shown = ShownQuestion {
            view: &view,
            chosen: &[],
        };
        let page = audience_page(&event(false), Some(shown));
        assert!(page.contains(r#"data-poll="Qu3st10n01""#));
        assert!(page.contains(r#"<input type="hidden" name="poll" value="Qu3st10n01">"#));
        assert!(page.contains(r#"id="not-current""#));
        assert!(page.contains("result-count"));
        assert!(!page.contains(" style="), "the CSP forbids inline styles");
    }

    #[test]
    fn a_locked_event_has_no_form_and_hidden_counts_say_who_reveals_them() {
        let view = question(true);
        let shown = ShownQuestion {
            view: &view,
            chosen: &[],
        };
        let page = audience_page(&event(true), Some(shown));
        assert!(!page.contains("<form"));
        assert!(page.contains("locked this event"));
        assert!(page.contains("The presenter will reveal the results."));
        assert!(!page.contains("data-votes"));
    }

    #[test]
    fn the_join_page_keeps_what_was_typed_escaped() {
        let page = join_page(Some("No event has that code."), "\"><script>");
        assert!(page.contains("No event has that code."));
        assert!(
            page.contains(r#"value="&quot;&gt;&lt;script&gt;""#),
            "{page}"
        );
        assert!(page.contains(r#"action="/j""#));
    }
}
