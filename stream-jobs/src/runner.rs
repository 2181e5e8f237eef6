//! The consume → decide → commit loop shared by every job. It restores
//! positions from the Delta log on every (re)assignment, skips what is
//! already written, sends dead letters and waits for their acknowledgement
//! before the commit that moves past them, commits through the one
//! exactly-once writer, and on shutdown commits what it holds.

use std::collections::HashMap;
use std::time::Duration;

use arus_lakehouse::kafka::{BorrowedMessage, Message};
use arus_lakehouse::health::{self, JobState};
use arus_lakehouse::{plan_resume, Consumer, ExactlyOnceWriter, Kafka, KafkaClientError, Lake, LakeError, Producer, UpdateSpec, WriterSettings};
use arus_schemas::tables::TableDef;
use arus_schemas::config::ConsumerMode;
use arus_schemas::{topics, Config, DeadLetter};
use deltalake::DeltaTable;
use futures::future::try_join_all;
use serde::Serialize;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// A job failed in a way it cannot recover from by itself.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error("unknown job {0:?} (known: {known})", known = crate::JOB_NAMES.join(", "))]
    UnknownJob(String),
    #[error(transparent)]
    Kafka(#[from] KafkaClientError),
    #[error(transparent)]
    Lake(#[from] LakeError),
    #[error(transparent)]
    Import(#[from] arus_ingest::import::ImportError),
    #[error(transparent)]
    Photos(#[from] arus_ingest::photos::PhotoError),
    #[error(transparent)]
    WhatsApp(#[from] crate::whatsapp::WhatsAppError),
    #[error("job {job}: {reason}")]
    State { job: &'static str, reason: String },
}

/// What one message becomes.
pub enum Outcome<R, U = ()> {
    /// A row for the job's table.
    Row(R),
    /// Several rows from one message (none: like `Ignored`).
    Rows(Vec<R>),
    /// A change to rows already in the job's table (see [`Job::update_spec`]).
    Update(U),
    /// Several changes from one message (none: like `Ignored`).
    Updates(Vec<U>),
    /// Nothing new: the same event was already written (same idempotency key).
    Duplicate,
    /// Nothing for this job's table: an event of a kind another job
    /// materialises, or one that changes only the job's state.
    Ignored,
    /// Refused: the dead letter goes to the DLQ topic.
    Dead(Box<DeadLetter>),
}

/// A job that materialises topics into one table.
pub trait Job: Send {
    type Row: Serialize + Send;
    /// What [`Outcome::Update`] carries; `()` for jobs that only append.
    type Update: Serialize + Send;
    /// Name of the job: consumer group suffix and `txn` app id prefix.
    const NAME: &'static str;
    /// Topics it consumes (without the deployment prefix).
    const SOURCES: &'static [&'static str];
    /// Table it writes.
    fn table(&self) -> &'static TableDef;
    /// How [`Outcome::Update`]s change rows; `None` for jobs that only append.
    fn update_spec(&self) -> Option<UpdateSpec> {
        None
    }
    /// Rebuilds in-memory state (such as seen idempotency keys) from the table
    /// as committed; called after every restore of positions.
    fn restore_state(&mut self, table: &DeltaTable) -> impl std::future::Future<Output = Result<(), JobError>> + Send;
    /// Decides what `msg` becomes.
    fn process(&mut self, msg: &BorrowedMessage<'_>) -> Outcome<Self::Row, Self::Update>;
    /// Events the last [`Job::process`] asked to publish (alerts), as
    /// `(topic without prefix, key, JSON)`. They are sent like dead letters:
    /// acknowledged before the commit that moves past their message, so a
    /// crash re-sends them; their ids must be deterministic for consumers
    /// to drop the repeat.
    fn take_emitted(&mut self) -> Vec<(&'static str, String, Vec<u8>)> {
        Vec::new()
    }
}

/// Counts of what a job did, logged on every commit and returned on shutdown.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct JobReport {
    pub consumed: u64,
    pub skipped_already_written: u64,
    pub rows: u64,
    pub updates: u64,
    pub duplicates: u64,
    pub ignored: u64,
    pub emitted: u64,
    pub dead_letters: u64,
    pub commits: u64,
    pub restores: u64,
}

/// A failed commit is tried again after this times the failures in a row, at most [`RETRY_MAX`].
const RETRY_BASE: Duration = Duration::from_millis(200);
const RETRY_MAX: Duration = Duration::from_secs(10);

/// How often a group member compares its share with the group's size.
const GROUP_CHECK: Duration = Duration::from_secs(5);

struct Runner<J: Job> {
    job: J,
    config: Config,
    kafka: Kafka,
    producer: Producer,
    dlq_topic: String,
    writer: ExactlyOnceWriter<J::Row, J::Update>,
    cluster_id: Option<String>,
    /// Resumed partitions whose first message has not arrived yet, with the
    /// offset it must not exceed; empty (and free) in steady state.
    resume_checks: Vec<(String, i32, i64)>,
    /// Dead letters sent but not yet acknowledged by the broker.
    in_flight: Vec<tokio::task::JoinHandle<Result<(i32, i64), KafkaClientError>>>,
    /// Events the job emitted, queued with the producer and not yet
    /// acknowledged (awaited at the commit; no task each).
    emitted: Vec<std::pin::Pin<Box<dyn std::future::Future<Output = Result<(i32, i64), KafkaClientError>> + Send>>>,
    report: JobReport,
}

/// Runs `job` until `shutdown` is cancelled; then commits what is buffered
/// and returns the counts.
pub async fn run<J: Job>(job: J, config: &Config, shutdown: CancellationToken) -> Result<JobReport, JobError> {
    let kafka = Kafka::new(config)?;
    let sources: Vec<String> = J::SOURCES.iter().map(|s| config.topic(s)).collect();
    let source = sources.join(",");
    let consumer = kafka.consumer(&config.group(J::NAME), &sources.iter().map(String::as_str).collect::<Vec<_>>(), config.consumer_mode)?;
    let producer = kafka.producer()?;
    let lake = Lake::new(config)?;
    let mut writer = ExactlyOnceWriter::open(&lake, job.table(), J::NAME, WriterSettings::from_config(config)).await?;
    if let Some(spec) = job.update_spec() {
        writer = writer.with_updates(spec)?;
    }
    let cluster_id = {
        let kafka = kafka.clone();
        tokio::task::spawn_blocking(move || kafka.cluster_id(Duration::from_secs(5)))
            .await
            .map_err(|e| JobError::State { job: J::NAME, reason: e.to_string() })??
    };
    tracing::info!(job = J::NAME, topic = %source, table = job.table().name, cluster_id = cluster_id.as_deref().unwrap_or("?"), "job started");
    let mut runner = Runner {
        job,
        config: config.clone(),
        kafka,
        producer,
        dlq_topic: config.topic(topics::DLQ),
        writer,
        cluster_id,
        resume_checks: Vec::new(),
        in_flight: Vec::new(),
        emitted: Vec::new(),
        report: JobReport::default(),
    };
    runner.writer.set_cluster_id(runner.cluster_id.clone());
    runner.run(&consumer, shutdown).await
}

impl<J: Job> Runner<J> {
    async fn run(&mut self, consumer: &Consumer, shutdown: CancellationToken) -> Result<JobReport, JobError> {
        let mut failures = 0u32;
        // Set while the partitions could not be positioned: they stay paused,
        // recv() serves whatever rebalance is pending, and restore runs again.
        let mut reposition: Option<Instant> = None;
        // A look at the group's shares now and then (see Consumer::rejoin_if_stale).
        let mut group_check = tokio::time::interval(GROUP_CHECK);
        group_check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        health::set(J::NAME, JobState::Starting);
        loop {
            let retry_due = reposition.is_some_and(|at| Instant::now() >= at);
            if consumer.take_assignment_changed() || retry_due {
                reposition = self.restore_or_retry(consumer).await?;
                if reposition.is_none() && failures == 0 {
                    health::set(J::NAME, JobState::Ready);
                }
                continue;
            }
            let deadline = self.writer.deadline().map(Instant::from_std);
            tokio::select! {
                biased;
                _ = shutdown.cancelled() => break,
                _ = sleep_until_opt(deadline) => {}
                _ = sleep_until_opt(reposition) => continue,
                _ = group_check.tick(), if self.config.consumer_mode == ConsumerMode::Group => {
                    if let Err(e) = consumer.rejoin_if_stale().await {
                        tracing::debug!(job = J::NAME, error = %e, "group check failed (tried again later)");
                    }
                    continue;
                }
                // Restored at the top of the loop; recv() is cancel-safe.
                _ = consumer.assignment_change() => continue,
                msg = consumer.recv() => {
                    let msg = msg?;
                    if consumer.take_assignment_changed() {
                        // This message was fetched under the old positions;
                        // the seek in restore() re-delivers it if it is needed.
                        reposition = self.restore_or_retry(consumer).await?;
                        if reposition.is_none() && failures == 0 {
                            health::set(J::NAME, JobState::Ready);
                        }
                        continue;
                    }
                    if reposition.is_some() {
                        // Not positioned from the Delta log yet: the seek re-delivers it.
                        continue;
                    }
                    self.handle(&msg);
                }
            }
            if self.writer.is_due() {
                match self.commit(consumer).await {
                    Ok(()) => {
                        if failures > 0 {
                            tracing::info!(job = J::NAME, failures, "committing again");
                            health::set(J::NAME, JobState::Ready);
                        }
                        failures = 0;
                    }
                    Err(e) => {
                        // Nothing was committed (no rows, no position): the
                        // job stays where the Delta log says, not ready,
                        // and tries again until the lake takes commits.
                        failures += 1;
                        tracing::error!(job = J::NAME, error = %e, failures, "commit failed; restoring positions from the Delta log and trying again");
                        health::set(J::NAME, JobState::Failing { failures, reason: e.to_string() });
                        tokio::time::sleep(RETRY_BASE.saturating_mul(failures).min(RETRY_MAX)).await;
                        reposition = self.restore_or_retry(consumer).await?;
                    }
                }
            }
        }
        // Shutdown: commit what we hold unless the assignment changed under us
        // (then the buffer may belong to partitions another consumer owns now).
        if !consumer.take_assignment_changed() {
            self.commit(consumer).await?;
        }
        let producer = self.producer.clone();
        tokio::task::spawn_blocking(move || producer.flush(Duration::from_secs(10)))
            .await
            .map_err(|e| JobError::State { job: J::NAME, reason: e.to_string() })??;
        health::forget(J::NAME);
        tracing::info!(job = J::NAME, report = ?self.report, "job stopped");
        Ok(self.report)
    }

    fn handle(&mut self, msg: &BorrowedMessage<'_>) {
        let (topic, partition, offset) = (msg.topic(), msg.partition(), msg.offset());
        if !self.resume_checks.is_empty() {
            self.check_resume(topic, partition, offset);
        }
        if self.writer.is_written(topic, partition, offset) {
            self.report.skipped_already_written += 1;
            return;
        }
        self.report.consumed += 1;
        let row = match self.job.process(msg) {
            Outcome::Row(row) => {
                self.report.rows += 1;
                Some(row)
            }
            Outcome::Rows(mut rows) => {
                self.report.rows += rows.len() as u64;
                let last = rows.pop();
                for row in rows {
                    self.writer.push(Some(row), topic, partition, offset);
                }
                last
            }
            Outcome::Update(update) => {
                self.report.updates += 1;
                self.writer.push_update(update, topic, partition, offset);
                return;
            }
            Outcome::Updates(updates) if !updates.is_empty() => {
                self.report.updates += updates.len() as u64;
                for update in updates {
                    self.writer.push_update(update, topic, partition, offset);
                }
                return;
            }
            Outcome::Updates(_) => {
                self.report.ignored += 1;
                None
            }
            Outcome::Duplicate => {
                self.report.duplicates += 1;
                None
            }
            Outcome::Ignored => {
                self.report.ignored += 1;
                None
            }
            Outcome::Dead(dead) => {
                self.report.dead_letters += 1;
                metrics::counter!("arus_dead_letters_total", "job" => J::NAME, "kind" => dead.error_kind.as_str()).increment(1);
                tracing::warn!(job = J::NAME, topic, partition, offset, kind = dead.error_kind.as_str(), error = %dead.error, "dead letter");
                let producer = self.producer.clone();
                let dlq_topic = self.dlq_topic.clone();
                let key = dead.user_id.clone().unwrap_or_default();
                self.in_flight.push(tokio::spawn(async move { producer.send_json(&dlq_topic, &key, &*dead).await }));
                None
            }
        };
        for (to, key, payload) in self.job.take_emitted() {
            self.report.emitted += 1;
            // Queued here, in order: consumers of a key see its events as the job made them.
            let send = self.producer.send_in_order(&self.config.topic(to), &key, &payload);
            self.emitted.push(Box::pin(send));
        }
        self.writer.push(row, topic, partition, offset);
    }

    /// The first message of a resumed partition must be at or before the
    /// resume offset (we asked for earlier ones); a later one means the
    /// broker skipped offsets, which is reported rather than passed over.
    fn check_resume(&mut self, topic: &str, partition: i32, offset: i64) {
        let Some(i) = self.resume_checks.iter().position(|(t, p, _)| *p == partition && t == topic) else {
            return;
        };
        let (_, _, resume_at) = self.resume_checks.swap_remove(i);
        if offset > resume_at {
            tracing::error!(
                job = J::NAME, topic, partition, resume_at, first_delivered = offset,
                "the broker skipped offsets {resume_at}..{}: those messages were never delivered (raise ARUS_KAFKA_RESUME_REWIND, or check retention)",
                offset - 1
            );
        }
    }

    /// The commit point: emitted events and dead letters acknowledged, then one Delta commit with
    /// rows and positions, then offsets reported to Kafka for lag.
    async fn commit(&mut self, consumer: &Consumer) -> Result<(), JobError> {
        try_join_all(std::mem::take(&mut self.emitted)).await?;
        let sends = std::mem::take(&mut self.in_flight);
        for sent in try_join_all(sends).await.map_err(|e| JobError::State { job: J::NAME, reason: e.to_string() })? {
            sent?;
        }
        let started = std::time::Instant::now();
        if let Some(flushed) = self.writer.flush().await? {
            self.report.commits += 1;
            tracing::debug!(job = J::NAME, version = flushed.version, rows = flushed.rows, updates = flushed.updates, took_ms = started.elapsed().as_millis() as u64, "committed");
            if flushed.updated_rows < flushed.updates {
                tracing::warn!(job = J::NAME, updates = flushed.updates, matched = flushed.updated_rows, "some updates found no row to change (unknown ids, or several updates of one row)");
            }
            health::committed(J::NAME);
            if let Err(e) = consumer.commit_for_lag(&self.writer.committed_next_offsets()) {
                tracing::debug!(job = J::NAME, error = %e, "lag commit failed (harmless)");
            }
        }
        Ok(())
    }

    /// [`Runner::restore`], or when the partitions could not be positioned
    /// (librdkafka's fetcher not started yet, or a rebalance waiting to be
    /// served), the moment to try again.
    async fn restore_or_retry(&mut self, consumer: &Consumer) -> Result<Option<Instant>, JobError> {
        match self.restore(consumer).await {
            Ok(()) => Ok(None),
            Err(JobError::Kafka(e @ KafkaClientError::NotPositioned { .. })) => {
                tracing::warn!(job = J::NAME, error = %e, "partitions not positioned yet; serving the consumer and trying again");
                Ok(Some(Instant::now() + Duration::from_millis(500)))
            }
            // The broker cannot be reached (down, restarting, a broken
            // connection): nothing is consumed or committed meanwhile; the
            // job says not ready and tries again, librdkafka reconnects.
            Err(JobError::Kafka(e @ (KafkaClientError::Kafka { .. } | KafkaClientError::Delivery { .. }))) => {
                tracing::warn!(job = J::NAME, error = %e, "the broker could not be reached while restoring; trying again in 2 s");
                health::set(J::NAME, JobState::Failing { failures: 1, reason: e.to_string() });
                Ok(Some(Instant::now() + Duration::from_secs(2)))
            }
            Err(e) => Err(e),
        }
    }

    /// Drops the buffer, reads positions from the Delta log, checks them
    /// against the cluster, rebuilds the job's state and seeks.
    async fn restore(&mut self, consumer: &Consumer) -> Result<(), JobError> {
        self.report.restores += 1;
        // Dead letters already sent for dropped rows are re-sent on reprocessing;
        // their ids are deterministic, so the dlq table keeps one of each.
        self.in_flight.clear();
        self.emitted.clear();
        let assigned = consumer.assignment()?;
        let started = std::time::Instant::now();
        let stored = self.writer.restore(&assigned).await?;
        tracing::debug!(job = J::NAME, took_ms = started.elapsed().as_millis() as u64, "stored positions read");
        let high = {
            let kafka = self.kafka.clone();
            let assigned = assigned.clone();
            tokio::task::spawn_blocking(move || kafka.high_watermarks(&assigned, Duration::from_secs(10)))
                .await
                .map_err(|e| JobError::State { job: J::NAME, reason: e.to_string() })??
        };
        tracing::debug!(job = J::NAME, took_ms = started.elapsed().as_millis() as u64, "high watermarks read");
        let plan = plan_resume(J::NAME, &assigned, &stored, self.cluster_id.as_deref(), &high, self.config.kafka_resume_rewind, self.config.kafka_offset_mismatch)?;
        for (topic, partition) in &plan.forgotten {
            self.writer.forget(topic, *partition);
        }
        self.job.restore_state(self.writer.table()).await?;
        let rewind = self.config.kafka_resume_rewind;
        self.resume_checks = plan.next.iter().filter_map(|((t, p), next)| next.map(|n| (t.clone(), *p, n))).collect();
        let seek: HashMap<_, _> = plan.next.into_iter().map(|(k, next)| (k, next.map(|n| (n - rewind).max(0)))).collect();
        consumer.seek_to(&seek).await?;
        tracing::info!(job = J::NAME, partitions = assigned.len(), "positions restored from the Delta log");
        Ok(())
    }
}

async fn sleep_until_opt(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}
