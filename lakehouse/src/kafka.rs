//! The one Kafka client wrapper of arus, over rdkafka: an idempotent producer
//! (`enable.idempotence=true`, `acks=all`), consumers with manual offset
//! control that report rebalances to their job, and topic administration.
//! `ARUS_KAFKA_BROKERS` (and the SASL settings) select the cluster.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use arus_schemas::config::ConsumerMode;
use arus_schemas::Config;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer as _, ConsumerContext, Rebalance, StreamConsumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer as _};
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use rdkafka::ClientContext;
use tokio::sync::Notify;
use serde::Serialize;

pub use rdkafka::message::{BorrowedMessage, Message};

/// Kafka could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum KafkaClientError {
    #[error("kafka: {source}")]
    Kafka {
        #[from]
        source: KafkaError,
    },
    #[error("could not create topic {topic}: {reason}")]
    CreateTopic { topic: String, reason: String },
    #[error("delivery to {topic} failed: {source}")]
    Delivery { topic: String, source: KafkaError },
    #[error("could not encode event for {topic}: {source}")]
    Encode { topic: String, source: serde_json::Error },
    #[error("topic {topic} has no partitions; run `arus topics create`")]
    MissingTopic { topic: String },
    #[error("no Kafka brokers configured (set ARUS_KAFKA_BROKERS, or use `arus up` for an embedded broker)")]
    NoBrokers,
}

type Result<T, E = KafkaClientError> = std::result::Result<T, E>;

/// Connection settings shared by every client of one process.
#[derive(Clone, Debug)]
pub struct Kafka {
    base: ClientConfig,
    partitions: i32,
    replication: i32,
}

impl Kafka {
    /// Client settings from the configuration; fails when no broker is set.
    pub fn new(config: &Config) -> Result<Self> {
        if config.kafka_brokers.trim().is_empty() {
            return Err(KafkaClientError::NoBrokers);
        }
        let mut base = ClientConfig::new();
        base.set("bootstrap.servers", &config.kafka_brokers)
            .set("security.protocol", &config.kafka_security_protocol)
            .set("client.id", "arus");
        if !config.kafka_sasl_mechanism.is_empty() {
            base.set("sasl.mechanism", &config.kafka_sasl_mechanism)
                .set("sasl.username", &config.kafka_sasl_username)
                .set("sasl.password", config.kafka_sasl_password.expose());
        }
        Ok(Kafka { base, partitions: config.kafka_partitions, replication: config.kafka_replication_factor })
    }

    /// An idempotent producer: `acks=all`, retries without duplicates or
    /// reordering within a partition.
    pub fn producer(&self) -> Result<Producer> {
        let producer: FutureProducer = self
            .base
            .clone()
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .set("linger.ms", "5")
            .set("batch.num.messages", "10000")
            .set("queue.buffering.max.messages", "500000")
            .set("message.timeout.ms", "30000")
            .create()?;
        Ok(Producer { inner: producer })
    }

