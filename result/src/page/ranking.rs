//! A ranking question on the server-rendered pages: one select per place for the form
//! (the form posts `option` once per place, in order), and the options by Borda score
//! for the results.

use std::fmt::Write;

use html_escape::{encode_double_quoted_attribute as attr, encode_text as text};

use super::view::{PageView, ViewOption};

/// "1st", "2nd", "3rd", "4th" … for the place at `index` (0 for the first); a ranking
/// has at most ten places.
pub(crate) fn ordinal(index: usize) -> String {
    let place = index + 1;
    let suffix = match (place % 10, place % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{place}{suffix}")
}

/// The form's selects: place `i` starts on this browser's last ranking when it has one
/// for every place, else on the `i`-th option.
pub(crate) fn places(out: &mut String, view: &PageView, chosen: &[String]) {
    let start: Vec<&str> = if chosen.len() == view.options.len() {
        chosen.iter().map(String::as_str).collect()
    } else {
        view.options
            .iter()
            .map(|option| option.id.as_str())
            .collect()
    };
    out.push_str("          <ol class=\"places\">\n");
    for (index, selected) in start.iter().enumerate() {
        let _ = write!(
            out,
            r#"            <li class="place"><label><span class="place-name">{place}</span>
              <select name="option" required>
"#,
            place = ordinal(index),
        );
        for option in &view.options {
            let mark = if option.id == *selected {
                " selected"
            } else {
                ""
            };
            let _ = writeln!(
                out,
                r#"                <option value="{}"{mark}>{}</option>"#,
                attr(&option.id),
                text(&option.label)
            );
        }
        out.push_str("              </select></label></li>\n");
    }
    out.push_str("          </ol>\n");
}

/// The results: options from the highest Borda score down (display order breaks ties),
/// each with its points; a bar's full length is a first place on every ballot.
pub(crate) fn scores(out: &mut String, view: &PageView, ballots: i64) {
    let mut ranked: Vec<(usize, &ViewOption)> = view.options.iter().enumerate().collect();
    ranked.sort_by_key(|(index, option)| (std::cmp::Reverse(option.score.unwrap_or(0)), *index));
    let most = ballots.max(0) * (view.options.len() as i64 - 1).max(1);
    out.push_str("      <ol id=\"results\" class=\"results results--ranking\" aria-label=\"Borda points per option, highest first\">\n");
    for (index, option) in ranked {
        let score = option.score.unwrap_or(0).max(0);
        let firsts = option
            .places
            .as_ref()
            .and_then(|places| places.first().copied())
            .unwrap_or(0);
        let _ = write!(
            out,
            r#"        <li class="result result--c{palette}" data-option="{id}" data-score="{score}">
          <div class="result-head">
            <span class="result-label">{label}</span>
            <span class="result-figures"><span class="result-count">{firsts} first {places}</span> · <span class="result-pct">{score} {noun}</span></span>
          </div>
          <progress class="result-meter" max="{most}" value="{score}" aria-hidden="true"></progress>
        </li>
"#,
            palette = index % 4,
            id = attr(&option.id),
            label = text(&option.label),
            noun = if score == 1 { "point" } else { "points" },
            firsts = firsts,
            places = if firsts == 1 { "place" } else { "places" },
            most = most.max(1),
        );
    }
    let _ = write!(
        out,
        "      </ol>\n      <p class=\"meta\"><strong id=\"total\" data-total=\"{ballots}\">{ballots} {}</strong> · a first place earns {} points, a last none</p>\n",
        if ballots == 1 { "ranking" } else { "rankings" },
        (view.options.len() as i64 - 1).max(0),
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use tally_model::Choice;

    fn view() -> PageView {
        let option = |id: &str, label: &str, score| ViewOption {
            id: id.into(),
            label: label.into(),
            votes: Some(3),
            score: Some(score),
            places: Some(vec![score, 3 - score]),
        };
        PageView {
            poll: "p".into(),
            question: "Order these".into(),
            choice: Choice::Ranking,
            open: true,
            closes_at: None,
            hidden: false,
            total: Some(3),
            // Three ballots over two options hand out three points.
            options: vec![option("a", "Tea", 1), option("b", "Coffee <hot>", 2)],
            word_limits: None,
            words: None,
            scale: None,
            summary: None,
            identity: tally_model::Identity::Open,
        }
    }

    #[test]
    fn ordinals_read_as_people_say_them() {
        let names: Vec<String> = (0..12).map(ordinal).collect();
        assert_eq!(names[..4], ["1st", "2nd", "3rd", "4th"]);
        assert_eq!(names[10..], ["11th", "12th"]);
    }

    #[test]
    fn each_place_is_a_select_starting_on_the_last_ranking() {
        let mut out = String::new();
        places(&mut out, &view(), &["b".into(), "a".into()]);
        assert_eq!(out.matches("<select name=\"option\" required>").count(), 2);
        let first = out.find("1st").unwrap();
        let second = out.find("2nd").unwrap();
        assert!(out[first..second]
            .contains(r#"<option value="b" selected>Coffee &lt;hot&gt;</option>"#));
        assert!(out[second..].contains(r#"<option value="a" selected>Tea</option>"#));

        let mut fresh = String::new();
        places(&mut fresh, &view(), &["b".into()]);
        let second = fresh.find("2nd").unwrap();
        assert!(fresh[..second].contains(r#"<option value="a" selected>"#));
    }

    #[test]
    fn results_go_from_the_highest_score_down() {
        let mut out = String::new();
        scores(&mut out, &view(), 3);
        let coffee = out.find("data-option=\"b\"").unwrap();
        let tea = out.find("data-option=\"a\"").unwrap();
        assert!(coffee < tea, "{out}");
        assert!(out.contains("2 points") && out.contains("1 point<"));
        assert!(out.contains("2 first places") && out.contains("1 first place<"));
        assert!(out.contains(r#"max="3" value="2""#), "{out}");
    }
}
