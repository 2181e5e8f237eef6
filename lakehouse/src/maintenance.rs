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

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use arus_schemas::tables::TableDef;
use deltalake::operations::optimize::OptimizeType;
use deltalake::parquet::basic::Compression;
use deltalake::parquet::file::properties::WriterProperties;
use deltalake::{FilterOp, FilterValue};

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
    for (values, count) in files.into_iter().filter(|(_, n)| *n > 1) {
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

    #[tokio::test]
    async fn partitions_are_merged_and_sorted_by_person_with_the_same_rows() {
        let dir = tempfile::tempdir().unwrap();
        let lake = Lake::at(dir.path().to_str().unwrap()).unwrap();
        // Three commits, each with everyone's rows interleaved, in two months.
        let settings = WriterSettings { max_rows: 100_000, max_latency: Duration::from_secs(60), checkpoint_interval: 100 };
        let mut writer = ExactlyOnceWriter::<Transaction>::open(&lake, &tables::TRANSACTIONS, "enrich", settings).await.unwrap();
        writer.restore(&[("raw".into(), 0)]).await.unwrap();
        for offset in 0..9000i64 {
            writer.push(Some(txn(offset, if offset % 2 == 0 { 0 } else { 40 })), "raw", 0, offset);
            if offset % 3000 == 2999 {
                writer.flush().await.unwrap().unwrap();
            }
        }
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
}
