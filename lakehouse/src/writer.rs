//! The exactly-once writer every job commits through (the protocol of
//! delta-io/kafka-delta-ingest). Rows are buffered with the Kafka position
//! they came from; a flush is one Delta commit carrying the new Parquet files
//! and one `txn` action per source partition (`appId = {job}-{topic}-{partition}`,
//! `version` = last offset written). On start and after every rebalance the
//! job restores those versions and skips any message at or below them, so a
//! crash at any point neither loses nor repeats a row. Kafka's own committed
//! offsets are never trusted.
//!
//! A job may also change rows already written (a person correcting a
//! category): such updates are buffered too and applied by a MERGE on the
//! table's keys in a second commit, which carries the `txn` actions of the
//! partitions the updates came from. Each partition's position is thus
//! committed with its own effects, whichever commit they are in.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use arrow::datatypes::{FieldRef, Schema};
use datafusion::prelude::{col, Expr, SessionContext};
use arus_schemas::tables::TableDef;
use deltalake::kernel::transaction::{CommitBuilder, CommitProperties};
use deltalake::kernel::{Action, Transaction};
use deltalake::protocol::{DeltaOperation, SaveMode};
use deltalake::writer::{DeltaWriter, RecordBatchWriter};
use deltalake::DeltaTable;
use serde::Serialize;

use crate::{Lake, LakeError};

/// When a writer commits.
#[derive(Debug, Clone, Copy)]
pub struct WriterSettings {
    /// Commit when this many rows are buffered.
    pub max_rows: usize,
    /// Commit when the oldest buffered message has waited this long.
    pub max_latency: Duration,
    /// Write a Delta checkpoint every this many table versions.
    pub checkpoint_interval: u64,
}

impl WriterSettings {
    pub fn from_config(config: &arus_schemas::Config) -> Self {
        WriterSettings {
            max_rows: config.batch_max_rows,
            max_latency: Duration::from_millis(config.batch_max_latency_ms),
            checkpoint_interval: config.checkpoint_interval,
        }
    }
}

/// The `txn` application id under which `job` records its position in
/// `topic`/`partition`.
pub fn app_id(job: &str, topic: &str, partition: i32) -> String {
    format!("{job}-{topic}-{partition}")
}

/// The `txn` application id recording which Kafka cluster `job`'s offsets
/// belong to (its version is [`cluster_fingerprint`] of the cluster id).
fn cluster_app_id(job: &str) -> String {
    format!("{job}-kafka-cluster")
}

/// A stable 63-bit fingerprint (FNV-1a) of a cluster id, storable as a `txn` version.
pub fn cluster_fingerprint(cluster_id: &str) -> i64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in cluster_id.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    (hash >> 1) as i64
}

/// How buffered updates change rows already in the table: the rows whose
/// `keys` equal an update's get its values of `set`; with `insert`, an
/// update whose key is not in the table is inserted as a row (an upsert:
/// `keys` and `set` must then name every column).
#[derive(Debug, Clone)]
pub struct UpdateSpec {
    pub keys: &'static [&'static str],
    pub set: &'static [&'static str],
    pub insert: bool,
}

/// What one flush committed.
#[derive(Debug, Clone)]
pub struct Flushed {
    pub version: u64,
    pub rows: usize,
    /// Updates applied, and how many of them found their row.
    pub updates: usize,
    pub updated_rows: usize,
    /// `(topic, partition, last offset)` recorded by this commit.
    pub positions: Vec<(String, i32, i64)>,
}

/// Positions read back from the Delta log.
#[derive(Debug, Clone, Default)]
pub struct StoredPositions {
    /// Last offset written per `(topic, partition)`; absent when never written.
    pub last_offsets: HashMap<(String, i32), i64>,
    /// Fingerprint of the cluster the offsets were written against, if recorded.
    pub cluster: Option<i64>,
}

#[derive(Debug)]
struct Position {
    topic: String,
    partition: i32,
    /// Last offset recorded in the Delta log.
    committed: Option<i64>,
    /// Last offset buffered and not yet committed.
    pending: Option<i64>,
    /// An update was buffered from this partition: its position goes with
    /// the update commit.
    updates: bool,
}

