//! One DataFusion session over every Delta table of the catalogue. Each
//! table is registered through [`LatestTable`], which reloads the Delta log
//! (at most every `refresh` interval) before planning a scan, so a query sees
//! what jobs committed moments ago without re-registering anything. A
//! table a plain Parquet read honours is scanned from the loaded version's
//! file list ([`direct`]); others through delta-rs's scan.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use arus_schemas::tables::{self, TableDef};
use async_trait::async_trait;
use datafusion::catalog::{Session, TableProvider};
use datafusion::datasource::TableType;
use datafusion::error::{DataFusionError, Result as DfResult};
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::prelude::{SessionConfig, SessionContext};
use deltalake::delta_datafusion::{DeltaScanConfig, DeltaScanNext};
use deltalake::DeltaTable;
use tokio::sync::Mutex;

use crate::{Lake, LakeError};

mod direct;
use direct::Files;

struct Loaded {
    table: DeltaTable,
    provider: Arc<dyn TableProvider>,
    /// The loaded version's files, when reading them as plain Parquet
    /// reads the table right (scans then go to them, not to `provider`).
    files: Option<Arc<Files>>,
    /// The values each partition column has in the loaded version.
    partitions: Arc<Partitions>,
    refreshed: Instant,
}

/// The values of a table's partition columns in one version: column name →
/// values present, in ascending order.
pub type Partitions = BTreeMap<String, BTreeSet<String>>;

fn partitions_of(table: &DeltaTable, columns: &[&str]) -> Result<Partitions, LakeError> {
    let mut found: Partitions = columns.iter().map(|c| ((*c).to_owned(), BTreeSet::new())).collect();
    if columns.is_empty() {
        return Ok(found);
    }
    for file in table.snapshot()?.log_data() {
        for (column, value) in file.partition_values_map() {
            if let (Some(values), Some(value)) = (found.get_mut(&column), value) {
                values.insert(value);
            }
        }
    }
    Ok(found)
}

/// A scan of the version `table` holds, with partition values as plain
/// columns: delta-rs wraps them in dictionaries by default, which makes
/// DataFusion group by them (`GROUP BY month, …`) through its row-encoding
/// fallback instead of its column-wise group values. Built without the log
/// store, it needs the session to know the table's object store
/// ([`LatestTable::current`] registers it).
fn scan_of(table: &DeltaTable) -> Result<Arc<dyn TableProvider>, LakeError> {
    let snapshot = table.snapshot()?.snapshot().clone();
    Ok(Arc::new(DeltaScanNext::new(snapshot, DeltaScanConfig::new().with_wrap_partition_values(false))?))
}

/// A Delta table that DataFusion always reads at (nearly) its latest version.
pub struct LatestTable {
    name: &'static str,
    partition_columns: &'static [&'static str],
    schema: SchemaRef,
    refresh: Duration,
    loaded: Mutex<Loaded>,
}

impl std::fmt::Debug for LatestTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LatestTable").field("name", &self.name).finish()
    }
}

impl LatestTable {
    async fn new(def: &'static TableDef, table: DeltaTable, refresh: Duration) -> Result<Self, LakeError> {
        let provider = scan_of(&table)?;
        let schema = provider.schema();
        let files = Files::of(&table, Arc::clone(&schema), def.partition_columns)?.map(Arc::new);
        let partitions = Arc::new(partitions_of(&table, def.partition_columns)?);
        Ok(LatestTable {
            name: def.name,
            partition_columns: def.partition_columns,
            schema,
            refresh,
            loaded: Mutex::new(Loaded { table, provider, files, partitions, refreshed: Instant::now() }),
        })
    }

