//! The one Kafka client wrapper of arus, over rdkafka: an idempotent producer
//! (`enable.idempotence=true`, `acks=all`), consumers with manual offset
//! control that report rebalances to their job, and topic administration.
//! `ARUS_KAFKA_BROKERS` (and the SASL settings) select the cluster.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
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
    #[error("{topic}[{partition}] could not be positioned yet: {reason}")]
    NotPositioned { topic: String, partition: i32, reason: String },
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
        let mut config = self.base.clone();
        config
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .set("linger.ms", "5")
            .set("batch.num.messages", "10000")
            .set("queue.buffering.max.messages", "500000")
            .set("message.timeout.ms", "30000");
        let producer: FutureProducer = config.create()?;
        Ok(Producer { inner: Arc::new(std::sync::RwLock::new((0, producer))), config: Arc::new(config) })
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
            rebalances: Arc::new(AtomicU64::new(0)),
        };
        let flag = Arc::clone(&context.assignment_changed);
        let wake = Arc::clone(&context.wake);
        let rebalances = Arc::clone(&context.rebalances);
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
        Ok(Consumer {
            inner: Arc::new(inner),
            assignment_changed: flag,
            wake,
            mode,
            manual,
            group: group.to_owned(),
            topics: topics.iter().map(|t| (*t).to_owned()).collect(),
            rebalances,
            suspect: std::sync::Mutex::new(None),
        })
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
///
/// An idempotent producer can meet a fatal error (the broker fenced its
/// producer id, for instance after losing it in a restart); librdkafka
/// then fails every send until the application makes a new producer. The
/// first send that fails after such an error puts a new one in its place,
/// so the caller's retry goes through.
#[derive(Clone)]
pub struct Producer {
    /// The producer in use and how many have been replaced before it.
    inner: Arc<std::sync::RwLock<(u64, FutureProducer)>>,
    config: Arc<ClientConfig>,
}

/// Errors after which an idempotent producer cannot go on: its producer id
/// or epoch is no longer the broker's.
fn fenced(error: &KafkaError) -> bool {
    use RDKafkaErrorCode as C;
    matches!(
        error.rdkafka_error_code(),
        Some(C::Fatal | C::ProducerFenced | C::InvalidProducerEpoch | C::UnknownProducerId | C::OutOfOrderSequenceNumber | C::InvalidProducerIdMapping)
    )
}

impl Producer {
    fn current(&self) -> (u64, FutureProducer) {
        self.inner.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    /// After a send through producer `generation` failed with `error`:
    /// replaces that producer if it is fenced or in a fatal state (once,
    /// however many of its sends fail).
    fn recover(&self, generation: u64, error: &KafkaError) {
        let mut inner = self.inner.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        if inner.0 != generation {
            return;
        }
        let fatal = inner.1.client().fatal_error();
        if fatal.is_none() && !fenced(error) {
            return;
        }
        match self.config.create::<FutureProducer>() {
            Ok(fresh) => {
                tracing::error!(%error, fatal = ?fatal, "the Kafka producer was fenced or failed fatally; a new producer takes its place");
                *inner = (generation + 1, fresh);
            }
            Err(e) => tracing::error!(%error, fatal = ?fatal, create_error = %e, "the Kafka producer was fenced or failed fatally and a new one could not be made"),
        }
    }

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
        let (generation, producer) = self.current();
        let result = producer.send(record, Duration::from_secs(30)).await;
        result.map(|delivery| (delivery.partition, delivery.offset)).map_err(|(source, _)| {
            self.recover(generation, &source);
            KafkaClientError::Delivery { topic: topic.to_owned(), source }
        })
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
        let (generation, producer) = self.current();
        let queued = loop {
            match producer.send_result(record) {
                Ok(delivery) => break Ok(delivery),
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                    record = back;
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err((source, _)) => break Err(source),
            }
        };
        let (topic, this) = (topic.to_owned(), self.clone());
        async move {
            let result = match queued {
                Ok(delivery) => match delivery.await {
                    Ok(Ok(d)) => return Ok((d.partition, d.offset)),
                    Ok(Err((source, _))) => source,
                    Err(_) => KafkaError::Canceled,
                },
                Err(source) => source,
            };
            this.recover(generation, &result);
            Err(KafkaClientError::Delivery { topic, source: result })
        }
    }

    /// Waits until every queued message is delivered or `timeout` passes. Blocking.
    pub fn flush(&self, timeout: Duration) -> Result<()> {
        Ok(self.current().1.flush(timeout)?)
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
    /// Counts assignments and revocations (see [`Consumer::rejoin_if_stale`]).
    rebalances: Arc<AtomicU64>,
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
        self.rebalances.fetch_add(1, Ordering::SeqCst);
        self.wake.notify_one();
    }
}

/// A group consumer of one job. Positions are the job's to decide: nothing
/// is committed automatically.
pub struct Consumer {
    inner: Arc<StreamConsumer<JobContext>>,
    assignment_changed: Arc<AtomicBool>,
    wake: Arc<Notify>,
    mode: ConsumerMode,
    /// Every partition of the topics, in [`ConsumerMode::Assign`].
    manual: Vec<(String, i32)>,
    group: String,
    topics: Vec<String>,
    /// Assignments and revocations so far.
    rebalances: Arc<AtomicU64>,
    /// The rebalance count when this member last found its share too small.
    suspect: std::sync::Mutex<Option<u64>>,
}

