//! Reading one version of a Delta table as the Parquet files it lists.
//!
//! delta-rs's scan (`DeltaScanNext`) replays the table's file actions
//! through delta-kernel on every scan — data skipping evaluated over every
//! file's statistics, a transform of every batch it reads — and DataFusion
//! 55's Parquet opener decodes each file's page index again on every read
//! (the metadata cache keeps only the footer). For the serving API's small
//! per-person reads that was about 40 % of the CPU under load (perf,
//! `arus bench serving`). A table whose protocol a plain Parquet read
//! honours (reader version 1: no column mapping, no deletion vectors) is
//! read here instead from its file list, taken once per version: partitions
//! pruned by their values, row groups and pages by the query's filters, the
//! footer and page index of each file decoded once and kept in the
//! session's metadata cache.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use arrow::datatypes::{FieldRef, Schema, SchemaRef};
use datafusion::catalog::Session;
use datafusion::common::config::TableParquetOptions;
use datafusion::common::{DFSchema, DataFusionError, Result as DfResult, ScalarValue};
use datafusion::datasource::listing::PartitionedFile;
use datafusion::datasource::physical_plan::parquet::CachedParquetFileReaderFactory;
use datafusion::datasource::physical_plan::{FileGroup, FileScanConfigBuilder, ParquetFileReaderFactory, ParquetSource};
use datafusion::datasource::source::DataSourceExec;
use datafusion::datasource::table_schema::TableSchema;
use datafusion::execution::object_store::ObjectStoreUrl;
use datafusion::logical_expr::Expr;
use datafusion::parquet::arrow::arrow_reader::ArrowReaderOptions;
use datafusion::parquet::arrow::async_reader::AsyncFileReader;
use datafusion::parquet::file::metadata::{PageIndexPolicy, ParquetMetaData};
use datafusion::physical_expr::conjunction_opt;
use datafusion::physical_plan::empty::EmptyExec;
use datafusion::physical_plan::metrics::ExecutionPlanMetricsSet;
use datafusion::physical_plan::ExecutionPlan;
use deltalake::DeltaTable;
use futures::future::BoxFuture;
use object_store::{ObjectMeta, ObjectStore};

use crate::LakeError;

/// The files of one version of a table, ready to scan.
pub(super) struct Files {
    /// The table's columns in the order queries see them.
    schema: SchemaRef,
    /// Columns stored in the files (the table's, less the partition columns).
    file_schema: SchemaRef,
    partition_fields: Vec<FieldRef>,
    /// What a scan yields before projection: the files' columns, then the partitions'.
    scan_schema: DFSchema,
    /// One row per file: its partition values, for pruning by them.
    partition_values: RecordBatch,
    files: Vec<PartitionedFile>,
    store_url: ObjectStoreUrl,
    store: Arc<dyn ObjectStore>,
}

impl Files {
    /// The files `table`'s loaded version lists, or `None` when its protocol
    /// asks for more than a plain Parquet read (column mapping, deletion
    /// vectors), which only delta-rs's scan honours.
    pub(super) fn of(table: &DeltaTable, schema: SchemaRef, partition_columns: &[&str]) -> Result<Option<Files>, LakeError> {
        let snapshot = table.snapshot()?;
        let protocol = serde_json::to_value(snapshot.protocol()).map_err(|e| LakeError::Rows { table: "?", reason: e.to_string() })?;
        if protocol["minReaderVersion"].as_i64() != Some(1) {
            return Ok(None);
        }
        let partition_fields: Vec<FieldRef> = partition_columns.iter().map(|c| schema.field_with_name(c).map(|f| Arc::new(f.clone()))).collect::<Result<_, _>>()?;
        let file_schema = Arc::new(Schema::new(schema.fields().iter().filter(|f| !partition_columns.contains(&f.name().as_str())).cloned().collect::<Vec<_>>()));
        let mut files = Vec::new();
        let mut columns: Vec<Vec<ScalarValue>> = vec![Vec::new(); partition_fields.len()];
        for file in snapshot.log_data() {
            let values = file.partition_values_map();
            let mut partition_values = Vec::with_capacity(partition_fields.len());
            for (field, column) in partition_fields.iter().zip(columns.iter_mut()) {
                let value = match values.get(field.name()).cloned().flatten() {
                    Some(text) => ScalarValue::Utf8(Some(text)).cast_to(field.data_type())?,
                    None => ScalarValue::try_from(field.data_type())?,
                };
                column.push(value.clone());
                partition_values.push(value);
            }
            let meta = ObjectMeta { location: file.object_store_path(), last_modified: chrono::DateTime::UNIX_EPOCH, size: file.size() as u64, e_tag: None, version: None };
            let mut partitioned: PartitionedFile = meta.into();
            partitioned.partition_values = partition_values;
            files.push(partitioned);
        }
        let partition_schema = Arc::new(Schema::new(partition_fields.clone()));
        let arrays = columns
            .into_iter()
            .zip(&partition_fields)
            .map(|(values, field)| if values.is_empty() { Ok(arrow::array::new_empty_array(field.data_type())) } else { ScalarValue::iter_to_array(values) })
            .collect::<DfResult<Vec<ArrayRef>>>()?;
        let partition_values = RecordBatch::try_new_with_options(partition_schema, arrays, &arrow::array::RecordBatchOptions::new().with_row_count(Some(files.len())))?;
        let scan_schema = DFSchema::try_from(Schema::new(file_schema.fields().iter().chain(&partition_fields).cloned().collect::<Vec<_>>()))?;
        let store_url = table.log_store().object_store_url();
        Ok(Some(Files { schema, file_schema, partition_fields, scan_schema, partition_values, files, store_url, store: table.object_store() }))
    }

