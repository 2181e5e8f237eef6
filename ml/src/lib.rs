//! Pure, synchronous models of arus: the classifier, anomaly detection,
//! forecasting, tiering and insight text. This crate never touches Kafka,
//! Delta or HTTP, so every model is a plain function that tests can call.
//!
//! The models arrive with their issues; this crate already fixes the
//! boundary the rest of the workspace depends on.

pub mod logistic;
pub mod text;
