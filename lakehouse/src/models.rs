//! Stored models: the `models` table (one row per version, with metrics)
//! and the artifacts it points at, kept under the table's folder in
//! `_artifacts/` (a folder Delta ignores and vacuum never deletes), through
//! the table's own object store, so they live wherever the lake does.

use arus_schemas::models::ModelRecord;
use arus_schemas::tables;
use datafusion::prelude::{col, lit};
use deltalake::Path;
use object_store::ObjectStoreExt;
use sha2::{Digest, Sha256};

use crate::{AppendLog, Lake, LakeError};

/// The `models` table.
pub struct ModelStore {
    log: AppendLog<ModelRecord>,
}

/// What to store with a new version.
#[derive(Debug, Clone)]
pub struct NewModel {
    pub kind: String,
    pub bytes: Vec<u8>,
    pub labels: Vec<String>,
    pub corpus_rows: i64,
    pub confirmed_rows: i64,
    pub heldout_accuracy: Option<f64>,
    pub heldout_macro_f1: Option<f64>,
    pub metrics: serde_json::Value,
    pub created_by: Option<String>,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl ModelStore {
    pub async fn open(lake: &Lake) -> Result<Self, LakeError> {
        Ok(ModelStore { log: AppendLog::open(lake, &tables::MODELS).await? })
    }

    /// The newest version of `kind`, reloading the table first.
    pub async fn latest(&mut self, kind: &str) -> Result<Option<ModelRecord>, LakeError> {
        self.log.refresh().await?;
        let rows = self.log.rows_where(col("kind").eq(lit(kind.to_owned()))).await?;
        Ok(rows.into_iter().max_by_key(|r| r.version))
    }

    /// Every version of `kind`, newest first.
    pub async fn versions(&mut self, kind: &str) -> Result<Vec<ModelRecord>, LakeError> {
        self.log.refresh().await?;
        let mut rows = self.log.rows_where(col("kind").eq(lit(kind.to_owned()))).await?;
        rows.sort_by_key(|r| std::cmp::Reverse(r.version));
        Ok(rows)
    }

    /// Stores `model` as the next version of its kind: the artifact first,
    /// then the row (so a row never points at a missing file). Two trainers
    /// at once get different versions: the row commit is serialised and the
    /// loser takes the next number.
    pub async fn save(&mut self, model: NewModel) -> Result<ModelRecord, LakeError> {
        let sha256 = hex(&Sha256::digest(&model.bytes));
        let store = self.log.table().object_store();
        loop {
            let version = self.latest(&model.kind).await?.map_or(1, |r| r.version + 1);
            let artifact_path = format!("_artifacts/{}/v{version}-{}.bin", model.kind, &sha256[..12]);
            store
                .put(&Path::from(artifact_path.as_str()), model.bytes.clone().into())
                .await
                .map_err(|e| LakeError::Delta { source: e.into() })?;
            let record = ModelRecord {
                kind: model.kind.clone(),
                version,
                artifact_path,
                size_bytes: model.bytes.len() as i64,
                sha256: sha256.clone(),
                labels: serde_json::to_string(&model.labels).unwrap_or_default(),
                corpus_rows: model.corpus_rows,
                confirmed_rows: model.confirmed_rows,
                heldout_accuracy: model.heldout_accuracy,
                heldout_macro_f1: model.heldout_macro_f1,
                metrics: model.metrics.to_string(),
                // The table keeps microseconds: return what it will read back.
                created_at: chrono::SubsecRound::trunc_subsecs(chrono::Utc::now(), 6),
                created_by: model.created_by.clone(),
            };
            match self.log.append(std::slice::from_ref(&record)).await {
                Ok(_) => return Ok(record),
                Err(LakeError::Conflict { .. }) => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// The artifact of `record`, checked against its SHA-256.
    pub async fn load(&self, record: &ModelRecord) -> Result<Vec<u8>, LakeError> {
        let store = self.log.table().object_store();
        let bytes = store
            .get(&Path::from(record.artifact_path.as_str()))
            .await
            .map_err(|e| LakeError::Delta { source: e.into() })?
            .bytes()
            .await
            .map_err(|e| LakeError::Delta { source: e.into() })?;
        let actual = hex(&Sha256::digest(&bytes));
        if actual != record.sha256 {
            return Err(LakeError::Rows {
                table: "models",
                reason: format!("artifact {} has SHA-256 {actual}, the table says {}", record.artifact_path, record.sha256),
            });
        }
        Ok(bytes.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model(bytes: &[u8]) -> NewModel {
        NewModel {
            kind: "classifier".into(),
            bytes: bytes.to_vec(),
            labels: vec!["a".into(), "b".into()],
            corpus_rows: 10,
            confirmed_rows: 2,
            heldout_accuracy: Some(0.9),
            heldout_macro_f1: Some(0.8),
            metrics: serde_json::json!({"accuracy": 0.9}),
            created_by: None,
        }
    }

    #[tokio::test]
    async fn versions_count_up_and_artifacts_come_back_checked() {
        let dir = tempfile::tempdir().unwrap();
        let lake = Lake::at(dir.path().to_str().unwrap()).unwrap();
        let mut store = ModelStore::open(&lake).await.unwrap();
        assert!(store.latest("classifier").await.unwrap().is_none());
        let first = store.save(model(b"one")).await.unwrap();
        // A second process saving at the same time gets the next version.
        let mut other = ModelStore::open(&lake).await.unwrap();
        let second = other.save(model(b"two")).await.unwrap();
        let third = store.save(model(b"three")).await.unwrap();
        assert_eq!((first.version, second.version, third.version), (1, 2, 3));
        let latest = store.latest("classifier").await.unwrap().unwrap();
        assert_eq!(latest, third);
        assert_eq!(store.load(&latest).await.unwrap(), b"three");
        assert!(dir.path().join("models").join(&first.artifact_path).exists());
        assert_eq!(store.versions("classifier").await.unwrap().len(), 3);
        // A damaged artifact is refused, not loaded.
        std::fs::write(dir.path().join("models").join(&first.artifact_path), b"oops").unwrap();
        assert!(store.load(&first).await.unwrap_err().to_string().contains("SHA-256"));
    }
}
