//! Table upkeep: `arus lake optimize` (and `arus up` every
//! `optimize_interval_s`) rewrites each partition that streaming has left in
//! several files into one, its rows Z-ordered by the table's `cluster_by`
//! columns, with small row groups and pages. A query for one person then
//! reads a row group or two of one file per month instead of every page of
//! every file (streamed files hold everyone's rows interleaved).
//!
//! The rewrite is a Delta `OPTIMIZE` commit (`dataChange = false`): readers
//! see the same rows before and after, and jobs appending meanwhile are not
//! disturbed (appends do not conflict with a compaction).
//!
//! `arus lake vacuum` deletes what no recent version reads: files removed
//! from a table (by an optimize or a merge) longer than the retention ago,
//! and files a writer left behind without committing them (a job killed
//! between writing a file and its commit), once older than the retention.
//! [`checkpoint`] writes a checkpoint at a table's latest version when the
//! last one is older, and drops log entries past the log retention (30 days
//! by default), so opening a table reads one checkpoint and a few commits.
//! [`stats`] is what `arus lake stats` and the metrics show; [`tend`] is
//! the upkeep round's vacuum, checkpoint and metrics for one table.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use arus_schemas::tables::TableDef;
use deltalake::operations::optimize::OptimizeType;
use deltalake::operations::vacuum::VacuumMode;
use deltalake::parquet::basic::Compression;
use deltalake::parquet::file::properties::WriterProperties;
use deltalake::{DeltaTable, FilterOp, FilterValue};

use crate::{Lake, LakeError};

/// Rows per row group of an optimized file: small enough that one person's
/// rows of a month fall in one or two groups.
const ROW_GROUP_ROWS: usize = 8 * 1024;
/// Rows per data page (page-index pruning inside a row group).
const PAGE_ROWS: usize = 1024;

/// What optimizing one partition did.
#[derive(Debug, Clone)]
pub struct PartitionReport {
    /// `month=2026-11`, or `-` for an unpartitioned table.
    pub partition: String,
    pub files_before: u64,
    pub files_after: u64,
    pub took: Duration,
}

/// The tables of the catalogue that ask to be clustered.
pub fn clustered_tables() -> impl Iterator<Item = &'static TableDef> {
    arus_schemas::tables::ALL.iter().copied().filter(|d| !d.cluster_by.is_empty())
}

/// Rewrites every partition of `def` that has more than one file. Tables
/// without `cluster_by` columns are left alone.
pub async fn optimize(lake: &Lake, def: &'static TableDef) -> Result<Vec<PartitionReport>, LakeError> {
    rewrite(lake, def, 2).await
}

/// Rewrites every partition of `def`, one of a single file too: for a table
/// written in one go rather than by streaming (a partition written as one
/// file is not clustered, and [`optimize`] leaves it so).
pub async fn optimize_every_partition(lake: &Lake, def: &'static TableDef) -> Result<Vec<PartitionReport>, LakeError> {
    rewrite(lake, def, 1).await
}

/// Rewrites the partitions of `def` that have `min_files` files or more.
async fn rewrite(lake: &Lake, def: &'static TableDef, min_files: u64) -> Result<Vec<PartitionReport>, LakeError> {
    if def.cluster_by.is_empty() {
        return Ok(Vec::new());
    }
    let mut table = lake.open_or_create(def).await?;
    // Files per partition, keyed by the partition values in column order.
    let mut files: BTreeMap<Vec<String>, u64> = BTreeMap::new();
    for file in table.snapshot()?.log_data() {
        let values = file.partition_values_map();
        let key = def.partition_columns.iter().map(|c| values.get(*c).cloned().flatten().unwrap_or_default()).collect();
        *files.entry(key).or_default() += 1;
    }
    let mut reports = Vec::new();
    for (values, count) in files.into_iter().filter(|(_, n)| *n >= min_files) {
        let started = Instant::now();
        let filters: Vec<_> = def.partition_columns.iter().zip(&values).map(|(c, v)| (*c, FilterOp::Eq, FilterValue::Scalar(v.as_str()))).collect();
        let properties = WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
            .set_data_page_row_count_limit(PAGE_ROWS)
            .build();
        let (next, metrics) = table
            .clone()
            .optimize()
            .with_filters(&filters)
            .with_type(OptimizeType::ZOrder(def.cluster_by.iter().map(|c| (*c).to_owned()).collect()))
            .with_writer_properties(properties)
            .with_max_concurrent_tasks(1)
            .await?;
        table = next;
        let partition = if values.is_empty() {
            "-".to_owned()
        } else {
            def.partition_columns.iter().zip(&values).map(|(c, v)| format!("{c}={v}")).collect::<Vec<_>>().join("/")
        };
        tracing::info!(table = def.name, %partition, files_before = count, files_after = metrics.num_files_added, took = ?started.elapsed(), "partition optimized");
        reports.push(PartitionReport { partition, files_before: count, files_after: metrics.num_files_added, took: started.elapsed() });
    }
    Ok(reports)
}

