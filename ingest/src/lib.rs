//! Connectors that bring financial traces into arus: each validates what it
//! receives, tells the sender at once what it refused and why, and publishes
//! the rest to Kafka. One connector per file.

pub mod dates;
pub mod import;
pub mod lending;
pub mod manual;
pub mod media;
pub mod money;
pub mod ocr;
pub mod photos;
pub mod statement;
pub mod whatsapp;

pub use manual::{Accepted, ManualConnector, ManualEntry, SubmitError};
