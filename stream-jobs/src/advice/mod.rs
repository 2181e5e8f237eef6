//! The financial advisor's jobs: budgets watched in the stream
//! ([`overspending`]), unusual spending ([`anomalies`]).

pub mod advisor;
pub mod anomalies;
pub mod narrator;
pub mod overspending;
