//! Benchmarks only: see `benches/vote_accept.rs` and `load.sh`.