    /// The provider of the latest version, its partition values and the
    /// version's number, reloading the log when the last reload is older than the refresh
    /// interval. With `session`, the table's object store is registered in
    /// it first (once per session; the SQL endpoint's are new per query).
    async fn current(&self, session: Option<&dyn Session>) -> DfResult<Current> {
        let external = |e: LakeError| DataFusionError::External(Box::new(e));
        let mut loaded = self.loaded.lock().await;
        if loaded.refreshed.elapsed() >= self.refresh {
            let before = loaded.table.version();
            loaded.table.update_incremental(None).await.map_err(|e| external(e.into()))?;
            if loaded.table.version() != before {
                loaded.provider = scan_of(&loaded.table).map_err(external)?;
                loaded.files = Files::of(&loaded.table, Arc::clone(&self.schema), self.partition_columns).map_err(external)?.map(Arc::new);
                loaded.partitions = Arc::new(partitions_of(&loaded.table, self.partition_columns).map_err(external)?);
            }
            loaded.refreshed = Instant::now();
        }
        if let Some(session) = session {
            loaded.table.update_datafusion_session(session).map_err(|e| external(e.into()))?;
        }
        Ok(Current { provider: Arc::clone(&loaded.provider), files: loaded.files.clone(), partitions: Arc::clone(&loaded.partitions), version: loaded.table.version() })
    }
}

/// What [`LatestTable::current`] found.
struct Current {
    provider: Arc<dyn TableProvider>,
    files: Option<Arc<Files>>,
    partitions: Arc<Partitions>,
    version: Option<u64>,
}

#[async_trait]
impl TableProvider for LatestTable {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    fn supports_filters_pushdown(&self, filters: &[&Expr]) -> DfResult<Vec<TableProviderFilterPushDown>> {
        // Inexact: the Delta scan may prune files and row groups with them,
        // and DataFusion still applies every filter to what comes back.
        Ok(vec![TableProviderFilterPushDown::Inexact; filters.len()])
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        let current = self.current(Some(state)).await?;
        match current.files {
            Some(files) => files.scan(state, projection, filters, limit).await,
            None => current.provider.scan(state, projection, filters, limit).await,
        }
    }
}

/// Runs `sql` against `table` alone, registered as `name`, at the version
/// `table` holds. For jobs rebuilding state from what they committed.
pub async fn query_table(table: &DeltaTable, name: &str, sql: &str) -> Result<Vec<RecordBatch>, LakeError> {
    let ctx = SessionContext::new();
    table.update_datafusion_session(&ctx.state())?;
    ctx.register_table(name, table.table_provider().await?)?;
    Ok(ctx.sql(sql).await?.collect().await?)
}

/// Every row of `table` (registered as `name`) as `T`, in no particular order.
pub async fn read_rows<T: serde::de::DeserializeOwned>(table: &DeltaTable, name: &'static str) -> Result<Vec<T>, LakeError> {
    let batches = query_table(table, name, &format!("SELECT * FROM \"{name}\"")).await?;
    let mut rows = Vec::new();
    for batch in &batches {
        let part: Vec<T> = serde_arrow::from_record_batch(batch).map_err(|e| LakeError::Rows { table: name, reason: e.to_string() })?;
        rows.extend(part);
    }
    Ok(rows)
}

/// The rows of `table` (registered as `name`) that pass `filter`, as `T`.
pub async fn read_rows_where<T: serde::de::DeserializeOwned>(table: &DeltaTable, name: &'static str, filter: Expr) -> Result<Vec<T>, LakeError> {
    let batches = select_where(table, filter, None).await?;
    let mut rows = Vec::new();
    for batch in &batches {
        let part: Vec<T> = serde_arrow::from_record_batch(batch).map_err(|e| LakeError::Rows { table: name, reason: e.to_string() })?;
        rows.extend(part);
    }
    Ok(rows)
}

/// `columns` (all when `None`) of the rows of `table` that pass `filter`.
/// Filters are expressions, never SQL text, so values need no quoting.
pub async fn select_where(table: &DeltaTable, filter: Expr, columns: Option<&[&str]>) -> Result<Vec<RecordBatch>, LakeError> {
    let ctx = SessionContext::new();
    table.update_datafusion_session(&ctx.state())?;
    let mut frame = ctx.read_table(table.table_provider().await?)?.filter(filter)?;
    if let Some(columns) = columns {
        frame = frame.select_columns(columns)?;
    }
    Ok(frame.collect().await?)
}