    /// The scan of the files `filters` may match: files pruned by their
    /// partition values here, row groups and pages by the Parquet reader.
    pub(super) async fn scan(&self, state: &dyn Session, projection: Option<&Vec<usize>>, filters: &[Expr], limit: Option<usize>) -> DfResult<Arc<dyn ExecutionPlan>> {
        let runtime = state.runtime_env();
        if runtime.object_store(&self.store_url).is_err() {
            runtime.register_object_store(self.store_url.as_ref(), Arc::clone(&self.store));
        }
        let selected = self.prune(state, filters)?;
        // The table's order of columns is asked of the scan's by index.
        let scan_index = |i: usize| self.scan_schema.index_of_column_by_name(None, self.schema.field(i).name()).ok_or_else(|| DataFusionError::Plan(format!("no column {}", self.schema.field(i).name())));
        let indices: Vec<usize> = match projection {
            Some(p) => p.iter().map(|&i| scan_index(i)).collect::<DfResult<_>>()?,
            None => (0..self.schema.fields().len()).map(scan_index).collect::<DfResult<_>>()?,
        };
        if selected.is_empty() {
            let schema = match projection {
                Some(p) => Arc::new(self.schema.project(p)?),
                None => Arc::clone(&self.schema),
            };
            return Ok(Arc::new(EmptyExec::new(schema)));
        }
        let table_schema = TableSchema::builder(Arc::clone(&self.file_schema)).with_table_partition_cols(self.partition_fields.clone()).build();
        let options = TableParquetOptions { global: state.config_options().execution.parquet.clone(), ..TableParquetOptions::default() };
        let footers = CachedParquetFileReaderFactory::new(Arc::clone(&self.store), runtime.cache_manager.get_file_metadata_cache());
        let mut source = ParquetSource::new(table_schema).with_table_parquet_options(options);
        source = if filters.is_empty() {
            // Nothing to prune pages by: the footer alone.
            source.with_parquet_file_reader_factory(Arc::new(footers))
        } else {
            source.with_parquet_file_reader_factory(Arc::new(IndexedFooters { inner: footers }))
        };
        // The predicate only prunes (DataFusion filters what comes back),
        // so a filter it cannot take is left to that.
        let usable = filters.iter().filter_map(|f| state.create_physical_expr(f.clone(), &self.scan_schema).ok());
        if let Some(predicate) = conjunction_opt(usable) {
            source = source.with_predicate(predicate);
        }
        let groups = FileGroup::new(selected).split_files(state.config().target_partitions().max(1));
        let config = FileScanConfigBuilder::new(self.store_url.clone(), Arc::new(source)).with_file_groups(groups).with_projection_indices(Some(indices))?.with_limit(limit).build();
        Ok(DataSourceExec::from_data_source(config))
    }