    /// A consumer for `topics` with automatic offset commits off: jobs decide
    /// positions from the Delta log and commit to Kafka only so that lag
    /// shows in the usual tools. In [`ConsumerMode::Group`] it joins `group`;
    /// in [`ConsumerMode::Assign`] it takes every partition of `topics`.
    pub fn consumer(&self, group: &str, topics: &[&str], mode: ConsumerMode) -> Result<Consumer> {
        // A manual assignment is "changed" once, at the start; a group
        // member waits for its first assignment.
        let context = JobContext {
            group: group.to_owned(),
            assignment_changed: Arc::new(AtomicBool::new(mode == ConsumerMode::Assign)),
            wake: Arc::new(Notify::new()),
        };
        let flag = Arc::clone(&context.assignment_changed);
        let wake = Arc::clone(&context.wake);
        let inner: StreamConsumer<JobContext> = self
            .base
            .clone()
            .set("group.id", group)
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", "earliest")
            .set("enable.partition.eof", "false")
            .set("session.timeout.ms", "10000")
            .set("heartbeat.interval.ms", "1000")
            // Also the rebalance timeout a crashed member can hold a group up
            // for (librdkafka sends it with JoinGroup). A job polls many times
            // a second, so 15 s is ample and bounds that stall.
            .set("max.poll.interval.ms", "15000")
            .set("fetch.wait.max.ms", "50")
            // Fetch in large steps: one round trip per ~25k small events per
            // partition instead of ~3k (the 1 MiB default).
            .set("max.partition.fetch.bytes", "8388608")
            .set("fetch.max.bytes", "67108864")
            .set("queued.min.messages", "50000")
            // Consumer lag per partition for /metrics (see `JobContext::stats`).
            .set("statistics.interval.ms", "5000")
            .create_with_context(context)?;
        // Nothing may be fetched from Kafka's committed offsets: a fetch that
        // starts ahead of the Delta log would deliver messages past a gap,
        // and the gap would then be skipped as "already written". A manual
        // assignment is made by the first `seek_to`, with offsets from the
        // Delta log; a group member's partitions are paused on assignment
        // (see `JobContext`) and resumed by `seek_to`.
        let mut manual = Vec::new();
        match mode {
            ConsumerMode::Group => inner.subscribe(topics)?,
            ConsumerMode::Assign => {
                for topic in topics {
                    for partition in self.partitions_of(topic, Duration::from_secs(10))? {
                        manual.push(((*topic).to_owned(), partition));
                    }
                }
                if manual.is_empty() {
                    return Err(KafkaClientError::MissingTopic { topic: topics.join(",") });
                }
            }
        }
        Ok(Consumer { inner, assignment_changed: flag, wake, mode, manual })
    }

    fn admin(&self) -> Result<AdminClient<DefaultClientContext>> {
        Ok(self.base.create()?)
    }

    /// Creates `topics` with the configured partitions and replication;
    /// topics that exist already are left as they are. Returns the names created.
    /// Topics jobs rebuild their state from are kept forever
    /// ([`arus_schemas::topics::KEPT`]).
    pub async fn create_topics(&self, topics: &[String]) -> Result<Vec<String>> {
        let admin = self.admin()?;
        let new: Vec<NewTopic> = topics
            .iter()
            .map(|t| {
                let topic = NewTopic::new(t, self.partitions, TopicReplication::Fixed(self.replication));
                if arus_schemas::topics::KEPT.iter().any(|k| t.ends_with(k)) { topic.set("retention.ms", "-1") } else { topic }
            })
            .collect();
        let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(20)));
        let mut created = Vec::new();
        for result in admin.create_topics(&new, &options).await? {
            match result {
                Ok(topic) => created.push(topic),
                Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
                Err((topic, code)) => {
                    return Err(KafkaClientError::CreateTopic { topic, reason: code.to_string() })
                }
            }
        }
        Ok(created)
    }

    /// The cluster's id, or `None` when the broker does not report one.
    /// Blocks up to `timeout`; call it off the reactor.
    pub fn cluster_id(&self, timeout: Duration) -> Result<Option<String>> {
        let admin = self.admin()?;
        Ok(admin.inner().fetch_cluster_id(timeout))
    }

    /// Partition counts of `topic` (empty when it does not exist). Blocking.
    pub fn partitions_of(&self, topic: &str, timeout: Duration) -> Result<Vec<i32>> {
        let admin = self.admin()?;
        let metadata = admin.inner().fetch_metadata(Some(topic), timeout)?;
        Ok(metadata
            .topics()
            .iter()
            .filter(|t| t.error().is_none())
            .flat_map(|t| t.partitions().iter().map(|p| p.id()))
            .collect())
    }

    /// High watermark (the offset the next produced message gets) of each
    /// partition. Blocking.
    pub fn high_watermarks(&self, partitions: &[(String, i32)], timeout: Duration) -> Result<HashMap<(String, i32), i64>> {
        let admin = self.admin()?;
        partitions
            .iter()
            .map(|(topic, partition)| {
                let (_, high) = admin.inner().fetch_watermarks(topic, *partition, timeout)?;
                Ok(((topic.clone(), *partition), high))
            })
            .collect()
    }

    /// Succeeds when the cluster answers a metadata request in `timeout`. Blocking.
    pub fn ping(&self, timeout: Duration) -> Result<()> {
        let admin = self.admin()?;
        admin.inner().fetch_metadata(None, timeout)?;
        Ok(())
    }
}

