//! Rebuilding a job's state by reading its sources again: every message
//! from the start of each partition up to the position the job's table
//! last committed, in partition order, handed to the job as if live (the
//! job keeps what it writes and sends to itself meanwhile). The same
//! messages in the same order give the same state, so a restarted job
//! carries on where it committed. The sources must be kept
//! ([`arus_schemas::topics::KEPT`]).

use std::collections::HashMap;
use std::time::Duration;

use arus_lakehouse::kafka::{BorrowedMessage, Message};
use arus_lakehouse::{app_id, Kafka, LakeError};
use arus_schemas::config::ConsumerMode;
use arus_schemas::Config;
use deltalake::DeltaTable;

use crate::runner::JobError;

/// Reads `sources` (without prefix) up to the positions `job` committed in
/// `table`, calling `handle` for each message; returns how many it read.
pub async fn replay_committed(
    config: &Config,
    job: &'static str,
    table: &DeltaTable,
    sources: &[&str],
    mut handle: impl FnMut(&BorrowedMessage<'_>),
) -> Result<u64, JobError> {
    let state_error = |reason: String| JobError::State { job, reason };
    let kafka = Kafka::new(config)?;
    let snapshot = table.snapshot().map_err(LakeError::from)?;
    let log_store = table.log_store();
    let mut last: HashMap<(String, i32), i64> = HashMap::new();
    for source in sources {
        let topic = config.topic(source);
        let partitions = {
            let (kafka, topic) = (kafka.clone(), topic.clone());
            tokio::task::spawn_blocking(move || kafka.partitions_of(&topic, Duration::from_secs(10))).await.map_err(|e| state_error(e.to_string()))??
        };
        for p in partitions {
            if let Some(offset) = snapshot.transaction_version(log_store.as_ref(), app_id(job, &topic, p)).await.map_err(LakeError::from)? {
                last.insert((topic.clone(), p), offset);
            }
        }
    }
    if last.is_empty() {
        return Ok(0);
    }
    let topics: Vec<String> = sources.iter().map(|s| config.topic(s)).collect();
    let consumer = kafka.consumer(&config.group(&format!("{job}-rebuild")), &topics.iter().map(String::as_str).collect::<Vec<_>>(), ConsumerMode::Assign)?;
    consumer.take_assignment_changed();
    consumer.seek_to(&last.keys().map(|k| (k.clone(), None)).collect()).await?;
    let mut read = 0u64;
    while !last.is_empty() {
        let Ok(msg) = tokio::time::timeout(Duration::from_secs(30), consumer.recv()).await else {
            let reason = format!("rebuilding: nothing arrived for 30 s with {last:?} not yet read to their stored positions");
            return Err(state_error(reason));
        };
        let msg = msg?;
        let key = (msg.topic().to_owned(), msg.partition());
        let Some(&end) = last.get(&key) else { continue };
        if msg.offset() > end {
            continue;
        }
        read += 1;
        handle(&msg);
        if msg.offset() == end {
            last.remove(&key);
        }
    }
    Ok(read)
}