/// What vacuuming one table did (or, in a dry run, would do).
#[derive(Debug, Clone)]
pub struct VacuumReport {
    pub table: &'static str,
    /// Paths relative to the table, deleted or to delete.
    pub files: Vec<String>,
    pub dry_run: bool,
    pub took: Duration,
}

/// Deletes the files of `table` (`def`'s) that no version younger than
/// `retention` reads, and files no commit added that are older than
/// `retention`; returns the table after it. A reader still on a version
/// older than `retention` fails to find its files: keep it well above the
/// longest query (Delta's default is 7 days).
pub async fn vacuum(def: &'static TableDef, table: DeltaTable, retention: Duration, dry_run: bool) -> Result<(DeltaTable, VacuumReport), LakeError> {
    let started = Instant::now();
    let retention = chrono::Duration::from_std(retention).unwrap_or(chrono::Duration::MAX);
    let (table, metrics) = table
        .vacuum()
        .with_retention_period(retention)
        // Our setting, not the table property, decides (the CLI refuses less than an hour).
        .with_enforce_retention_duration(false)
        .with_mode(VacuumMode::Full)
        .with_dry_run(dry_run)
        .await?;
    let report = VacuumReport { table: def.name, files: metrics.files_deleted, dry_run, took: started.elapsed() };
    if !report.files.is_empty() && !dry_run {
        metrics::counter!("arus_lake_vacuumed_files_total", "table" => def.name).increment(report.files.len() as u64);
        tracing::info!(table = def.name, files = report.files.len(), took = ?report.took, "vacuumed");
    }
    Ok((table, report))
}

/// The version of the table's newest checkpoint, from `_delta_log/_last_checkpoint`.
async fn last_checkpoint(table: &DeltaTable) -> Option<u64> {
    use object_store::ObjectStoreExt;
    let store = table.log_store().object_store(None);
    let bytes = store.get(&object_store::path::Path::from("_delta_log/_last_checkpoint")).await.ok()?.bytes().await.ok()?;
    serde_json::from_slice::<serde_json::Value>(&bytes).ok()?.get("version")?.as_u64()
}

/// Writes a checkpoint at `table`'s loaded version unless the newest one is
/// there already, and drops log entries older than the log retention.
/// Returns the version checkpointed, if any.
pub async fn checkpoint(table: &DeltaTable) -> Result<Option<u64>, LakeError> {
    let Some(version) = table.version() else { return Ok(None) };
    if version == 0 || last_checkpoint(table).await == Some(version) {
        return Ok(None);
    }
    deltalake::checkpoints::create_checkpoint(table, None).await?;
    let dropped = deltalake::checkpoints::cleanup_metadata(table, None).await?;
    tracing::debug!(version, dropped, "checkpoint written");
    Ok(Some(version))
}

/// Files under this size count as small (what optimizing merges).
pub const SMALL_FILE_BYTES: u64 = 8 << 20;

/// A table's shape, for `arus lake stats` and the metrics.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TableStats {
    pub table: &'static str,
    pub partition_columns: &'static [&'static str],
    pub version: Option<u64>,
    pub files: u64,
    pub bytes: u64,
    pub rows: Option<u64>,
    /// Files under [`SMALL_FILE_BYTES`].
    pub small_files: u64,
    pub partitions: u64,
    /// The most files one partition holds (1 after an optimize).
    pub max_files_per_partition: u64,
    pub last_checkpoint: Option<u64>,
}

impl TableStats {
    /// Sets this table's `arus_lake_*` gauges.
    pub fn record(&self) {
        let table = self.table;
        metrics::gauge!("arus_lake_files", "table" => table).set(self.files as f64);
        metrics::gauge!("arus_lake_small_files", "table" => table).set(self.small_files as f64);
        metrics::gauge!("arus_lake_max_files_per_partition", "table" => table).set(self.max_files_per_partition as f64);
        metrics::gauge!("arus_lake_bytes", "table" => table).set(self.bytes as f64);
        if let Some(rows) = self.rows {
            metrics::gauge!("arus_lake_rows", "table" => table).set(rows as f64);
        }
    }
}

