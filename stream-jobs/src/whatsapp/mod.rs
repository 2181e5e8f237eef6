//! The WhatsApp jobs: `wa-router` answers people ([`router`]) and
//! `notifier` sends what arus has to say through WAHA ([`notifier`]).
//! Who a number belongs to is in [`people`]; the figures replies quote in
//! [`facts`].

pub mod facts;
pub mod notifier;
pub mod people;
pub mod router;

use std::collections::HashMap;

use arus_ingest::media::MediaError;
use arus_ingest::photos::PhotoError;
use arus_lakehouse::kafka::{BorrowedMessage, Message};
use arus_lakehouse::{Consumer, KafkaClientError, LakeError};
use tokio_util::sync::CancellationToken;

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

/// A job that handles one message at a time, in topic order, and knows
/// from its own table where it stopped.
pub(crate) trait InOrder {
    /// Per topic and partition, the first offset still to handle.
    async fn resume_points(&mut self) -> Result<HashMap<(String, i32), i64>, WhatsAppError>;
    async fn handle(&mut self, msg: &BorrowedMessage<'_>) -> Result<(), WhatsAppError>;
}

/// Feeds `job` its messages until `shutdown`: on every (re)assignment the
/// partitions are positioned `rewind` offsets before the job's resume
/// points (see `kafka_resume_rewind`) and what lies before them is skipped.
pub(crate) async fn consume_in_order(job: &mut impl InOrder, consumer: &Consumer, rewind: i64, shutdown: &CancellationToken) -> Result<(), WhatsAppError> {
    let mut resume_at: HashMap<(String, i32), i64> = HashMap::new();
    // Set when a message arrives after a rebalance: the flag is taken then,
    // and positions must still be restored (the seek delivers it again).
    let mut reassigned = false;
    loop {
        if std::mem::take(&mut reassigned) | consumer.take_assignment_changed() {
            resume_at = job.resume_points().await?;
            let positions = consumer.assignment()?.into_iter().map(|key| {
                let at = resume_at.get(&key).map(|o| (o - rewind).max(0));
                (key, at)
            });
            consumer.seek_or_retry(&positions.collect()).await?;
            continue;
        }
        tokio::select! {
            biased;
            _ = shutdown.cancelled() => return Ok(()),
            _ = consumer.assignment_change() => continue,
            msg = consumer.recv() => {
                let msg = msg?;
                if consumer.take_assignment_changed() {
                    reassigned = true;
                    continue;
                }
                let (topic, partition, offset) = (msg.topic().to_owned(), msg.partition(), msg.offset());
                if resume_at.get(&(topic.clone(), partition)).is_some_and(|&at| offset < at) {
                    continue;
                }
                job.handle(&msg).await?;
                let _ = consumer.commit_for_lag(&[(topic, partition, offset + 1)]);
            }
        }
    }
}