/// Calls `f` with every non-null value of the string column `column` of
/// `table` (registered as `name`). For jobs rebuilding state, such as the
/// ids they have written.
pub async fn for_each_string(table: &DeltaTable, name: &str, column: &str, mut f: impl FnMut(&str)) -> Result<(), LakeError> {
    let batches = query_table(table, name, &format!("SELECT \"{column}\" FROM \"{name}\"")).await?;
    for batch in &batches {
        let values = arrow::compute::cast(batch.column(0), &arrow::datatypes::DataType::Utf8)?;
        let values = values
            .as_any()
            .downcast_ref::<arrow::array::StringArray>()
            .ok_or_else(|| LakeError::Rows { table: "?", reason: format!("{name}.{column} is not a string column") })?;
        values.iter().flatten().for_each(&mut f);
    }
    Ok(())
}

/// The longest `IN` list of [`LakeSession`] queries that still prunes by statistics.
pub const MAX_IN_LIST: usize = 500;

/// The DataFusion session of a process, with every catalogue table registered
/// under its name.
#[derive(Clone)]
pub struct LakeSession {
    ctx: SessionContext,
    tables: Arc<HashMap<&'static str, Arc<LatestTable>>>,
}

impl LakeSession {
    /// Registers every table of the catalogue (creating missing ones).
    pub async fn open(lake: &Lake, refresh: Duration) -> Result<Self, LakeError> {
        let ctx = SessionContext::new_with_config(Self::config());
        let mut latest = HashMap::new();
        for def in tables::ALL {
            let table = lake.open_or_create(def).await?;
            table.update_datafusion_session(&ctx.state())?;
            let provider = Arc::new(LatestTable::new(def, table, refresh).await?);
            ctx.register_table(def.name, Arc::clone(&provider) as Arc<dyn TableProvider>)?;
            latest.insert(def.name, provider);
        }
        Ok(LakeSession { ctx, tables: Arc::new(latest) })
    }

    /// The settings of every session over the lake (this one and the SQL
    /// endpoint's). An `IN` list of up to [`MAX_IN_LIST`] ids (an
    /// officer's partners) still prunes row groups and pages by their
    /// statistics. Bloom filters are not read: arus writes none, and
    /// looking for them costs a pass of the pruning predicate per row group
    /// (with a long `IN` list, seconds per query).
    pub fn config() -> SessionConfig {
        let mut config = SessionConfig::new();
        config.options_mut().execution.parquet.max_in_list_size = MAX_IN_LIST;
        config.options_mut().execution.parquet.bloom_filter_on_read = false;
        config
    }

    /// The values of `table`'s partition columns in the version the next
    /// query reads (for walking partitions in order, such as months).
    pub async fn partitions(&self, table: &str) -> Result<Arc<Partitions>, LakeError> {
        Ok(self.latest(table)?.current(None).await?.partitions)
    }

    /// The version of `table` the next query reads (for telling whether
    /// something derived from it is still current).
    pub async fn version(&self, table: &str) -> Result<Option<u64>, LakeError> {
        Ok(self.latest(table)?.current(None).await?.version)
    }

    fn latest(&self, table: &str) -> Result<&LatestTable, LakeError> {
        self.tables.get(table).map(|t| t.as_ref()).ok_or_else(|| LakeError::Rows { table: "?", reason: format!("no table {table:?} in the catalogue") })
    }

    pub fn context(&self) -> &SessionContext {
        &self.ctx
    }

    /// The always-current provider of `table`, to register elsewhere (the
    /// SQL endpoint's per-query contexts).
    pub fn provider(&self, table: &str) -> Option<Arc<dyn TableProvider>> {
        self.tables.get(table).map(|t| Arc::clone(t) as Arc<dyn TableProvider>)
    }

    /// Runs `sql` and collects the result.
    pub async fn sql(&self, sql: &str) -> Result<Vec<RecordBatch>, LakeError> {
        Ok(self.ctx.sql(sql).await?.collect().await?)
    }
}