    /// The files whose partition values pass the filters that read only partition columns.
    fn prune(&self, state: &dyn Session, filters: &[Expr]) -> DfResult<Vec<PartitionedFile>> {
        let schema = DFSchema::try_from(self.partition_values.schema())?;
        let on_partitions = filters
            .iter()
            .filter(|f| {
                let columns = f.column_refs();
                !columns.is_empty() && columns.iter().all(|c| self.partition_fields.iter().any(|p| p.name() == &c.name))
            })
            .filter_map(|f| state.create_physical_expr(f.clone(), &schema).ok());
        let Some(filter) = conjunction_opt(on_partitions) else {
            return Ok(self.files.clone());
        };
        let keep = filter.evaluate(&self.partition_values)?.into_array(self.files.len())?;
        let keep = keep.as_boolean();
        Ok(self.files.iter().enumerate().filter(|(i, _)| keep.is_valid(*i) && keep.value(*i)).map(|(_, f)| f.clone()).collect())
    }
}

/// Readers whose footers come with the page index, so the metadata cache
/// keeps both (DataFusion 55's opener asks for the footer alone, then
/// decodes the page index itself on every read without caching it).
#[derive(Debug)]
struct IndexedFooters {
    inner: CachedParquetFileReaderFactory,
}

impl ParquetFileReaderFactory for IndexedFooters {
    fn create_reader(&self, partition_index: usize, file: PartitionedFile, metadata_size_hint: Option<usize>, metrics: &ExecutionPlanMetricsSet) -> DfResult<Box<dyn AsyncFileReader + Send>> {
        let inner = self.inner.create_reader(partition_index, file, metadata_size_hint, metrics)?;
        Ok(Box::new(WithPageIndex { inner, options: ArrowReaderOptions::new() }))
    }
}

struct WithPageIndex {
    inner: Box<dyn AsyncFileReader + Send>,
    options: ArrowReaderOptions,
}