/// Producer of JSON events. Cloning is cheap and shares one connection.
#[derive(Clone)]
pub struct Producer {
    inner: FutureProducer,
}

impl Producer {
    /// Sends `value` as JSON to `topic` under `key` and waits for the broker's
    /// acknowledgement (all in-sync replicas). Returns `(partition, offset)`.
    pub async fn send_json<T: Serialize>(&self, topic: &str, key: &str, value: &T) -> Result<(i32, i64)> {
        let payload = serde_json::to_vec(value)
            .map_err(|source| KafkaClientError::Encode { topic: topic.to_owned(), source })?;
        self.send_bytes(topic, Some(key.as_bytes()), &payload).await
    }

    /// Sends raw bytes; see [`Producer::send_json`].
    pub async fn send_bytes(&self, topic: &str, key: Option<&[u8]>, payload: &[u8]) -> Result<(i32, i64)> {
        let mut record = FutureRecord::<[u8], [u8]>::to(topic).payload(payload);
        if let Some(key) = key {
            record = record.key(key);
        }
        self.inner
            .send(record, Duration::from_secs(30))
            .await
            .map(|delivery| (delivery.partition, delivery.offset))
            .map_err(|(source, _)| KafkaClientError::Delivery { topic: topic.to_owned(), source })
    }

    /// A send that borrows nothing, so that many can be in flight at once:
    /// the future queues `payload` when first polled and resolves with the
    /// acknowledgement. (Queuing on first poll lets a caller hand librdkafka
    /// a burst at a time: on two cores that measured faster than queuing
    /// each message at once, `arus bench import`.)
    pub fn send_detached(&self, topic: &str, key: String, payload: Vec<u8>) -> impl std::future::Future<Output = Result<(i32, i64)>> + Send + 'static {
        let (producer, topic) = (self.clone(), topic.to_owned());
        async move { producer.send_bytes(&topic, Some(key.as_bytes()), &payload).await }
    }

    /// Queues `payload` now (waiting while librdkafka's queue is full), so
    /// that messages sent one after another keep their order within a
    /// partition; the future resolves with the acknowledgement. For events
    /// whose order consumers rely on (what a job emits per key).
    pub fn send_in_order(&self, topic: &str, key: &str, payload: &[u8]) -> impl std::future::Future<Output = Result<(i32, i64)>> + Send + 'static {
        let mut record = FutureRecord::<str, [u8]>::to(topic).key(key).payload(payload);
        let queued = loop {
            match self.inner.send_result(record) {
                Ok(delivery) => break Ok(delivery),
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                    record = back;
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err((source, _)) => break Err(source),
            }
        };
        let topic = topic.to_owned();
        async move {
            let delivery = queued.map_err(|source| KafkaClientError::Delivery { topic: topic.clone(), source })?;
            match delivery.await {
                Ok(Ok(d)) => Ok((d.partition, d.offset)),
                Ok(Err((source, _))) => Err(KafkaClientError::Delivery { topic, source }),
                Err(_) => Err(KafkaClientError::Delivery { topic, source: KafkaError::Canceled }),
            }
        }
    }

    /// Waits until every queued message is delivered or `timeout` passes. Blocking.
    pub fn flush(&self, timeout: Duration) -> Result<()> {
        Ok(self.inner.flush(timeout)?)
    }
}

/// Records that partitions were assigned or revoked, so the job restores its
/// positions from the Delta log before it trusts the next message.
struct JobContext {
    /// Consumer group, the `group` label of the lag metric.
    group: String,
    assignment_changed: Arc<AtomicBool>,
    /// Wakes a job waiting in [`Consumer::assignment_change`], so it restores
    /// at once even when no message arrives.
    wake: Arc<Notify>,
}

impl ClientContext for JobContext {
    /// librdkafka's periodic statistics: records `arus_kafka_consumer_lag`
    /// (partition end minus the committed position, which jobs commit after
    /// each Delta commit) for every partition this consumer reads.
    fn stats(&self, statistics: rdkafka::Statistics) {
        for (topic, stats) in &statistics.topics {
            for (partition, p) in &stats.partitions {
                if *partition < 0 || p.consumer_lag < 0 {
                    continue;
                }
                metrics::gauge!(
                    "arus_kafka_consumer_lag",
                    "group" => self.group.clone(), "topic" => topic.clone(), "partition" => partition.to_string()
                )
                .set(p.consumer_lag as f64);
            }
        }
    }
}

