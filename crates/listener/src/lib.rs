//! How cachegate serves connections.
//!
//! Each of a few threads runs a current-thread tokio runtime and accepts on the same
//! listening socket; a connection, and every task its requests spawn, stays on the
//! thread that accepted it, as a connection stays with its worker process in nginx. With
//! tokio's multi-thread scheduler, which hands tasks between its workers, two cores
//! serving 4 KiB cache hits sat idle a fifth of the time, parking and waking each other,
//! and answered 10–20% fewer requests than this for the same CPU per request
//! (docs/benchmarks.md). The benchmark's fixed-answer servers use this crate too, so
//! that they cost what cachegate's own serving costs.

mod http;
mod shards;

pub use self::http::http_builder;
pub use self::shards::{Handler, default_threads, serve};
