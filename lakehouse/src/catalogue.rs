//! The table catalogue: where each Delta table lives under the lake root,
//! creating it from its Arrow schema and partition columns when missing, and
//! a summary of every table for `arus lake ls`.

use std::sync::Arc;

use arus_schemas::tables::{self, TableDef};
use arus_schemas::Config;
use deltalake::kernel::engine::arrow_conversion::TryIntoKernel;
use deltalake::kernel::StructType;
use deltalake::{DeltaTable, DeltaTableError};
use url::Url;

use crate::LakeError;

/// Adds to `table` the columns `def` has and it lacks: a table written by an
/// older arus gains the columns added since (they must be nullable, and
/// last in `def`, so old and new tables keep one column order). Old rows
/// read them as null.
async fn evolve(table: DeltaTable, def: &TableDef) -> Result<DeltaTable, LakeError> {
    let existing: Vec<String> = table.snapshot()?.schema().fields().map(|f| f.name().to_owned()).collect();
    let schema = def.schema();
    let missing: Vec<&arrow::datatypes::FieldRef> = schema.fields().iter().filter(|f| !existing.iter().any(|e| e == f.name())).collect();
    if missing.is_empty() {
        return Ok(table);
    }
    if let Some(required) = missing.iter().find(|f| !f.is_nullable()) {
        return Err(LakeError::Schema {
            table: def.name,
            reason: format!("the table lacks column {} and it cannot be added (not nullable): migrate the table", required.name()),
        });
    }
    let names: Vec<&str> = missing.iter().map(|f| f.name().as_str()).collect();
    let added: StructType = (&arrow::datatypes::Schema::new(missing.iter().map(|f| f.as_ref().clone()).collect::<Vec<_>>()))
        .try_into_kernel()
        .map_err(|e| LakeError::Schema { table: def.name, reason: e.to_string() })?;
    match table.clone().add_columns().with_fields(added.fields().cloned().collect::<Vec<_>>()).await {
        Ok(table) => {
            tracing::info!(table = def.name, columns = ?names, "added columns to a table made by an older arus");
            Ok(table)
        }
        // Another process added them first: read what it committed.
        Err(DeltaTableError::VersionAlreadyExists(_)) | Err(DeltaTableError::Transaction { .. }) => {
            let mut table = table;
            table.update_incremental(None).await?;
            Ok(table)
        }
        Err(e) => Err(e.into()),
    }
}

/// The lake: a root URI under which each table is a folder named after it.
#[derive(Clone, Debug)]
pub struct Lake {
    root: Url,
}

/// What `arus lake ls` shows of a table.
#[derive(Debug, Clone)]
pub struct TableSummary {
    pub name: &'static str,
    pub version: Option<u64>,
    pub files: usize,
    pub rows: Option<u64>,
    pub bytes: u64,
    pub partition_columns: &'static [&'static str],
}

impl Lake {
    /// The lake of this configuration (`ARUS_LAKE_URI`, default `{data_dir}/lake`).
    pub fn new(config: &Config) -> Result<Self, LakeError> {
        Self::at(&config.lake_uri())
    }

    /// A lake rooted at `uri`: a local path, `file:///…` or `s3://…`.
    pub fn at(uri: &str) -> Result<Self, LakeError> {
        let bad = |reason: String| LakeError::BadUri { uri: uri.to_owned(), reason };
        let root = if uri.contains("://") {
            Url::parse(uri).map_err(|e| bad(e.to_string()))?
        } else {
            let path = std::path::absolute(uri).map_err(|e| bad(e.to_string()))?;
            Url::from_directory_path(&path).map_err(|()| bad("not an absolute path".into()))?
        };
        let root = if root.path().ends_with('/') { root } else { Url::parse(&format!("{root}/")).map_err(|e| bad(e.to_string()))? };
        Ok(Lake { root })
    }

    pub fn root(&self) -> &Url {
        &self.root
    }

    /// The URL of table `name`.
    pub fn table_url(&self, name: &str) -> Result<Url, LakeError> {
        self.root
            .join(&format!("{name}/"))
            .map_err(|e| LakeError::BadUri { uri: self.root.to_string(), reason: e.to_string() })
    }

