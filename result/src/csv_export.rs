//! The admin's CSV export of a poll's results (RFC 4180: CRLF line ends, fields quoted
//! where they hold a comma, a quote or a line break): a header
//! `option,label,votes,percent`, then one row per option, in display order. The percent
//! is of ballots, with one decimal, rounded half up; a multiple-choice poll's percents
//! can add up to more than 100.
//!
//! A ranking's export is `option,label,score,place_1,…,place_n` instead: the Borda
//! score, then how many ballots put the option at each place. A word cloud's is
//! `word,count,percent`: its visible answers, the most given first, with the percent of
//! participants who gave each.
//!
//! Text that people typed (labels, answers) is written so that a spreadsheet shows it
//! rather than runs it: a cell starting with `=`, `+`, `-`, `@`, a tab or a carriage
//! return gets a leading `'` (OWASP's advice on CSV injection).

use std::borrow::Cow;

use tally_model::{Choice, PollResults};

/// `results` as CSV text.
pub fn to_csv(results: &PollResults) -> Result<Vec<u8>, csv::Error> {
    let mut writer = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    if results.choice == Choice::Ranking {
        write_ranking(&mut writer, results)?;
        return writer
            .into_inner()
            .map_err(|error| csv::Error::from(error.into_error()));
    }
    if results.choice == Choice::Words {
        write_words(&mut writer, results)?;
        return writer
            .into_inner()
            .map_err(|error| csv::Error::from(error.into_error()));
    }
    writer.write_record(["option", "label", "votes", "percent"])?;
    let ballots = results.total.unwrap_or(0);
    for option in &results.options {
        let votes = option.votes.unwrap_or(0);
        writer.write_record([
            option.id.as_str(),
            &*spreadsheet_text(&option.label),
            &votes.to_string(),
            &percent(votes, ballots),
        ])?;
    }
    writer
        .into_inner()
        .map_err(|error| csv::Error::from(error.into_error()))
}

fn write_ranking(
    writer: &mut csv::Writer<Vec<u8>>,
    results: &PollResults,
) -> Result<(), csv::Error> {
    let places = results.options.len();
    let mut header = vec!["option".to_owned(), "label".into(), "score".into()];
    header.extend((1..=places).map(|place| format!("place_{place}")));
    writer.write_record(&header)?;
    for option in &results.options {
        let mut record = vec![
            option.id.clone(),
            spreadsheet_text(&option.label).into_owned(),
            option.score.unwrap_or(0).to_string(),
        ];
        let counts = option.places.as_deref().unwrap_or(&[]);
        record.extend((0..places).map(|place| counts.get(place).copied().unwrap_or(0).to_string()));
        writer.write_record(&record)?;
    }
    Ok(())
}

fn write_words(writer: &mut csv::Writer<Vec<u8>>, results: &PollResults) -> Result<(), csv::Error> {
    writer.write_record(["word", "count", "percent"])?;
    let participants = results.total.unwrap_or(0);
    for answer in results.words.as_deref().unwrap_or_default() {
        writer.write_record([
            &*spreadsheet_text(&answer.word),
            &answer.count.to_string(),
            &percent(answer.count, participants),
        ])?;
    }
    Ok(())
}

/// Characters that make a spreadsheet read a cell as a formula when they start it.
const FORMULA_STARTS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// `text` as a cell a spreadsheet shows as text: prefixed with `'` where it would
/// otherwise start a formula.
pub fn spreadsheet_text(text: &str) -> Cow<'_, str> {
    if text.starts_with(FORMULA_STARTS) {
        Cow::Owned(format!("'{text}"))
    } else {
        Cow::Borrowed(text)
    }
}

/// `part` of `whole` in percent with one decimal, rounded half up; `0.0` of nothing.
pub fn percent(part: i64, whole: i64) -> String {
    if whole <= 0 || part <= 0 {
        return "0.0".to_owned();
    }
    let tenths = (i128::from(part) * 1000 + i128::from(whole) / 2) / i128::from(whole);
    format!("{}.{}", tenths / 10, tenths % 10)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tally_model::{Choice, OptionResult};

    fn results(options: &[(&str, &str, i64)], total: i64) -> PollResults {
        PollResults {
            poll: "p".into(),
            question: "Q".into(),
            options: options
                .iter()
                .map(|(id, label, votes)| OptionResult {
                    id: (*id).into(),
                    label: (*label).into(),
                    votes: Some(*votes),
                    score: None,
                    places: None,
                })
                .collect(),
            total: Some(total),
            updated_at: String::new(),
            version: 1,
            open: true,
            closes_at: None,
            choice: Choice::Multiple,
            hide_results: false,
            hidden: false,
            event: None,
            scale: None,
            summary: None,
            word_limits: None,
            words: None,
            identity: tally_model::Identity::Open,
        }
    }

    #[test]
    fn rows_are_crlf_and_quoted_only_where_needed() {
        let csv = to_csv(&results(
            &[
                ("a", "Tea", 2),
                ("b", "Coffee, \"black\"", 1),
                ("c", "two\nlines", 0),
            ],
            3,
        ))
        .unwrap();
        assert_eq!(
            String::from_utf8(csv).unwrap(),
            "option,label,votes,percent\r\n\
             a,Tea,2,66.7\r\n\
             b,\"Coffee, \"\"black\"\"\",1,33.3\r\n\
             c,\"two\nlines\",0,0.0\r\n"
        );
    }

    #[test]
    fn a_ranking_exports_its_scores_and_places() {
        let mut ranking = results(&[("a", "Tea", 2), ("b", "Coffee", 2)], 2);
        ranking.choice = Choice::Ranking;
        ranking.options[0].score = Some(1);
        ranking.options[0].places = Some(vec![1, 1]);
        ranking.options[1].score = Some(1);
        ranking.options[1].places = Some(vec![1, 1]);
        let csv = String::from_utf8(to_csv(&ranking).unwrap()).unwrap();
        assert_eq!(
            csv,
            "option,label,score,place_1,place_2\r\na,Tea,1,1,1\r\nb,Coffee,1,1,1\r\n"
        );
    }

    #[test]
    fn typed_text_never_starts_a_formula() {
        for (typed, cell) in [
            ("=HYPERLINK(\"x\")", "'=HYPERLINK(\"x\")"),
            ("+1", "'+1"),
            ("-2+3", "'-2+3"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\tx", "'\tx"),
            ("Cats = good", "Cats = good"),
            ("", ""),
        ] {
            assert_eq!(spreadsheet_text(typed), cell);
        }
        let csv =
            String::from_utf8(to_csv(&results(&[("a", "=1+1", 1), ("b", "Dogs", 0)], 1)).unwrap())
                .unwrap();
        assert!(csv.contains("a,'=1+1,1,100.0\r\n"), "{csv}");
    }

    #[test]
    fn percents_round_half_up_with_one_decimal() {
        assert_eq!(percent(1, 8), "12.5");
        assert_eq!(percent(1, 2000), "0.1");
        assert_eq!(percent(1, 3), "33.3");
        assert_eq!(percent(2, 3), "66.7");
        assert_eq!(percent(5, 5), "100.0");
        assert_eq!(percent(0, 0), "0.0");
        assert_eq!(percent(3, 0), "0.0");
    }
}
