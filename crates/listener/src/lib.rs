//! How cachegate serves connections.
//!
//! Each of a few threads runs a current-thread tokio runtime and accepts on the same
//! listening socket; a connection, and every task its requests spawn, stays on the
//! thread that accepted it, as a connection stays with its worker process in nginx. With
//! tokio's multi-thread scheduler, whose workers park and wake each other as tasks move
//! between them, two cores serving 4 KiB cache hits left more of their time idle and
//! answered 0.89× the requests (docs/benchmarks.md, run 15). The benchmark's
//! fixed-answer servers use this crate too, so that they cost what cachegate's own
//! serving costs.

mod http;
mod shards;

pub use self::http::http_builder;
pub use self::shards::{Handler, default_threads, serve};