/// The shape of `table`, `def`'s at the version loaded (none when the
/// table is not there yet).
pub async fn stats(def: &'static TableDef, table: &DeltaTable) -> TableStats {
    let mut out = TableStats { table: def.name, partition_columns: def.partition_columns, version: table.version(), rows: Some(0), ..Default::default() };
    let Ok(snapshot) = table.snapshot() else { return out };
    out.last_checkpoint = last_checkpoint(table).await;
    let mut per_partition: BTreeMap<Vec<Option<String>>, u64> = BTreeMap::new();
    for file in snapshot.log_data() {
        let size = file.size() as u64;
        out.files += 1;
        out.bytes += size;
        out.small_files += u64::from(size < SMALL_FILE_BYTES);
        out.rows = match (out.rows, file.num_records()) {
            (Some(total), Some(n)) => Some(total + n as u64),
            _ => None,
        };
        let values = file.partition_values_map();
        *per_partition.entry(def.partition_columns.iter().map(|c| values.get(*c).cloned().flatten()).collect()).or_default() += 1;
    }
    out.partitions = per_partition.len() as u64;
    out.max_files_per_partition = per_partition.values().copied().max().unwrap_or(0);
    out
}

/// One upkeep round's work on one table after optimizing: vacuum past
/// `retention`, checkpoint, and set its gauges, on one load of the table.
pub async fn tend(lake: &Lake, def: &'static TableDef, retention: Duration) -> Result<TableStats, LakeError> {
    let (table, _) = vacuum(def, lake.open_or_create(def).await?, retention, false).await?;
    checkpoint(&table).await?;
    let stats = stats(def, &table).await;
    stats.record();
    Ok(stats)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::query_table;
    use crate::{ExactlyOnceWriter, WriterSettings};
    use arus_schemas::{tables, Transaction, TxnRaw, TxnSource};
    use deltalake::parquet::file::reader::{FileReader, SerializedFileReader};

    fn txn(offset: i64, days_ago: i64) -> Transaction {
        let now = chrono::Utc::now();
        let raw = TxnRaw {
            schema_version: 1,
            user_id: format!("user-{:02}", offset % 40),
            idempotency_key: format!("k{offset}"),
            source: TxnSource::Csv,
            account_id: None,
            occurred_at: now - chrono::Duration::days(days_ago),
            amount: -1000 - offset,
            currency: "IDR".into(),
            description: format!("KARTU DEBIT {offset}"),
            counterparty: None,
            media_ref: None,
            category_id: None,
            reverses: None,
            captured_at: now,
        };
        Transaction::from_raw(raw, now, 0, offset)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn optimizing_while_a_job_appends_loses_and_doubles_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let lake = Lake::at(dir.path().to_str().unwrap()).unwrap();
        let settings = WriterSettings { max_rows: 100_000, max_latency: Duration::from_secs(60), checkpoint_interval: 10 };
        let mut writer = ExactlyOnceWriter::<Transaction>::open(&lake, &tables::TRANSACTIONS, "enrich", settings).await.unwrap();
        writer.restore(&[("raw".into(), 0)]).await.unwrap();
        const COMMITS: i64 = 30;
        const ROWS: i64 = 400;
        let appending = tokio::spawn(async move {
            for offset in 0..COMMITS * ROWS {
                writer.push(Some(txn(offset, 0)), "raw", 0, offset);
                if offset % ROWS == ROWS - 1 {
                    writer.flush().await.unwrap().unwrap();
                }
            }
        });
        let mut rounds = 0;
        while !appending.is_finished() {
            optimize(&lake, &tables::TRANSACTIONS).await.expect("an optimize round beside the appends");
            rounds += 1;
        }
        appending.await.unwrap();
        optimize(&lake, &tables::TRANSACTIONS).await.unwrap();
        let table = lake.open_or_create(&tables::TRANSACTIONS).await.unwrap();
        let counts = query_table(&table, "t", "SELECT count(*) AS n, count(DISTINCT id) AS d FROM t").await.unwrap();
        let n = counts[0].column(0).as_any().downcast_ref::<arrow::array::Int64Array>().unwrap().value(0);
        let d = counts[0].column(1).as_any().downcast_ref::<arrow::array::Int64Array>().unwrap().value(0);
        assert_eq!((n, d), (COMMITS * ROWS, COMMITS * ROWS), "after {rounds} optimize rounds");
        assert!(rounds > 3, "optimize ran beside the appends ({rounds} rounds)");
        assert_eq!(table.snapshot().unwrap().log_data().into_iter().count(), 1);
        // The writer's positions survived the rewrites.
        let mut reopened = ExactlyOnceWriter::<Transaction>::open(&lake, &tables::TRANSACTIONS, "enrich", settings).await.unwrap();
        let stored = reopened.restore(&[("raw".into(), 0)]).await.unwrap();
        assert_eq!(stored.last_offsets[&("raw".to_owned(), 0)], COMMITS * ROWS - 1);
    }

    /// The `enrich` job's writer of `transactions`, from the start of `raw`
    /// partition 0, committing only when flushed.
    async fn enrich_writer(lake: &Lake) -> ExactlyOnceWriter<Transaction> {
        let settings = WriterSettings { max_rows: 100_000, max_latency: Duration::from_secs(60), checkpoint_interval: 100 };
        let mut writer = ExactlyOnceWriter::<Transaction>::open(lake, &tables::TRANSACTIONS, "enrich", settings).await.unwrap();
        writer.restore(&[("raw".into(), 0)]).await.unwrap();
        writer
    }

    /// Three commits of `per_commit` transactions each, everyone's rows
    /// interleaved, half this month and half 40 days ago (two partitions).
    async fn interleaved(lake: &Lake, per_commit: i64) {
        let mut writer = enrich_writer(lake).await;
        for offset in 0..3 * per_commit {
            writer.push(Some(txn(offset, if offset % 2 == 0 { 0 } else { 40 })), "raw", 0, offset);
            if offset % per_commit == per_commit - 1 {
                writer.flush().await.unwrap().unwrap();
            }
        }
    }

    #[tokio::test]
    async fn partitions_are_merged_and_sorted_by_person_with_the_same_rows() {
        let dir = tempfile::tempdir().unwrap();
        let lake = Lake::at(dir.path().to_str().unwrap()).unwrap();
        interleaved(&lake, 3000).await;
        let table = lake.open_or_create(&tables::TRANSACTIONS).await.unwrap();
        let count = |t: &deltalake::DeltaTable| t.snapshot().unwrap().log_data().into_iter().count();
        assert_eq!(count(&table), 6);
        let before = query_table(&table, "t", "SELECT count(*), count(DISTINCT id), sum(amount) FROM t").await.unwrap();

        let reports = optimize(&lake, &tables::TRANSACTIONS).await.unwrap();
        assert_eq!(reports.len(), 2, "{reports:?}");
        assert!(reports.iter().all(|r| r.files_before == 3 && r.files_after == 1), "{reports:?}");
        let table = lake.open_or_create(&tables::TRANSACTIONS).await.unwrap();
        assert_eq!(count(&table), 2);
        let after = query_table(&table, "t", "SELECT count(*), count(DISTINCT id), sum(amount) FROM t").await.unwrap();
        assert_eq!(format!("{before:?}"), format!("{after:?}"), "the same rows");

        // Each file is sorted by user_id, in row groups of ROW_GROUP_ROWS.
        for file in table.snapshot().unwrap().log_data() {
            let path = dir.path().join("transactions").join(file.path().as_ref());
            let reader = SerializedFileReader::new(std::fs::File::open(&path).unwrap()).unwrap();
            let meta = reader.metadata();
            assert!(meta.row_groups().iter().all(|g| g.num_rows() as usize <= ROW_GROUP_ROWS));
            let ids = query_table(&table, "t", &format!("SELECT user_id FROM t WHERE month = '{}'", file.partition_values_map()["month"].clone().unwrap())).await.unwrap();
            let ids: Vec<String> = ids
                .iter()
                .flat_map(|b| {
                    let col = arrow::compute::cast(b.column(0), &arrow::datatypes::DataType::Utf8).unwrap();
                    let col = col.as_any().downcast_ref::<arrow::array::StringArray>().unwrap().clone();
                    col.iter().map(|v| v.unwrap().to_owned()).collect::<Vec<_>>()
                })
                .collect();
            assert!(ids.windows(2).all(|w| w[0] <= w[1]), "rows are in user_id order");
        }
        // A second run has nothing to do.
        assert!(optimize(&lake, &tables::TRANSACTIONS).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_partition_of_one_file_is_rewritten_only_when_every_partition_is_asked_for() {
        let dir = tempfile::tempdir().unwrap();
        let lake = Lake::at(dir.path().to_str().unwrap()).unwrap();
        // One commit of one month: one file, one row group, in the order written.
        let mut writer = enrich_writer(&lake).await;
        for offset in 0..20_000 {
            writer.push(Some(txn(offset, 0)), "raw", 0, offset);
        }
        writer.flush().await.unwrap().unwrap();
        assert!(optimize(&lake, &tables::TRANSACTIONS).await.unwrap().is_empty(), "one file: a streaming round leaves it");

        let reports = optimize_every_partition(&lake, &tables::TRANSACTIONS).await.unwrap();
        assert_eq!(reports.len(), 1, "{reports:?}");
        assert_eq!((reports[0].files_before, reports[0].files_after), (1, 1));
        let table = lake.open_or_create(&tables::TRANSACTIONS).await.unwrap();
        let file = table.snapshot().unwrap().log_data().into_iter().next().unwrap();
        let reader = SerializedFileReader::new(std::fs::File::open(dir.path().join("transactions").join(file.path().as_ref())).unwrap()).unwrap();
        let groups: Vec<usize> = reader.metadata().row_groups().iter().map(|g| g.num_rows() as usize).collect();
        assert!(groups.len() > 1 && groups.iter().all(|n| *n <= ROW_GROUP_ROWS), "row groups of at most {ROW_GROUP_ROWS}: {groups:?}");
    }

    #[tokio::test]
    async fn vacuum_deletes_what_no_version_reads_and_checkpoints_once() {
        let dir = tempfile::tempdir().unwrap();
        let lake = Lake::at(dir.path().to_str().unwrap()).unwrap();
        interleaved(&lake, 200).await;
        let parquet_files = || -> Vec<String> {
            let mut found = Vec::new();
            for month in std::fs::read_dir(dir.path().join("transactions")).unwrap() {
                let month = month.unwrap().path();
                if month.is_dir() && !month.ends_with("_delta_log") {
                    found.extend(std::fs::read_dir(&month).unwrap().map(|f| f.unwrap().path().display().to_string()));
                }
            }
            found.sort();
            found
        };
        let open = || async { lake.open(&tables::TRANSACTIONS).await.unwrap() };
        let before = stats(&tables::TRANSACTIONS, &open().await).await;
        assert_eq!((before.files, before.partitions, before.max_files_per_partition, before.rows, before.small_files), (6, 2, 3, Some(600), 6), "{before:?}");
        // A file a writer left without its commit.
        let month_dir = std::path::Path::new(&parquet_files()[0]).parent().unwrap().to_owned();
        std::fs::write(month_dir.join("part-orphan-0000.parquet"), b"never committed").unwrap();
        optimize(&lake, &tables::TRANSACTIONS).await.unwrap();
        assert_eq!(parquet_files().len(), 6 + 1 + 2, "optimize only removes files from the log");

        // With a week's retention nothing is old enough yet.
        let (_, kept) = vacuum(&tables::TRANSACTIONS, open().await, Duration::from_secs(7 * 86_400), false).await.unwrap();
        assert!(kept.files.is_empty(), "{kept:?}");
        let (_, dry) = vacuum(&tables::TRANSACTIONS, open().await, Duration::ZERO, true).await.unwrap();
        assert_eq!(dry.files.len(), 7, "{dry:?}");
        assert_eq!(parquet_files().len(), 9, "a dry run deletes nothing");
        let (_, done) = vacuum(&tables::TRANSACTIONS, open().await, Duration::ZERO, false).await.unwrap();
        assert_eq!(done.files.len(), 7);
        assert!(done.files.iter().any(|f| f.ends_with("part-orphan-0000.parquet")), "{done:?}");
        assert_eq!(parquet_files().len(), 2, "{:?}", parquet_files());
        let table = lake.open_or_create(&tables::TRANSACTIONS).await.unwrap();
        let n = query_table(&table, "t", "SELECT count(DISTINCT id) AS n FROM t").await.unwrap();
        assert_eq!(n[0].column(0).as_any().downcast_ref::<arrow::array::Int64Array>().unwrap().value(0), 600, "every row is still read");

        let after = stats(&tables::TRANSACTIONS, &open().await).await;
        assert_eq!((after.files, after.max_files_per_partition, after.rows), (2, 1, Some(600)));
        assert_eq!(after.last_checkpoint, None);
        let at = checkpoint(&open().await).await.unwrap();
        assert_eq!(at, after.version);
        assert_eq!(stats(&tables::TRANSACTIONS, &open().await).await.last_checkpoint, after.version);
        assert_eq!(checkpoint(&open().await).await.unwrap(), None, "nothing new to checkpoint");
    }
}
