//! The table catalogue: where each Delta table lives under the lake root,
//! creating it from its Arrow schema and partition columns when missing, and
//! the shape of every table for `arus lake stats`.

use std::collections::HashMap;
use std::sync::Arc;

use arus_schemas::tables::{self, TableDef};
use arus_schemas::Config;
use deltalake::kernel::engine::arrow_conversion::TryIntoKernel;
use deltalake::kernel::StructType;
use deltalake::{DeltaTable, DeltaTableError};
use url::Url;

use crate::{storage, LakeError};

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

/// The lake: a root URI under which each table is a folder named after it,
/// with the storage options its object store needs (S3 endpoint and keys).
#[derive(Clone, Debug)]
pub struct Lake {
    root: Url,
    options: Arc<HashMap<String, String>>,
}

impl Lake {
    /// The lake of this configuration (`ARUS_LAKE_URI`, default
    /// `{data_dir}/lake`; `s3://` with the `ARUS_S3_*` settings).
    pub fn new(config: &Config) -> Result<Self, LakeError> {
        let root = storage::root_url(&config.lake_uri())?;
        let options = if root.scheme() == "file" { HashMap::new() } else { storage::storage_options(config)? };
        Ok(Lake { root, options: Arc::new(options) })
    }

    /// A local lake rooted at `uri`: a path or `file:///…`.
    pub fn at(uri: &str) -> Result<Self, LakeError> {
        Ok(Lake { root: storage::root_url(uri)?, options: Arc::default() })
    }

    /// The storage options every table of this lake is opened with.
    pub fn storage_options(&self) -> &HashMap<String, String> {
        &self.options
    }

    /// A table handle at `url` with this lake's storage, not loaded yet.
    fn builder(&self, url: Url) -> Result<deltalake::DeltaTableBuilder, LakeError> {
        storage::register_schemes();
        Ok(deltalake::DeltaTableBuilder::from_url(url)?.with_storage_options((*self.options).clone()))
    }

    /// The table at `url`, loaded when it exists (version `None` when not).
    async fn try_load(&self, url: Url) -> Result<DeltaTable, LakeError> {
        let mut table = self.builder(url)?.build()?;
        match table.load().await {
            Ok(()) | Err(DeltaTableError::NotATable(_)) => Ok(table),
            Err(e) => Err(e.into()),
        }
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
        let table = self.try_load(url.clone()).await?;
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
                Ok(self.builder(url)?.load().await?)
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
        Ok(self.builder(self.table_url(def.name)?)?.load().await?)
    }

    /// The shape of every catalogue table (`arus lake stats`), creating none.
    pub async fn stats(&self) -> Result<Vec<crate::maintenance::TableStats>, LakeError> {
        let mut out = Vec::new();
        for def in tables::ALL {
            let table = self.try_load(self.table_url(def.name)?).await?;
            out.push(crate::maintenance::stats(def, &table).await);
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