/// Buffers rows (and updates of rows) of one table for one job and commits
/// them exactly once.
pub struct ExactlyOnceWriter<T, U = ()> {
    job: String,
    def: &'static TableDef,
    table: DeltaTable,
    fields: Vec<FieldRef>,
    settings: WriterSettings,
    rows: Vec<T>,
    oldest: Option<Instant>,
    positions: Vec<Position>,
    cluster_id: Option<String>,
    updates: Vec<U>,
    update_spec: Option<(UpdateSpec, Vec<FieldRef>)>,
}

impl<T: Serialize, U: Serialize> ExactlyOnceWriter<T, U> {
    /// Opens (creating if needed) `def` in `lake` for `job`.
    pub async fn open(lake: &Lake, def: &'static TableDef, job: &str, settings: WriterSettings) -> Result<Self, LakeError> {
        let table = lake.open_or_create(def).await?;
        let fields = def.schema().fields().iter().cloned().collect();
        Ok(ExactlyOnceWriter {
            job: job.to_owned(),
            def,
            table,
            fields,
            settings,
            rows: Vec::new(),
            oldest: None,
            positions: Vec::new(),
            cluster_id: None,
            updates: Vec::new(),
            update_spec: None,
        })
    }

    /// Lets this writer apply updates ([`Self::push_update`]) as `spec` says.
    pub fn with_updates(mut self, spec: UpdateSpec) -> Result<Self, LakeError> {
        let schema = self.def.schema();
        let fields = spec
            .keys
            .iter()
            .chain(spec.set)
            .map(|name| {
                schema.field_with_name(name).map(|f| std::sync::Arc::new(f.clone())).map_err(|_| LakeError::Schema {
                    table: self.def.name,
                    reason: format!("update column {name} is not in the table"),
                })
            })
            .collect::<Result<Vec<FieldRef>, LakeError>>()?;
        self.update_spec = Some((spec, fields));
        Ok(self)
    }

    /// The table as of the last restore or flush.
    pub fn table(&self) -> &DeltaTable {
        &self.table
    }

    /// Records the Kafka cluster this writer's offsets belong to; written
    /// with every commit.
    pub fn set_cluster_id(&mut self, cluster_id: Option<String>) {
        self.cluster_id = cluster_id;
    }

    /// Drops everything buffered, reloads the table and reads the stored
    /// positions of `partitions`. Call on start, after every rebalance and
    /// after a failed flush (which may or may not have committed).
    pub async fn restore(&mut self, partitions: &[(String, i32)]) -> Result<StoredPositions, LakeError> {
        self.rows.clear();
        self.updates.clear();
        self.oldest = None;
        self.positions.clear();
        self.table.update_incremental(None).await?;
        let state = self.table.snapshot()?;
        let log_store = self.table.log_store();
        let mut stored = StoredPositions::default();
        for (topic, partition) in partitions {
            let last = state.transaction_version(log_store.as_ref(), app_id(&self.job, topic, *partition)).await?;
            if let Some(offset) = last {
                stored.last_offsets.insert((topic.clone(), *partition), offset);
            }
            self.positions.push(Position { topic: topic.clone(), partition: *partition, committed: last, pending: None, updates: false });
        }
        stored.cluster = state.transaction_version(log_store.as_ref(), cluster_app_id(&self.job)).await?;
        Ok(stored)
    }

    /// Treats `topic`/`partition` as never written (after an explicit
    /// decision to reprocess it, see `OffsetMismatchPolicy::Reprocess`).
    pub fn forget(&mut self, topic: &str, partition: i32) {
        if let Some(p) = self.position_mut(topic, partition) {
            p.committed = None;
        }
    }

    fn position_mut(&mut self, topic: &str, partition: i32) -> Option<&mut Position> {
        self.positions.iter_mut().find(|p| p.partition == partition && p.topic == topic)
    }

    /// True when the message at `offset` is already in the table (or
    /// deliberately consumed by an earlier commit): the caller must skip it.
    pub fn is_written(&self, topic: &str, partition: i32, offset: i64) -> bool {
        self.positions
            .iter()
            .find(|p| p.partition == partition && p.topic == topic)
            .and_then(|p| p.committed)
            .is_some_and(|committed| offset <= committed)
    }

