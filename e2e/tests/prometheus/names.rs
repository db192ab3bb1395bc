//! Metric names on both sides: those a PromQL expression selects, and those a service's
//! `/metrics` exposition offers. Prometheus itself judges whether an expression parses
//! (the test sends each one to it); this only lists the names it selects.

use std::collections::BTreeSet;

/// PromQL words that are never metric names: aggregations, functions that may be
/// written without a following parenthesis by mistake, operators and modifiers.
const KEYWORDS: &[&str] = &[
    "sum",
    "min",
    "max",
    "avg",
    "group",
    "stddev",
    "stdvar",
    "count",
    "count_values",
    "bottomk",
    "topk",
    "quantile",
    "limitk",
    "limit_ratio",
    "and",
    "or",
    "unless",
    "atan2",
    "bool",
    "offset",
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "start",
    "end",
    "inf",
    "nan",
];

/// Modifiers followed by a parenthesised list of label names (not metric names).
const LABEL_LIST_MODIFIERS: &[&str] = &[
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
];

/// The metric names an expression selects, e.g. `rate(a_total[5m]) / b` gives `a_total`, `b`.
/// Label matchers (`{...}`), ranges (`[...]`), strings and label lists are skipped;
/// `{__name__="x"}` selectors are not supported (the dashboard does not use them).
pub(crate) fn selected(expr: &str) -> BTreeSet<String> {
    let chars: Vec<char> = expr.chars().collect();
    let mut names = BTreeSet::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '"' | '\'' | '`' => i = skip_string(&chars, i),
            '{' => i = skip_to(&chars, i, '}'),
            '[' => i = skip_to(&chars, i, ']'),
            c if c.is_ascii_digit() || c == '.' => i = skip_number(&chars, i),
            c if c.is_ascii_alphabetic() || c == '_' || c == ':' => {
                let start = i;
                while i < chars.len()
                    && (chars[i].is_ascii_alphanumeric() || chars[i] == '_' || chars[i] == ':')
                {
                    i += 1;
                }
                let word: String = chars[start..i].iter().collect();
                let next = chars[i..]
                    .iter()
                    .position(|c| !c.is_whitespace())
                    .map(|n| i + n);
                let called = next.is_some_and(|n| chars[n] == '(');
                let lower = word.to_ascii_lowercase();
                if LABEL_LIST_MODIFIERS.contains(&lower.as_str()) {
                    if let Some(n) = next.filter(|_| called) {
                        i = skip_to(&chars, n, ')');
                    }
                } else if !called && !KEYWORDS.contains(&lower.as_str()) {
                    names.insert(word);
                }
            }
            _ => i += 1,
        }
    }
    names
}

/// Index just past the closing quote of the string starting at `start`.
fn skip_string(chars: &[char], start: usize) -> usize {
    let quote = chars[start];
    let mut i = start + 1;
    while i < chars.len() && chars[i] != quote {
        i += if chars[i] == '\\' && quote != '`' {
            2
        } else {
            1
        };
    }
    i + 1
}

/// Index just past the first `close` after `start` (strings inside skipped).
fn skip_to(chars: &[char], start: usize, close: char) -> usize {
    let mut i = start + 1;
    while i < chars.len() && chars[i] != close {
        i = if matches!(chars[i], '"' | '\'' | '`') {
            skip_string(chars, i)
        } else {
            i + 1
        };
    }
    i + 1
}

/// Index just past a number such as `0.99`, `1e3` or `0x1f`.
fn skip_number(chars: &[char], start: usize) -> usize {
    let mut i = start;
    while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '.') {
        i += 1;
    }
    i
}

/// The series names an OpenMetrics exposition offers, from its `# TYPE` lines (families
/// with no series yet count: a labelled counter exists before its first event) and from
/// its samples. A counter `x` gives `x_total`, a histogram `x_bucket`, `x_sum`, `x_count`.
pub(crate) fn exposed(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut words = rest.split_whitespace();
            let (Some(family), Some(kind)) = (words.next(), words.next()) else {
                continue;
            };
            let suffixes: &[&str] = match kind {
                "counter" => &["_total", "_created"],
                "histogram" | "gaugehistogram" => &["_bucket", "_sum", "_count", "_created"],
                "summary" => &["", "_sum", "_count", "_created"],
                "info" => &["_info"],
                _ => &[""],
            };
            names.extend(suffixes.iter().map(|suffix| format!("{family}{suffix}")));
        } else if !line.starts_with('#') && !line.is_empty() {
            let end = line.find(['{', ' ']).unwrap_or(line.len());
            names.insert(line[..end].to_owned());
        }
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(names: &[&str]) -> BTreeSet<String> {
        names.iter().map(|name| (*name).to_owned()).collect()
    }

    #[test]
    fn names_in_expressions_skip_functions_labels_and_modifiers() {
        assert_eq!(
            selected(
                r#"sum by (job) (rate(http_requests_total{status=~"5.."}[1m])) / sum by (job) (rate(http_requests_total[1m]))"#
            ),
            set(&["http_requests_total"])
        );
        assert_eq!(
            selected("histogram_quantile(0.99, sum by (job, route, le) (rate(http_request_duration_seconds_bucket[30s])))"),
            set(&["http_request_duration_seconds_bucket"])
        );
        assert_eq!(
            selected(r#"max(a{upstream="vote"}) < 1 or absent(up{job="vote"} == 1) offset 5m"#),
            set(&["a", "up"])
        );
        assert_eq!(
            selected("rate(x_total[5m]) * on (instance) group_left (version) build_info + 1e3"),
            set(&["x_total", "build_info"])
        );
    }

    #[test]
    fn exposition_names_come_from_types_and_samples() {
        let text = "# HELP tally_votes_rejected Votes refused.\n\
                    # TYPE tally_votes_rejected counter\n\
                    # TYPE tally_worker_batch_size histogram\n\
                    tally_worker_batch_size_bucket{le=\"1.0\"} 0\n\
                    # TYPE tally_live_clients gauge\n\
                    tally_live_clients 3\n\
                    # EOF\n";
        let names = exposed(text);
        for name in [
            "tally_votes_rejected_total",
            "tally_worker_batch_size_bucket",
            "tally_worker_batch_size_count",
            "tally_live_clients",
        ] {
            assert!(names.contains(name), "{name} in {names:?}");
        }
        assert!(!names.contains("tally_votes_rejected"));
    }
}
