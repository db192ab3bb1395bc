//! Ranking questions: a ballot puts every option in order, favourite first, and the
//! options are compared by Borda count.
//!
//! With `n` options, a first place earns `n - 1` points, a second `n - 2`, and a last
//! place nothing: an option's score is how many (ballot, other option) pairs it beat.
//! The worker keeps, per option, how many ballots put it at each place (table
//! `rank_tallies`, in the same transaction as the ballots), so scores and the per-place
//! distribution are always a recount of the ballots.

/// Points a ballot gives the option it puts at `place` (0 for the first place) out of
/// `options` options.
pub fn borda_points(place: usize, options: usize) -> i64 {
    options.saturating_sub(place + 1) as i64
}

/// An option's Borda score from its distribution: `places[i]` ballots put it at place
/// `i`, and there are as many places as options.
pub fn borda_score(places: &[i64]) -> i64 {
    places
        .iter()
        .enumerate()
        .map(|(place, ballots)| ballots * borda_points(place, places.len()))
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_place_beats_every_other_option_and_last_beats_none() {
        assert_eq!(borda_points(0, 4), 3);
        assert_eq!(borda_points(3, 4), 0);
        assert_eq!(borda_points(7, 4), 0);
    }

    #[test]
    fn scores_sum_the_places() {
        // Two ballots first, one second, one third of three options: 2·2 + 1·1 + 1·0.
        assert_eq!(borda_score(&[2, 1, 1]), 5);
        assert_eq!(borda_score(&[]), 0);
    }

    #[test]
    fn every_ballot_hands_out_the_same_points() {
        // Over all options, a ballot of n options gives n(n-1)/2 points.
        let n = 5;
        let total: i64 = (0..n).map(|place| borda_points(place, n)).sum();
        assert_eq!(total, (n * (n - 1) / 2) as i64);
    }
}