impl AsyncFileReader for WithPageIndex {
    fn get_bytes(&mut self, range: std::ops::Range<u64>) -> BoxFuture<'_, datafusion::parquet::errors::Result<bytes::Bytes>> {
        self.inner.get_bytes(range)
    }

    fn get_byte_ranges(&mut self, ranges: Vec<std::ops::Range<u64>>) -> BoxFuture<'_, datafusion::parquet::errors::Result<Vec<bytes::Bytes>>> {
        self.inner.get_byte_ranges(ranges)
    }

    fn get_metadata<'a>(&'a mut self, options: Option<&'a ArrowReaderOptions>) -> BoxFuture<'a, datafusion::parquet::errors::Result<Arc<ParquetMetaData>>> {
        self.options = options.cloned().unwrap_or_default().with_page_index_policy(PageIndexPolicy::Optional);
        self.inner.get_metadata(Some(&self.options))
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use arus_schemas::advice::DailyTotalRow;
    use arus_schemas::tables;
    use chrono::NaiveDate;
    use datafusion::arrow::util::pretty::pretty_format_batches;
    use datafusion::prelude::SessionContext;

    use crate::query::{scan_of, LakeSession};
    use crate::{AppendLog, Lake};

    fn rows(commit: u32, users: u32) -> Vec<DailyTotalRow> {
        let mut out = Vec::new();
        for u in 0..users {
            for (month, days) in [(10, 31), (11, 30), (12, 7)] {
                let day = NaiveDate::from_ymd_opt(2026, month, 1 + (u * 7 + commit) % days).unwrap();
                out.push(DailyTotalRow {
                    user_id: format!("u{u:03}"),
                    month: day.format("%Y-%m").to_string(),
                    day,
                    category_id: ["food", "transport", "sales"][(u + commit) as usize % 3].into(),
                    income: i64::from(u * 1_000 + commit),
                    expense: i64::from(commit * 500),
                    count: 1,
                    updated_at: chrono::DateTime::from_timestamp(1_790_000_000 + i64::from(commit), 0).unwrap(),
                });
            }
        }
        out
    }

    #[tokio::test]
    async fn a_table_with_column_mapping_is_left_to_delta_rs() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("_delta_log")).unwrap();
        let field = r#"{"name":"a","type":"long","nullable":true,"metadata":{"delta.columnMapping.id":1,"delta.columnMapping.physicalName":"col-1"}}"#;
        let metadata = serde_json::json!({"metaData": {
            "id": "5c0f7a52-8a0e-4a56-9d8f-1d1c2b0e0a11", "format": {"provider": "parquet", "options": {}},
            "schemaString": format!(r#"{{"type":"struct","fields":[{field}]}}"#), "partitionColumns": [],
            "configuration": {"delta.columnMapping.mode": "name", "delta.columnMapping.maxColumnId": "1"}, "createdTime": 0}});
        let log = format!("{}\n{metadata}\n", serde_json::json!({"protocol": {"minReaderVersion": 2, "minWriterVersion": 5}}));
        std::fs::write(dir.path().join("_delta_log/00000000000000000000.json"), log).unwrap();
        let url = url::Url::from_directory_path(dir.path()).unwrap();
        let mut table = deltalake::DeltaTableBuilder::from_url(url).unwrap().build().unwrap();
        table.load().await.unwrap();
        let schema = scan_of(&table).unwrap().schema();
        assert!(super::Files::of(&table, schema, &[]).unwrap().is_none(), "column mapping needs delta-rs's scan");
    }

    #[tokio::test]
    async fn the_files_read_directly_give_what_delta_rs_gives() {
        let dir = tempfile::tempdir().unwrap();
        let lake = Lake::at(dir.path().to_str().unwrap()).unwrap();
        let mut log = AppendLog::<DailyTotalRow>::open(&lake, &tables::DAILY_TOTALS).await.unwrap();
        for commit in 0..3 {
            log.append(&rows(commit, 40)).await.unwrap();
        }
        // Rewritten partitions leave their old files on disk, removed from the log.
        crate::maintenance::optimize_every_partition(&lake, &tables::DAILY_TOTALS).await.unwrap();
        log.refresh().await.unwrap();
        log.append(&rows(3, 25)).await.unwrap();

        let session = LakeSession::open(&lake, Duration::ZERO).await.unwrap();
        let table = lake.open_or_create(&tables::DAILY_TOTALS).await.unwrap();
        let delta = SessionContext::new_with_config(LakeSession::config());
        table.update_datafusion_session(&delta.state()).unwrap();
        delta.register_table("daily_totals", scan_of(&table).unwrap()).unwrap();

        let explain = |sql: &str| format!("EXPLAIN {sql}");
        let queries = [
            "SELECT * FROM daily_totals ORDER BY user_id, day, category_id, updated_at",
            "SELECT category_id, month, user_id FROM daily_totals WHERE month = '2026-11' AND user_id = 'u007' ORDER BY 1, 3",
            "SELECT month, COUNT(*), SUM(income), SUM(expense) FROM daily_totals WHERE month >= '2026-11' GROUP BY month ORDER BY month",
            "SELECT user_id, SUM(income) FROM daily_totals WHERE day > DATE '2026-10-20' AND user_id IN ('u001', 'u020', 'u039') GROUP BY user_id ORDER BY user_id",
            "SELECT * FROM daily_totals WHERE month = '2031-01'",
            "SELECT COUNT(*) FROM daily_totals WHERE month = '2026-12' OR income > 30000",
        ];
        for sql in queries {
            let direct = pretty_format_batches(&session.sql(sql).await.unwrap()).unwrap().to_string();
            let through_delta = pretty_format_batches(&delta.sql(sql).await.unwrap().collect().await.unwrap()).unwrap().to_string();
            assert_eq!(direct, through_delta, "{sql}");
            let plan = pretty_format_batches(&session.sql(&explain(sql)).await.unwrap()).unwrap().to_string();
            assert!(!plan.contains("DeltaScan"), "{plan}");
        }
        let all = session.sql("SELECT COUNT(*) AS n FROM daily_totals").await.unwrap();
        assert_eq!(pretty_format_batches(&all).unwrap().to_string().lines().nth(3).unwrap().trim_matches(|c| c == '|' || c == ' '), (3 * 40 * 3 + 25 * 3).to_string());
        let plan = pretty_format_batches(&delta.sql(&explain(queries[1])).await.unwrap().collect().await.unwrap()).unwrap().to_string();
        assert!(plan.contains("DeltaScan"), "the comparison reads through delta-rs: {plan}");

        // Every file read keeps its footer and page index in the cache.
        let cached = session.context().runtime_env().cache_manager.get_file_metadata_cache().list_entries();
        assert!(!cached.is_empty());
        for (path, entry) in cached {
            assert_eq!(entry.value.file_metadata.extra_info().get("page_index").map(String::as_str), Some("true"), "{path}");
        }
    }
}