    /// Buffers the outcome of the message at `offset`: a row, or `None` when
    /// the message yields no row (a duplicate, or a dead letter already
    /// delivered) but must still count as consumed.
    pub fn push(&mut self, row: Option<T>, topic: &str, partition: i32, offset: i64) {
        self.consumed(topic, partition, offset, false);
        if let Some(row) = row {
            self.rows.push(row);
        }
    }

    /// Buffers an update of rows already written, from the message at
    /// `offset` (see [`Self::with_updates`]).
    pub fn push_update(&mut self, update: U, topic: &str, partition: i32, offset: i64) {
        self.consumed(topic, partition, offset, true);
        self.updates.push(update);
    }

    fn consumed(&mut self, topic: &str, partition: i32, offset: i64, update: bool) {
        match self.position_mut(topic, partition) {
            Some(p) => {
                p.pending = Some(p.pending.map_or(offset, |o| o.max(offset)));
                p.updates |= update;
            }
            None => self.positions.push(Position {
                topic: topic.to_owned(),
                partition,
                committed: None,
                pending: Some(offset),
                updates: update,
            }),
        }
        self.oldest.get_or_insert_with(Instant::now);
    }

    /// Rows and updates buffered and not yet committed.
    pub fn buffered_rows(&self) -> usize {
        self.rows.len() + self.updates.len()
    }

    /// When the buffer must be committed by, if anything is buffered.
    pub fn deadline(&self) -> Option<Instant> {
        self.oldest.map(|t| t + self.settings.max_latency)
    }

    /// True when the buffer is full or its oldest message has waited long enough.
    pub fn is_due(&self) -> bool {
        self.buffered_rows() >= self.settings.max_rows || self.deadline().is_some_and(|d| Instant::now() >= d)
    }

    /// Next offsets to report to Kafka for lag: one past the last committed offset.
    pub fn committed_next_offsets(&self) -> Vec<(String, i32, i64)> {
        self.positions
            .iter()
            .filter_map(|p| p.committed.map(|c| (p.topic.clone(), p.partition, c + 1)))
            .collect()
    }

    /// **The commit point.** Writes the buffered rows as Parquet files and
    /// commits them with the buffered positions in one Delta transaction;
    /// then, if updates are buffered, applies them in a second commit with
    /// the positions of the partitions they came from. Returns `None` when
    /// nothing was buffered. On error the buffer is kept but its fate is
    /// unknown: call [`ExactlyOnceWriter::restore`] before going on.
    pub async fn flush(&mut self) -> Result<Option<Flushed>, LakeError> {
        let pending = |updates: bool| -> Vec<(String, i32, i64)> {
            self.positions
                .iter()
                .filter(|p| p.updates == updates)
                .filter_map(|p| p.pending.map(|o| (p.topic.clone(), p.partition, o)))
                .collect()
        };
        let (appended, updated) = (pending(false), pending(true));
        if appended.is_empty() && updated.is_empty() {
            return Ok(None);
        }
        let mut version = self.table.version().unwrap_or(0);
        if !appended.is_empty() || !self.rows.is_empty() {
            version = self.append(&appended).await?;
        }
        let (updates, mut updated_rows) = (self.updates.len(), 0);
        if !updated.is_empty() {
            (version, updated_rows) = self.apply_updates(&updated).await?;
        }
        if version > 0 && version.is_multiple_of(self.settings.checkpoint_interval) {
            deltalake::checkpoints::create_checkpoint(&self.table, None).await?;
            tracing::debug!(table = self.def.name, version, "checkpoint written");
        }

        let rows = self.rows.len();
        let labels = [("table", self.def.name.to_owned()), ("job", self.job.clone())];
        metrics::counter!("arus_rows_written_total", &labels).increment(rows as u64);
        metrics::counter!("arus_rows_updated_total", &labels).increment(updated_rows as u64);
        metrics::counter!("arus_delta_commits_total", &labels).increment(1 + u64::from(!updated.is_empty() && !appended.is_empty()));
        self.rows.clear();
        self.updates.clear();
        self.oldest = None;
        for p in &mut self.positions {
            if let Some(pending) = p.pending.take() {
                p.committed = Some(pending);
            }
            p.updates = false;
        }
        let mut positions = appended;
        positions.extend(updated);
        Ok(Some(Flushed { version, rows, updates, updated_rows, positions }))
    }

