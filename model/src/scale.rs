//! Scale questions ("How useful was this talk? 1 = not at all … 5 = very"): a poll whose
//! options are the whole numbers from `min` to `max`, one per ballot, with optional
//! labels for the two ends, and a live summary of the answers (mean and median).
//!
//! A scale is a single-choice poll underneath: option `a` is `min`, `b` is `min + 1`,
//! and so on, so ballots, tallies, exactly-once and the live feed are the poll's.

use serde::{Deserialize, Serialize};

use crate::new_poll::is_text;

/// Lowest bottom of a scale: 0 (a 0–10 "how likely…" question) or 1 (1–5, 1–7).
pub const MAX_SCALE_MIN: u8 = 1;

/// Highest top of a scale: 0–10 ("how likely are you to recommend…") gives 11 points,
/// one more than a poll may write (its points are checked as a scale, not as options).
pub const MAX_SCALE_MAX: u8 = 10;

/// Fewest points on a scale: with two it is a yes/no question.
pub const MIN_SCALE_POINTS: u8 = 3;

/// Longest label of a scale's end, in characters ("Not at all useful").
pub const MAX_END_LABEL_CHARS: usize = 60;

/// The scale a question offers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scale {
    /// The lowest answer (0 or 1).
    pub min: u8,
    /// The highest answer (up to 10).
    pub max: u8,
    /// What the lowest answer means ("Not at all"); empty when unlabelled.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub min_label: String,
    /// What the highest answer means ("Completely"); empty when unlabelled.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub max_label: String,
}

/// Which rule a scale breaks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScaleRuleError {
    /// A range that is not 0 or 1 up to at most 10, with at least three points.
    #[error(
        "a scale runs from 0 or 1 up to at most {MAX_SCALE_MAX}, with at least {MIN_SCALE_POINTS} points"
    )]
    Range,
    /// An end label that is too long, blank but not empty, or has control characters.
    #[error("a scale's end labels are at most {MAX_END_LABEL_CHARS} characters, without control or bidirectional override characters")]
    EndLabel,
}

/// The answers to a scale question, summarised; `None` fields while nobody answered.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ScaleSummary {
    /// The average answer.
    pub mean: Option<f64>,
    /// The middle answer (between the two middle ones for an even count).
    pub median: Option<f64>,
}

/// A scale as the poll's columns hold it (all `None` for a poll that is not a scale).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScaleColumns<'a> {
    /// `scale_min`
    pub min: Option<i16>,
    /// `scale_max`
    pub max: Option<i16>,
    /// `scale_min_label`
    pub min_label: Option<&'a str>,
    /// `scale_max_label`
    pub max_label: Option<&'a str>,
}

impl Scale {
    /// The scale's rules: its range and its end labels.
    pub fn check(&self) -> Result<(), ScaleRuleError> {
        let points = self.max.saturating_sub(self.min).saturating_add(1);
        if self.min > MAX_SCALE_MIN || self.max > MAX_SCALE_MAX || points < MIN_SCALE_POINTS {
            return Err(ScaleRuleError::Range);
        }
        let fits = |label: &str| label.is_empty() || is_text(label, MAX_END_LABEL_CHARS);
        if !fits(&self.min_label) || !fits(&self.max_label) {
            return Err(ScaleRuleError::EndLabel);
        }
        Ok(())
    }

    /// The scale stored in a poll's columns `scale_min`, `scale_max`, `scale_min_label`
    /// and `scale_max_label`; `None` when the poll is not a scale (or the row is not one
    /// the schema allows).
    pub fn from_columns(
        min: Option<i16>,
        max: Option<i16>,
        min_label: Option<String>,
        max_label: Option<String>,
    ) -> Option<Scale> {
        Some(Scale {
            min: u8::try_from(min?).ok()?,
            max: u8::try_from(max?).ok()?,
            min_label: min_label.unwrap_or_default(),
            max_label: max_label.unwrap_or_default(),
        })
    }

