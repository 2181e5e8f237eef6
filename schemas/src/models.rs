//! Trained models: a row of the `models` table per version.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The kind of the transaction classifier in the `models` table.
pub const CLASSIFIER: &str = "classifier";

/// One stored model version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ModelRecord {
    /// What the model does (`classifier`).
    pub kind: String,
    /// 1, 2, …; the highest is the one jobs use.
    pub version: i64,
    /// Path of the artifact relative to the lake root.
    pub artifact_path: String,
    pub size_bytes: i64,
    /// SHA-256 of the artifact, checked when it is loaded.
    pub sha256: String,
    /// The labels it predicts, as a JSON array.
    pub labels: String,
    /// Rows of the built-in corpus it learnt from.
    pub corpus_rows: i64,
    /// Rows people confirmed or corrected that it learnt from.
    pub confirmed_rows: i64,
    /// Scores on the committed held-out split (merchants never trained on).
    pub heldout_accuracy: Option<f64>,
    pub heldout_macro_f1: Option<f64>,
    /// Every figure of the evaluation, as JSON.
    pub metrics: String,
    pub created_at: DateTime<Utc>,
    pub created_by: Option<String>,
}
