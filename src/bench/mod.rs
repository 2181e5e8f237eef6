//! Benchmarks of the `arus bench` subcommand (build with `--release`); the
//! one-command wrappers live in `bench/`.

pub mod api;
pub mod import;
pub mod pipeline;
pub mod webhook;