    /// The `txn` actions recording `positions` (and the cluster) and the
    /// commit metadata.
    fn commit_properties(&self, positions: &[(String, i32, i64)]) -> CommitProperties {
        let mut txns: Vec<Transaction> = positions.iter().map(|(t, p, o)| Transaction::new(app_id(&self.job, t, *p), *o)).collect();
        let mut metadata = vec![("arus.job".to_owned(), serde_json::Value::from(self.job.clone()))];
        if let Some(cluster) = &self.cluster_id {
            txns.push(Transaction::new(cluster_app_id(&self.job), cluster_fingerprint(cluster)));
            metadata.push(("arus.kafka_cluster_id".to_owned(), serde_json::Value::from(cluster.clone())));
        }
        CommitProperties::default().with_application_transactions(txns).with_metadata(metadata).with_create_checkpoint(false)
    }

    /// Appends the buffered rows with `positions`; returns the version.
    async fn append(&mut self, positions: &[(String, i32, i64)]) -> Result<u64, LakeError> {
        let mut actions = Vec::new();
        if !self.rows.is_empty() {
            let batch = serde_arrow::to_record_batch(&self.fields, &self.rows)
                .map_err(|e| LakeError::Rows { table: self.def.name, reason: e.to_string() })?;
            let mut files = RecordBatchWriter::for_table(&self.table)?;
            files.write(batch).await?;
            actions.extend(files.flush().await?.into_iter().map(Action::Add));
        }
        let partition_by = (!self.def.partition_columns.is_empty())
            .then(|| self.def.partition_columns.iter().map(|c| c.to_string()).collect());
        let operation = DeltaOperation::Write { mode: SaveMode::Append, partition_by, predicate: None };
        let committed = CommitBuilder::from(self.commit_properties(positions))
            .with_actions(actions)
            .build(Some(self.table.snapshot()?), self.table.log_store(), operation)
            .await?;
        let version = committed.version();
        self.table.update_incremental(Some(version)).await?;
        Ok(version)
    }

    /// Applies the buffered updates by one MERGE with `positions`; returns
    /// the version and the number of rows changed.
    async fn apply_updates(&mut self, positions: &[(String, i32, i64)]) -> Result<(u64, usize), LakeError> {
        let name = self.def.name;
        let Some((spec, fields)) = &self.update_spec else {
            return Err(LakeError::Rows { table: name, reason: "updates were buffered but the writer has no update spec".into() });
        };
        let properties = self.commit_properties(positions);
        let batch = serde_arrow::to_record_batch(fields, &self.updates).map_err(|e| LakeError::Rows { table: name, reason: e.to_string() })?;
        // The last update of a key wins: MERGE refuses a target row matched twice.
        let batch = last_per_key(batch, spec.keys)?;
        let source = SessionContext::new().read_batch(batch)?;
        let on = spec
            .keys
            .iter()
            .map(|k| col(format!("t.{k}")).eq(col(format!("s.{k}"))))
            .reduce(Expr::and)
            .ok_or_else(|| LakeError::Rows { table: name, reason: "an update spec needs a key".into() })?;
        let (set, keys) = (spec.set, spec.keys);
        let mut merge = self
            .table
            .clone()
            .merge(source, on)
            .with_source_alias("s")
            .with_target_alias("t")
            .with_commit_properties(properties)
            .when_matched_update(|mut update| {
                for c in set {
                    update = update.update(*c, col(format!("s.{c}")));
                }
                update
            })?;
        if spec.insert {
            merge = merge.when_not_matched_insert(|mut insert| {
                for c in keys.iter().chain(set) {
                    insert = insert.set(*c, col(format!("s.{c}")));
                }
                insert
            })?;
        }
        let (table, metrics) = merge.await?;
        self.table = table;
        let version = self.table.version().unwrap_or(0);
        Ok((version, metrics.num_target_rows_updated + metrics.num_target_rows_inserted))
    }
}