impl Consumer {
    /// The next message. Rebalance callbacks run inside this call.
    /// librdkafka reports trouble it recovers from by itself (all brokers
    /// down, a broken connection) as consumption errors: they are logged
    /// (once, then every 30 s while they last) and the wait goes on.
    pub async fn recv(&self) -> Result<BorrowedMessage<'_>> {
        let mut warned: Option<std::time::Instant> = None;
        loop {
            match self.inner.recv().await {
                Ok(msg) => {
                    if warned.is_some() {
                        tracing::info!(group = %self.group, "Kafka reachable again");
                    }
                    return Ok(msg);
                }
                Err(e @ KafkaError::MessageConsumption(_)) => {
                    if warned.is_none_or(|at| at.elapsed() > Duration::from_secs(30)) {
                        tracing::warn!(group = %self.group, error = %e, "Kafka consumer trouble; librdkafka reconnects by itself");
                        warned = Some(std::time::Instant::now());
                    }
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(e) => return Err(e.into()),
            }
        }
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

    /// Rejoins the group when this member holds fewer partitions than any
    /// member of a group of this size must (with the range and round-robin
    /// assignors, at least ⌊partitions / members⌋ of every topic) twice in
    /// a row with no rebalance between: the group has kept the shares of a
    /// member that died. Apache Kafka never leaves a group so; tansu 0.6
    /// drops a killed member from the group without starting a new
    /// generation, so the survivors get their old shares back and the dead
    /// member's partitions are read by nobody. A new join starts a new
    /// generation and the survivors share every partition. Returns whether
    /// it rejoined. Nothing in [`ConsumerMode::Assign`].
    pub async fn rejoin_if_stale(&self) -> Result<bool> {
        if self.mode == ConsumerMode::Assign {
            return Ok(false);
        }
        let before = self.rebalances.load(Ordering::SeqCst);
        let (inner, group, topics) = (Arc::clone(&self.inner), self.group.clone(), self.topics.clone());
        let (members, held, least) = tokio::task::spawn_blocking(move || -> Result<(usize, usize, usize)> {
            let groups = inner.fetch_group_list(Some(&group), Duration::from_secs(5))?;
            let members = groups.groups().iter().find(|g| g.name() == group).map_or(0, |g| g.members().len());
            let held = inner.assignment()?.count();
            let mut least = 0;
            for topic in &topics {
                let metadata = inner.fetch_metadata(Some(topic), Duration::from_secs(5))?;
                let partitions = metadata.topics().first().map_or(0, |t| t.partitions().len());
                least += partitions / members.max(1);
            }
            Ok((members, held, least))
        })
        .await
        .map_err(|_| KafkaClientError::Kafka { source: KafkaError::Canceled })??;
        let mut suspect = self.suspect.lock().unwrap_or_else(|e| e.into_inner());
        if members == 0 || held >= least || self.rebalances.load(Ordering::SeqCst) != before {
            *suspect = None;
            return Ok(false);
        }
        if *suspect != Some(before) {
            *suspect = Some(before);
            return Ok(false);
        }
        *suspect = None;
        tracing::warn!(group = %self.group, members, held, least, "this member holds too small a share: the group kept a dead member's partitions; rejoining");
        let topics: Vec<&str> = self.topics.iter().map(String::as_str).collect();
        self.inner.unsubscribe();
        self.inner.subscribe(&topics)?;
        Ok(true)
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
    /// group member seeks, retrying for a few seconds while librdkafka is
    /// still starting the fetcher for a new assignment. A seek that cannot
    /// be done (the fetcher did not start in time, or a rebalance arrived
    /// meanwhile, which is only served inside [`Consumer::recv`]) is
    /// [`KafkaClientError::NotPositioned`]: every partition stays paused,
    /// and the caller polls `recv` and positions them again.
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
                let not_positioned = |reason: String| KafkaClientError::NotPositioned { topic: topic.clone(), partition: *partition, reason };
                if self.assignment_changed.load(Ordering::SeqCst) {
                    return Err(not_positioned("a rebalance arrived while seeking".into()));
                }
                match self.inner.seek(topic, *partition, offset, Duration::from_secs(2)) {
                    Ok(()) => break,
                    Err(e) if attempt < 50 => {
                        attempt += 1;
                        tracing::debug!(%topic, partition, error = %e, "seek not possible yet; retrying");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                    Err(e) => return Err(not_positioned(e.to_string())),
                }
            }
            resume.add_partition(topic, *partition);
        }
        if resume.count() > 0 {
            self.inner.resume(&resume)?;
        }
        Ok(())
    }

    /// [`Consumer::seek_to`] for a job that restores whenever
    /// [`Consumer::take_assignment_changed`] says so: when the partitions
    /// cannot be positioned yet (the fetcher of a new assignment not started,
    /// or a rebalance arrived meanwhile) it serves the consumer for a moment,
    /// so a waiting rebalance runs, and marks the assignment changed again,
    /// so the caller's next turn reads its positions and seeks anew. Every
    /// partition stays paused until then, so nothing is delivered from a
    /// position the job did not choose; the job does not end over it.
    pub async fn seek_or_retry(&self, positions: &HashMap<(String, i32), Option<i64>>) -> Result<()> {
        match self.seek_to(positions).await {
            Err(e @ KafkaClientError::NotPositioned { .. }) => {
                tracing::warn!(group = %self.group, error = %e, "partitions not positioned yet; serving the consumer and trying again");
                // Rebalance callbacks run inside the poll; paused partitions deliver nothing.
                if let Ok(Ok(msg)) = tokio::time::timeout(Duration::from_millis(500), self.inner.recv()).await {
                    tracing::debug!(topic = msg.topic(), partition = msg.partition(), offset = msg.offset(), "message before positioning dropped; the seek delivers it again");
                }
                self.assignment_changed.store(true, Ordering::SeqCst);
                Ok(())
            }
            other => other,
        }
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