    /// Opens `def`, creating it (empty, with its schema and partitioning)
    /// when it does not exist yet. Safe to call from several processes: a
    /// concurrent creation is detected and the winner's table opened.
    pub async fn open_or_create(&self, def: &TableDef) -> Result<DeltaTable, LakeError> {
        let url = self.table_url(def.name)?;
        if url.scheme() == "file" {
            if let Ok(path) = url.to_file_path() {
                std::fs::create_dir_all(&path).map_err(|source| LakeError::Io { path, source })?;
            }
        }
        let table = DeltaTable::try_from_url(url.clone()).await?;
        if table.version().is_some() {
            return evolve(table, def).await;
        }
        let kernel: StructType = def
            .schema()
            .as_ref()
            .try_into_kernel()
            .map_err(|e| LakeError::Schema { table: def.name, reason: e.to_string() })?;
        let created = table
            .create()
            .with_table_name(def.name)
            .with_comment(def.description)
            .with_columns(kernel.fields().cloned())
            .with_partition_columns(def.partition_columns.iter().copied())
            .await;
        match created {
            Ok(table) => {
                tracing::info!(table = def.name, "created Delta table");
                Ok(table)
            }
            // Another process created it between our check and our commit.
            Err(DeltaTableError::VersionAlreadyExists(_)) | Err(DeltaTableError::Transaction { .. }) => {
                Ok(deltalake::open_table(url).await?)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Creates every table of the catalogue that is missing, and adds the
    /// columns a newer arus defines to tables an older one made.
    pub async fn ensure_all(&self) -> Result<(), LakeError> {
        for def in tables::ALL {
            self.open_or_create(def).await?;
        }
        Ok(())
    }

    /// Opens an existing table at its latest version.
    pub async fn open(&self, def: &TableDef) -> Result<DeltaTable, LakeError> {
        Ok(deltalake::open_table(self.table_url(def.name)?).await?)
    }

    /// Version, file count, row count and size of every catalogue table.
    pub async fn summaries(&self) -> Result<Vec<TableSummary>, LakeError> {
        let mut out = Vec::new();
        for def in tables::ALL {
            let url = self.table_url(def.name)?;
            let table = DeltaTable::try_from_url(url).await?;
            let mut summary = TableSummary {
                name: def.name,
                version: table.version(),
                files: 0,
                rows: Some(0),
                bytes: 0,
                partition_columns: def.partition_columns,
            };
            if let Ok(state) = table.snapshot() {
                for file in state.log_data().iter() {
                    summary.files += 1;
                    summary.bytes += file.size() as u64;
                    summary.rows = match (summary.rows, file.num_records()) {
                        (Some(total), Some(n)) => Some(total + n as u64),
                        _ => None,
                    };
                }
            }
            out.push(summary);
        }
        Ok(out)
    }
}

/// Shared handle to a table's latest known state.
pub type SharedTable = Arc<tokio::sync::Mutex<DeltaTable>>;

#[cfg(test)]
mod tests {
    use std::sync::LazyLock;

    use arrow::datatypes::{DataType, Field, Schema, SchemaRef};

    use super::*;

    static OLD_SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| Arc::new(Schema::new(vec![Field::new("id", DataType::Utf8, false)])));
    static OLD: TableDef = TableDef { name: "t", schema: &OLD_SCHEMA, partition_columns: &[], cluster_by: &[], description: "old" };
    static NEW_SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
        Arc::new(Schema::new(vec![Field::new("id", DataType::Utf8, false), Field::new("note", DataType::Utf8, true)]))
    });
    static NEW: TableDef = TableDef { name: "t", schema: &NEW_SCHEMA, partition_columns: &[], cluster_by: &[], description: "new" };
    static STRICT_SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
        Arc::new(Schema::new(vec![Field::new("id", DataType::Utf8, false), Field::new("must", DataType::Utf8, false)]))
    });
    static STRICT: TableDef = TableDef { name: "t", schema: &STRICT_SCHEMA, partition_columns: &[], cluster_by: &[], description: "strict" };

    #[tokio::test]
    async fn a_table_made_by_an_older_arus_gains_the_new_nullable_columns() {
        let dir = tempfile::tempdir().unwrap();
        let lake = Lake::at(dir.path().to_str().unwrap()).unwrap();
        lake.open_or_create(&OLD).await.unwrap();
        let table = lake.open_or_create(&NEW).await.unwrap();
        let names: Vec<String> = table.snapshot().unwrap().schema().fields().map(|f| f.name().to_owned()).collect();
        assert_eq!(names, ["id", "note"]);
        let again = lake.open_or_create(&NEW).await.unwrap();
        assert_eq!(again.version(), table.version(), "nothing to add the second time");
        let refused = lake.open_or_create(&STRICT).await.unwrap_err();
        assert!(refused.to_string().contains("must"), "{refused}");
    }
}