/// The rows of `batch` that are the last with their `keys`.
fn last_per_key(batch: arrow::record_batch::RecordBatch, keys: &[&str]) -> Result<arrow::record_batch::RecordBatch, LakeError> {
    let columns: Vec<arrow::array::ArrayRef> = keys.iter().filter_map(|k| batch.column_by_name(k).cloned()).collect();
    let formatters: Vec<_> = columns
        .iter()
        .map(|c| arrow::util::display::ArrayFormatter::try_new(c.as_ref(), &Default::default()))
        .collect::<Result<_, _>>()?;
    let mut last: HashMap<Vec<String>, u32> = HashMap::new();
    for row in 0..batch.num_rows() {
        let key: Vec<String> = formatters.iter().map(|f| f.value(row).to_string()).collect();
        last.insert(key, row as u32);
    }
    let mut keep: Vec<u32> = last.into_values().collect();
    if keep.len() == batch.num_rows() {
        return Ok(batch);
    }
    keep.sort_unstable();
    let indices = arrow::array::UInt32Array::from(keep);
    let columns = batch.columns().iter().map(|c| arrow::compute::take(c.as_ref(), &indices, None)).collect::<Result<Vec<_>, _>>()?;
    Ok(arrow::record_batch::RecordBatch::try_new(std::sync::Arc::new(Schema::new(batch.schema().fields().clone())), columns)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use arus_schemas::{tables, Transaction, TxnRaw, TxnSource};

    fn txn(i: i64) -> Transaction {
        let raw = TxnRaw {
            schema_version: 1,
            user_id: format!("u{}", i % 3),
            idempotency_key: format!("k{i}"),
            source: TxnSource::Manual,
            account_id: None,
            occurred_at: chrono::DateTime::from_timestamp(1_760_000_000 + i * 86_400 * 20, 0).unwrap(),
            amount: -25_000 - i,
            currency: "IDR".into(),
            description: format!("beli gas {i}"),
            counterparty: None,
            media_ref: None,
            category_id: None,
            reverses: None,
            captured_at: chrono::Utc::now(),
        };
        Transaction::from_raw(raw, chrono::Utc::now(), 0, i)
    }

    fn settings() -> WriterSettings {
        WriterSettings { max_rows: 1000, max_latency: Duration::from_secs(1), checkpoint_interval: 2 }
    }

    #[tokio::test]
    async fn positions_survive_a_reopen_and_rows_read_back_typed() {
        let dir = tempfile::tempdir().unwrap();
        let lake = Lake::at(dir.path().to_str().unwrap()).unwrap();
        let mut writer = ExactlyOnceWriter::<Transaction>::open(&lake, &tables::TRANSACTIONS, "enrich", settings()).await.unwrap();
        writer.set_cluster_id(Some("c1".into()));
        let stored = writer.restore(&[("raw".into(), 0), ("raw".into(), 1)]).await.unwrap();
        assert!(stored.last_offsets.is_empty());

        for i in 0..5 {
            writer.push(Some(txn(i)), "raw", 0, i);
        }
        writer.push(None, "raw", 1, 7); // a dead letter: consumed, no row
        let flushed = writer.flush().await.unwrap().unwrap();
        assert_eq!(flushed.rows, 5);
        assert!(writer.is_written("raw", 0, 4) && !writer.is_written("raw", 0, 5) && writer.is_written("raw", 1, 7));

        // A commit with no rows still records positions.
        writer.push(None, "raw", 1, 9);
        writer.flush().await.unwrap().unwrap();
        assert!(writer.flush().await.unwrap().is_none(), "nothing buffered, nothing committed");

        let mut reopened = ExactlyOnceWriter::<Transaction>::open(&lake, &tables::TRANSACTIONS, "enrich", settings()).await.unwrap();
        let stored = reopened.restore(&[("raw".into(), 0), ("raw".into(), 1)]).await.unwrap();
        assert_eq!(stored.last_offsets[&("raw".to_owned(), 0)], 4);
        assert_eq!(stored.last_offsets[&("raw".to_owned(), 1)], 9);
        assert_eq!(stored.cluster, Some(cluster_fingerprint("c1")));
        // Another job's positions in the same table are its own.
        let mut other = ExactlyOnceWriter::<Transaction>::open(&lake, &tables::TRANSACTIONS, "other", settings()).await.unwrap();
        assert!(other.restore(&[("raw".into(), 0)]).await.unwrap().last_offsets.is_empty());

        let session = crate::LakeSession::open(&lake, Duration::ZERO).await.unwrap();
        let batches = session.sql("SELECT * FROM transactions ORDER BY source_offset").await.unwrap();
        let rows: Vec<Transaction> = batches.iter().flat_map(|b| serde_arrow::from_record_batch::<Vec<Transaction>>(b).unwrap()).collect();
        let expected: Vec<Transaction> = (0..5).map(txn).collect();
        assert_eq!(rows.len(), 5);
        for (got, want) in rows.iter().zip(&expected) {
            assert_eq!((&got.id, got.amount, &got.month, got.source, got.occurred_at), (&want.id, want.amount, &want.month, want.source, want.occurred_at));
        }
        // Rows span several months: the table is partitioned by them.
        let months: std::collections::BTreeSet<_> = rows.iter().map(|r| r.month.clone()).collect();
        assert!(months.len() > 1);
        // checkpoint_interval = 2: version 2 has a checkpoint.
        assert!(dir.path().join("transactions/_delta_log/00000000000000000002.checkpoint.parquet").exists());
    }

    #[derive(serde::Serialize)]
    struct Category {
        id: String,
        month: String,
        category_id: String,
    }

    #[tokio::test]
    async fn updates_change_rows_in_place_and_commit_their_own_positions() {
        let dir = tempfile::tempdir().unwrap();
        let lake = Lake::at(dir.path().to_str().unwrap()).unwrap();
        let spec = UpdateSpec { keys: &["id", "month"], set: &["category_id"], insert: false };
        let open = || async {
            ExactlyOnceWriter::<Transaction, Category>::open(&lake, &tables::TRANSACTIONS, "enrich", settings()).await.unwrap().with_updates(spec.clone()).unwrap()
        };
        let mut writer = open().await;
        writer.restore(&[("raw".into(), 0), ("fb".into(), 0)]).await.unwrap();
        let rows: Vec<Transaction> = (0..4).map(txn).collect();
        for (i, row) in rows.iter().enumerate() {
            writer.push(Some(row.clone()), "raw", 0, i as i64);
        }
        // In the same batch as the rows it changes; the later of two updates
        // of one row wins; an update of no row changes nothing.
        let update = |row: &Transaction, category: &str| Category { id: row.id.clone(), month: row.month.clone(), category_id: category.into() };
        writer.push_update(update(&rows[1], "food_drink"), "fb", 0, 0);
        writer.push_update(update(&rows[1], "groceries"), "fb", 0, 1);
        writer.push_update(update(&rows[2], "transport"), "fb", 0, 2);
        writer.push_update(Category { id: "nobody".into(), month: rows[0].month.clone(), category_id: "x".into() }, "fb", 0, 3);
        let flushed = writer.flush().await.unwrap().unwrap();
        assert_eq!((flushed.rows, flushed.updates, flushed.updated_rows), (4, 4, 2));
        // A dead letter from the feedback topic: its position goes with the append commit.
        writer.push(None, "fb", 0, 4);
        writer.flush().await.unwrap().unwrap();

        let mut reopened = open().await;
        let stored = reopened.restore(&[("raw".into(), 0), ("fb".into(), 0)]).await.unwrap();
        assert_eq!(stored.last_offsets[&("raw".to_owned(), 0)], 3);
        assert_eq!(stored.last_offsets[&("fb".to_owned(), 0)], 4);
        let session = crate::LakeSession::open(&lake, Duration::ZERO).await.unwrap();
        let batches = session.sql("SELECT * FROM transactions ORDER BY source_offset").await.unwrap();
        let back: Vec<Transaction> = batches.iter().flat_map(|b| serde_arrow::from_record_batch::<Vec<Transaction>>(b).unwrap()).collect();
        let categories: Vec<Option<&str>> = back.iter().map(|r| r.category_id.as_deref()).collect();
        assert_eq!(categories, [None, Some("groceries"), Some("transport"), None]);
        assert_eq!(back[1].amount, rows[1].amount, "other columns are kept");
    }
}