    /// The columns [`Scale::from_columns`] reads; empty labels are stored as NULL.
    pub fn to_columns(scale: Option<&Scale>) -> ScaleColumns<'_> {
        fn label(text: &str) -> Option<&str> {
            (!text.is_empty()).then_some(text)
        }
        ScaleColumns {
            min: scale.map(|s| i16::from(s.min)),
            max: scale.map(|s| i16::from(s.max)),
            min_label: scale.and_then(|s| label(&s.min_label)),
            max_label: scale.and_then(|s| label(&s.max_label)),
        }
    }

    /// The option labels the scale stands for: `min` to `max`, as numbers.
    pub fn labels(&self) -> Vec<String> {
        (self.min..=self.max)
            .map(|point| point.to_string())
            .collect()
    }

    /// Mean and median of the answers, given each point's count in order from `min`.
    pub fn summarise(&self, counts: &[i64]) -> ScaleSummary {
        let answers: i64 = counts.iter().map(|&n| n.max(0)).sum();
        if answers == 0 {
            return ScaleSummary {
                mean: None,
                median: None,
            };
        }
        let value = |index: usize| f64::from(self.min) + index as f64;
        let sum: f64 = counts
            .iter()
            .enumerate()
            .map(|(index, &n)| value(index) * n.max(0) as f64)
            .sum();
        // The answers at ranks ⌊(n−1)/2⌋ and ⌊n/2⌋ (0-based) in sorted order: the same
        // one for an odd count, the two middle ones for an even count.
        let at_rank = |rank: i64| {
            let mut seen = 0;
            for (index, &n) in counts.iter().enumerate() {
                seen += n.max(0);
                if rank < seen {
                    return value(index);
                }
            }
            value(counts.len().saturating_sub(1))
        };
        ScaleSummary {
            mean: Some(sum / answers as f64),
            median: Some((at_rank((answers - 1) / 2) + at_rank(answers / 2)) / 2.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scale(min: u8, max: u8) -> Scale {
        Scale {
            min,
            max,
            min_label: String::new(),
            max_label: String::new(),
        }
    }

    #[test]
    fn ranges_from_zero_or_one_with_three_to_eleven_points() {
        for (min, max) in [(1, 3), (1, 5), (1, 7), (0, 10), (0, 2), (1, 10)] {
            assert_eq!(scale(min, max).check(), Ok(()), "{min}-{max}");
        }
        for (min, max) in [(1, 2), (0, 1), (2, 5), (0, 11), (5, 1), (1, 1), (0, 255)] {
            assert_eq!(
                scale(min, max).check(),
                Err(ScaleRuleError::Range),
                "{min}-{max}"
            );
        }
        assert_eq!(scale(0, 10).labels().len(), 11);
        assert_eq!(scale(1, 5).labels(), ["1", "2", "3", "4", "5"]);
    }

    #[test]
    fn end_labels_are_short_text_or_nothing() {
        let labelled = Scale {
            min_label: "Not at all".into(),
            max_label: "Completely".into(),
            ..scale(1, 5)
        };
        assert_eq!(labelled.check(), Ok(()));
        for bad in ["   ", "a\u{7}b", &"x".repeat(MAX_END_LABEL_CHARS + 1)] {
            let broken = Scale {
                max_label: bad.to_owned(),
                ..scale(1, 5)
            };
            assert_eq!(broken.check(), Err(ScaleRuleError::EndLabel), "{bad:?}");
        }
    }

    #[test]
    fn columns_round_trip() {
        let labelled = Scale {
            min_label: "Low".into(),
            ..scale(0, 10)
        };
        let columns = Scale::to_columns(Some(&labelled));
        assert_eq!(columns.max_label, None, "an empty label is stored as NULL");
        let back = Scale::from_columns(
            columns.min,
            columns.max,
            columns.min_label.map(str::to_owned),
            columns.max_label.map(str::to_owned),
        );
        assert_eq!(back, Some(labelled));
        assert_eq!(Scale::from_columns(None, None, None, None), None);
        assert_eq!(Scale::to_columns(None).min, None);
    }

    #[test]
    fn summarises_mean_and_median() {
        let one_to_five = scale(1, 5);
        let none = one_to_five.summarise(&[0, 0, 0, 0, 0]);
        assert_eq!((none.mean, none.median), (None, None));
        // Answers 1, 2, 2, 5: mean 2.5, median between 2 and 2.
        let even = one_to_five.summarise(&[1, 2, 0, 0, 1]);
        assert_eq!((even.mean, even.median), (Some(2.5), Some(2.0)));
        // Answers 4, 5: the median falls between the two.
        let split = one_to_five.summarise(&[0, 0, 0, 1, 1]);
        assert_eq!((split.mean, split.median), (Some(4.5), Some(4.5)));
        // 0–10, answers 0, 10, 10: mean 20/3, median 10.
        let nps = scale(0, 10).summarise(&[1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
        assert_eq!(nps.median, Some(10.0));
        assert!((nps.mean.unwrap() - 20.0 / 3.0).abs() < 1e-12);
    }
}
