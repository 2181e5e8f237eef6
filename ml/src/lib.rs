//! Pure, synchronous models of arus: the classifier, anomaly detection,
//! forecasting, tiering and insight text. This crate never touches Kafka,
//! Delta or HTTP, so every model is a plain function that tests can call.
//!
//! The transaction classifier is [`classifier`] (features in [`text`],
//! the model in [`logistic`], scores in [`metrics`]), trained first on the
//! [`corpus`] and then on people's corrections; [`rules`] holds what each
//! person taught about each merchant.

pub mod anomaly;
pub mod budget;
pub mod classifier;
pub mod corpus;
pub mod forecast;
pub mod insights;
pub mod lending;
pub mod logistic;
pub mod metrics;
pub mod narration;
pub mod rng;
pub mod rules;
pub mod segments;
pub mod text;
pub mod tiering;
pub mod training;