impl ConsumerContext for JobContext {
    fn post_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        match rebalance {
            Rebalance::Assign(tpl) => {
                tracing::info!(partitions = tpl.count(), "partitions assigned");
                // Hold them until the job has positioned them from the Delta log.
                if let Err(e) = consumer.pause(tpl) {
                    tracing::error!(error = %e, "could not pause newly assigned partitions");
                }
            }
            Rebalance::Revoke(tpl) => tracing::info!(partitions = tpl.count(), "partitions revoked"),
            Rebalance::Error(e) => tracing::warn!(error = %e, "rebalance error"),
        }
        self.assignment_changed.store(true, Ordering::SeqCst);
        self.wake.notify_one();
    }
}

/// A group consumer of one job. Positions are the job's to decide: nothing
/// is committed automatically.
pub struct Consumer {
    inner: StreamConsumer<JobContext>,
    assignment_changed: Arc<AtomicBool>,
    wake: Arc<Notify>,
    mode: ConsumerMode,
    /// Every partition of the topics, in [`ConsumerMode::Assign`].
    manual: Vec<(String, i32)>,
}

impl Consumer {
    /// The next message. Rebalance callbacks run inside this call.
    pub async fn recv(&self) -> Result<BorrowedMessage<'_>> {
        Ok(self.inner.recv().await?)
    }

    /// Completes after the next assignment or revocation. Rebalances are
    /// served while [`Consumer::recv`] is polled; select on both.
    pub async fn assignment_change(&self) {
        self.wake.notified().await;
    }

    /// True once after every assignment or revocation (and before the first
    /// message); the caller must then restore positions with [`Consumer::seek_to`].
    pub fn take_assignment_changed(&self) -> bool {
        self.assignment_changed.swap(false, Ordering::SeqCst)
    }

    /// Partitions currently assigned to this consumer, as `(topic, partition)`.
    pub fn assignment(&self) -> Result<Vec<(String, i32)>> {
        if self.mode == ConsumerMode::Assign {
            return Ok(self.manual.clone());
        }
        Ok(self
            .inner
            .assignment()?
            .elements()
            .iter()
            .map(|e| (e.topic().to_owned(), e.partition()))
            .collect())
    }

    /// Moves each partition to the given next offset (`None`: the
    /// beginning). A manual assignment is replaced with these offsets; a
    /// group member seeks, retrying while librdkafka is still starting the
    /// fetcher for a new assignment.
    pub async fn seek_to(&self, positions: &HashMap<(String, i32), Option<i64>>) -> Result<()> {
        if self.mode == ConsumerMode::Assign {
            let mut tpl = TopicPartitionList::new();
            for ((topic, partition), next) in positions {
                tpl.add_partition_offset(topic, *partition, next.map_or(Offset::Beginning, Offset::Offset))?;
            }
            self.inner.assign(&tpl)?;
            return Ok(());
        }
        let mut resume = TopicPartitionList::new();
        for ((topic, partition), next) in positions {
            let offset = next.map_or(Offset::Beginning, Offset::Offset);
            let mut attempt = 0;
            loop {
                match self.inner.seek(topic, *partition, offset, Duration::from_secs(5)) {
                    Ok(()) => break,
                    Err(e) if attempt < 50 => {
                        attempt += 1;
                        tracing::debug!(%topic, partition, error = %e, "seek not possible yet; retrying");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            resume.add_partition(topic, *partition);
        }
        if resume.count() > 0 {
            self.inner.resume(&resume)?;
        }
        Ok(())
    }

    /// Commits next offsets to Kafka, for lag visibility only (asynchronous;
    /// a lost commit changes nothing about what the job writes).
    pub fn commit_for_lag(&self, next_offsets: &[(String, i32, i64)]) -> Result<()> {
        if next_offsets.is_empty() {
            return Ok(());
        }
        let mut tpl = TopicPartitionList::new();
        for (topic, partition, next) in next_offsets {
            tpl.add_partition_offset(topic, *partition, Offset::Offset(*next))?;
        }
        self.inner.commit(&tpl, rdkafka::consumer::CommitMode::Async)?;
        Ok(())
    }
}
