//! A word cloud question on the server-rendered pages: one text field per answer for
//! the form (the form posts `word` once per field, empty ones ignored), and the answers
//! as a list sized by how often each was given, the most given first.

use std::fmt::Write;

use super::view::PageView;
use html_escape::{encode_double_quoted_attribute as attr, encode_text as text};

/// Size steps of the cloud: an answer given by every participant is drawn in the
/// largest, one given once among many in the smallest.
const CLOUD_SIZES: i64 = 5;

/// A field's `maxlength` per character of the question's limit: browsers count UTF-16
/// units (an emoji is two) before the service trims punctuation and counts characters,
/// so the field stops only what is certainly too long and the service says the rest.
const FIELD_UNITS_PER_CHAR: u16 = 2;

/// The form's text fields, one per answer the question takes.
pub(crate) fn inputs(out: &mut String, view: &PageView) {
    let limits = view.word_limits.unwrap_or_default();
    for index in 0..limits.max_words {
        let _ = write!(
            out,
            r#"          <label class="word-field"><span class="visually-hidden">Answer {number}</span>
            <input type="text" name="word" maxlength="{max}" autocomplete="off" autocapitalize="none" spellcheck="false"{required}>
          </label>
"#,
            number = index + 1,
            max = u16::from(limits.max_chars) * FIELD_UNITS_PER_CHAR,
            required = if index == 0 { " required" } else { "" },
        );
    }
    let _ = writeln!(
        out,
        r#"          <p class="hint">Up to {} answers of {} characters at most.</p>"#,
        limits.max_words, limits.max_chars
    );
}

/// The answers, largest first; `total` is the number of participants who answered.
pub(crate) fn cloud(out: &mut String, view: &PageView, total: i64) {
    let words = view.words.as_deref().unwrap_or_default();
    if words.is_empty() {
        out.push_str("      <p id=\"results\" class=\"note\">No answers yet.</p>\n");
        return;
    }
    let most = words.iter().map(|w| w.count).max().unwrap_or(1).max(1);
    let _ = writeln!(
        out,
        r#"      <ul id="results" class="cloud" aria-label="Answers from {total} participants, the most given first">"#
    );
    for word in words {
        let size = 1 + (word.count.max(0) * (CLOUD_SIZES - 1) + most / 2) / most;
        let _ = writeln!(
            out,
            r#"        <li class="cloud-word cloud-word--{size}" data-word="{word_attr}" data-count="{count}">{word_text} <span class="cloud-count">{count}</span></li>"#,
            word_attr = attr(&word.word),
            word_text = text(&word.word),
            count = word.count,
        );
    }
    out.push_str("      </ul>\n");
}
