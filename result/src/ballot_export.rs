//! The owner's export of every ballot of a poll, without who cast it (RFC 4180 CSV, as
//! [`crate::csv_export`]): a header `cast_at,answer_1,…,answer_n`, then one row per
//! ballot, by the minute it was cast (the view the result service reads gives no finer
//! time, so a row cannot be matched to a person by when they voted), with its answers
//! as people read them (option labels, or a word cloud's answers) and empty fields where
//! a ballot gave fewer than the widest one. A ranking's columns are `place_1,…` (the
//! favourite first), a word cloud's `word_1,…`.

use std::borrow::Cow;

use tally_model::{Choice, PollResults};

use crate::csv_export::spreadsheet_text;
use crate::database::BallotRow;

/// `ballots` of the poll `results` describes, as CSV text.
pub fn ballots_csv(results: &PollResults, ballots: &[BallotRow]) -> Result<Vec<u8>, csv::Error> {
    let mut writer = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .flexible(false)
        .from_writer(Vec::new());
    let columns = ballots
        .iter()
        .map(|ballot| ballot.answers.len())
        .max()
        .unwrap_or(0)
        .max(1);
    let name = match results.choice {
        Choice::Ranking => "place",
        Choice::Words => "word",
        Choice::Single | Choice::Multiple => "answer",
    };
    let mut header = vec!["cast_at".to_owned()];
    header.extend((1..=columns).map(|n| format!("{name}_{n}")));
    writer.write_record(&header)?;
    for ballot in ballots {
        let mut record = Vec::with_capacity(columns + 1);
        record.push(Cow::Borrowed(ballot.cast_at.as_str()));
        record.extend(
            ballot
                .answers
                .iter()
                .map(|answer| spreadsheet_text(label_of(results, answer))),
        );
        record.resize(columns + 1, Cow::Borrowed(""));
        writer.write_record(record.iter().map(|cell| cell.as_bytes()))?;
    }
    writer
        .into_inner()
        .map_err(|error| csv::Error::from(error.into_error()))
}

/// What people read for `answer`: its option's label, or the answer itself (a word, or
/// an option the poll no longer lists).
fn label_of<'a>(results: &'a PollResults, answer: &'a str) -> &'a str {
    results
        .options
        .iter()
        .find(|option| option.id == answer)
        .map_or(answer, |option| option.label.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tally_model::OptionResult;

    fn results(choice: Choice) -> PollResults {
        let options = [("a", "Tea, hot"), ("b", "Coffee")]
            .iter()
            .map(|(id, label)| OptionResult {
                id: (*id).into(),
                label: (*label).into(),
                votes: Some(1),
                score: None,
                places: None,
            })
            .collect();
        serde_json::from_value::<PollResults>(serde_json::json!({
            "poll": "p", "question": "Q?", "options": [], "total": 2,
            "updated_at": "", "version": 1, "choice": choice.name()
        }))
        .map(|mut r| {
            r.options = options;
            r
        })
        .unwrap()
    }

    fn ballot(at: &str, answers: &[&str]) -> BallotRow {
        BallotRow {
            cast_at: at.into(),
            answers: answers.iter().map(|a| (*a).to_owned()).collect(),
        }
    }

    #[test]
    fn one_row_per_ballot_with_labels_and_room_for_the_widest() {
        let csv = ballots_csv(
            &results(Choice::Multiple),
            &[ballot("t1", &["a"]), ballot("t2", &["b", "a"])],
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(csv).unwrap(),
            "cast_at,answer_1,answer_2\r\nt1,\"Tea, hot\",\r\nt2,Coffee,\"Tea, hot\"\r\n"
        );
    }

    #[test]
    fn rankings_name_places_and_word_clouds_words() {
        let csv = ballots_csv(&results(Choice::Ranking), &[ballot("t", &["b", "a"])]).unwrap();
        assert!(String::from_utf8(csv)
            .unwrap()
            .starts_with("cast_at,place_1,place_2\r\n"));
        let csv = ballots_csv(&results(Choice::Words), &[ballot("t", &["rust", "@home"])]).unwrap();
        assert_eq!(
            String::from_utf8(csv).unwrap(),
            "cast_at,word_1,word_2\r\nt,rust,'@home\r\n",
            "a typed answer never starts a spreadsheet formula"
        );
        let empty = ballots_csv(&results(Choice::Single), &[]).unwrap();
        assert_eq!(String::from_utf8(empty).unwrap(), "cast_at,answer_1\r\n");
    }
}
