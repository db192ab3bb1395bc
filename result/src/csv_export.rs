//! The admin's CSV export of a poll's results (RFC 4180: CRLF line ends, fields quoted
//! where they hold a comma, a quote or a line break): a header
//! `option,label,votes,percent`, then one row per option, in display order. The percent
//! is of ballots, with one decimal, rounded half up; a multiple-choice poll's percents
//! can add up to more than 100.

use tally_model::PollResults;

/// `results` as CSV text.
pub fn to_csv(results: &PollResults) -> Result<Vec<u8>, csv::Error> {
    let mut writer = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    writer.write_record(["option", "label", "votes", "percent"])?;
    let ballots = results.total.unwrap_or(0);
    for option in &results.options {
        let votes = option.votes.unwrap_or(0);
        writer.write_record([
            option.id.as_str(),
            option.label.as_str(),
            &votes.to_string(),
            &percent(votes, ballots),
        ])?;
    }
    writer
        .into_inner()
        .map_err(|error| csv::Error::from(error.into_error()))
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
