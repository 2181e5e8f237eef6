//! The lender's book in the stream: the five tables materialised from
//! `arus.lending.v1` ([`tables`]) and customers' tiers ([`tiering`]).

pub mod tables;
pub mod tiering;
