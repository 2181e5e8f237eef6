//! The WhatsApp jobs: `wa-router` answers people ([`router`]) and
//! `notifier` sends what arus has to say through WAHA ([`notifier`]).
//! Who a number belongs to is in [`people`]; the figures replies quote in
//! [`facts`].

pub mod facts;
pub mod notifier;
pub mod people;
pub mod router;

use arus_ingest::media::MediaError;
use arus_ingest::photos::PhotoError;
use arus_lakehouse::{KafkaClientError, LakeError};

/// Why a WhatsApp job stopped.
#[derive(Debug, thiserror::Error)]
pub enum WhatsAppError {
    #[error(transparent)]
    Kafka(#[from] KafkaClientError),
    #[error(transparent)]
    Lake(#[from] LakeError),
    #[error(transparent)]
    Photo(#[from] PhotoError),
    #[error(transparent)]
    Media(#[from] MediaError),
    /// A setting that does not work (WAHA's URL, a key file).
    #[error("{0}")]
    Setup(String),
}
