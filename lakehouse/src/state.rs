//! Small tables a service writes itself rather than materialising them from a
//! topic (people, refresh tokens): append-only logs of rows that the writer
//! loads whole into memory. Commits are serialised across processes by a
//! Delta `txn` action every commit carries (`appId = {table}-writer`): two
//! writers that read the same version cannot both commit, so a writer that
//! checks a rule against what it loaded (an e-mail address not yet taken)
//! knows the rule still held when its commit landed.

use arus_schemas::tables::TableDef;
use arrow::datatypes::FieldRef;
use deltalake::kernel::transaction::{CommitBuilder, CommitProperties, TransactionError};
use deltalake::kernel::{Action, Transaction};
use deltalake::protocol::{DeltaOperation, SaveMode};
use deltalake::writer::{DeltaWriter, RecordBatchWriter};
use deltalake::{DeltaTable, DeltaTableError};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::query::read_rows;
use crate::{Lake, LakeError};

/// A checkpoint is written every this many commits of a log.
const CHECKPOINT_INTERVAL: u64 = 50;

/// An append-only table of `T` rows with serialised writers.
pub struct AppendLog<T> {
    def: &'static TableDef,
    table: DeltaTable,
    fields: Vec<FieldRef>,
    _rows: std::marker::PhantomData<fn() -> T>,
}

impl<T: Serialize + DeserializeOwned> AppendLog<T> {
    /// Opens `def` in `lake`, creating it when missing.
    pub async fn open(lake: &Lake, def: &'static TableDef) -> Result<Self, LakeError> {
        let table = lake.open_or_create(def).await?;
        let fields = def.schema().fields().iter().cloned().collect();
        Ok(AppendLog { def, table, fields, _rows: std::marker::PhantomData })
    }

    /// The table as loaded.
    pub fn table(&self) -> &DeltaTable {
        &self.table
    }

    /// The version loaded.
    pub fn version(&self) -> Option<u64> {
        self.table.version()
    }

    /// Reloads the log; true when another writer committed since the last load.
    pub async fn refresh(&mut self) -> Result<bool, LakeError> {
        let before = self.table.version();
        self.table.update_incremental(None).await?;
        Ok(self.table.version() != before)
    }

    /// Every row as of the loaded version, in no particular order.
    pub async fn rows(&self) -> Result<Vec<T>, LakeError> {
        read_rows(&self.table, self.def.name).await
    }

    /// The rows that pass `filter`, as of the loaded version.
    pub async fn rows_where(&self, filter: datafusion::prelude::Expr) -> Result<Vec<T>, LakeError> {
        crate::query::read_rows_where(&self.table, self.def.name, filter).await
    }

    /// Appends `rows`, reloading and trying again while other writers commit
    /// first: for logs whose rows need no rule checked against the others.
    pub async fn append_retrying(&mut self, rows: &[T]) -> Result<u64, LakeError> {
        let mut attempt = 0;
        loop {
            match self.append(rows).await {
                Err(LakeError::Conflict { .. }) if attempt < 20 => {
                    attempt += 1;
                    self.refresh().await?;
                }
                other => return other,
            }
        }
    }

    /// Appends `rows` in one commit on top of the loaded version. Fails with
    /// [`LakeError::Conflict`] when another writer committed since then: the
    /// caller reloads, checks its rules again and retries.
    pub async fn append(&mut self, rows: &[T]) -> Result<u64, LakeError> {
        let batch = serde_arrow::to_record_batch(&self.fields, &rows)
            .map_err(|e| LakeError::Rows { table: self.def.name, reason: e.to_string() })?;
        let mut files = RecordBatchWriter::for_table(&self.table)?;
        files.write(batch).await?;
        let actions: Vec<Action> = files.flush().await?.into_iter().map(Action::Add).collect();
        let next = self.table.version().map_or(0, |v| v + 1);
        let guard = Transaction::new(format!("{}-writer", self.def.name), next as i64);
        let properties = CommitProperties::default().with_application_transactions(vec![guard]).with_create_checkpoint(false);
        let operation = DeltaOperation::Write { mode: SaveMode::Append, partition_by: None, predicate: None };
        let committed = CommitBuilder::from(properties)
            .with_actions(actions)
            .build(Some(self.table.snapshot()?), self.table.log_store(), operation)
            .await;
        let version = match committed {
            Ok(c) => c.version(),
            Err(DeltaTableError::Transaction { source: TransactionError::CommitConflict(_) }) => {
                return Err(LakeError::Conflict { table: self.def.name });
            }
            Err(e) => return Err(e.into()),
        };
        self.table.update_incremental(Some(version)).await?;
        if version > 0 && version % CHECKPOINT_INTERVAL == 0 {
            deltalake::checkpoints::create_checkpoint(&self.table, None).await?;
        }
        Ok(version)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arus_schemas::people::{RefreshEvent, RefreshTokenRecord};
    use arus_schemas::tables;

    fn row(i: usize) -> RefreshTokenRecord {
        RefreshTokenRecord {
            token_hash: format!("h{i}"),
            family_id: "f".into(),
            user_id: "u".into(),
            event: RefreshEvent::Issued,
            at: chrono::Utc::now(),
            expires_at: None,
            reason: None,
        }
    }

    #[tokio::test]
    async fn a_writer_behind_another_is_refused_until_it_reloads() {
        let dir = tempfile::tempdir().unwrap();
        let lake = Lake::at(dir.path().to_str().unwrap()).unwrap();
        let mut a = AppendLog::<RefreshTokenRecord>::open(&lake, &tables::REFRESH_TOKENS).await.unwrap();
        let mut b = AppendLog::<RefreshTokenRecord>::open(&lake, &tables::REFRESH_TOKENS).await.unwrap();
        a.append(&[row(1)]).await.unwrap();
        let err = b.append(&[row(2)]).await.unwrap_err();
        assert!(matches!(err, LakeError::Conflict { .. }), "{err}");
        assert!(b.refresh().await.unwrap());
        b.append(&[row(2), row(3)]).await.unwrap();
        assert!(a.refresh().await.unwrap());
        let mut hashes: Vec<String> = a.rows().await.unwrap().into_iter().map(|r| r.token_hash).collect();
        hashes.sort();
        assert_eq!(hashes, ["h1", "h2", "h3"]);
        assert_eq!(a.rows().await.unwrap()[0].event, RefreshEvent::Issued);
    }
}
