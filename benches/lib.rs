//! Benchmarks only: see `benches/vote_accept.rs` and `load.sh`; [`load`] holds what the
//! load binaries share.

pub mod load;
