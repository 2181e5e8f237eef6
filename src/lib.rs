//! Wiring of the `arus` binary: the embedded broker, `arus up`, demo data,
//! benchmarks and logging. The binary's `main` only parses the command line.

pub mod bench;
pub mod broker;
pub mod demo;
pub mod dlq;
pub mod forecast;
pub mod gen;
pub mod import;
pub mod lending;
pub mod logging;
pub mod ml;
pub mod ocr;
pub mod signals;
pub mod up;
pub mod users;
