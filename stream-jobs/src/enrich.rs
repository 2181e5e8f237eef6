//! `enrich`: validates captured transactions (`arus.txn.raw.v1`), drops
//! repeats of an idempotency key, categorises the rest and writes them to
//! `transactions`; applies people's corrections (`arus.txn.feedback.v1`) to
//! the rows they name and learns their personal rules from them at once.
//!
//! A category comes from the person's own rule for the merchant when they
//! have taught one (two consistent corrections), else from the global
//! classifier: `ai_predicted` at or above `category_review_threshold`,
//! `needs_review` below. The classifier is the newest version in the
//! `models` table (`arus ml train` stores one), polled every
//! `model_poll_ms` and swapped in without a restart; with none stored, the
//! built-in starting model (version 0, trained from the corpus at start).
//! Invalid messages become dead letters; the job keeps going. Every row
//! written is also published on `arus.txn.v1` for the advisor jobs.

use std::collections::HashSet;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use arus_lakehouse::kafka::{BorrowedMessage, Message};
use arus_lakehouse::models::ModelStore;
use arus_lakehouse::query::{for_each_string, select_where};
use arus_lakehouse::{Lake, UpdateSpec};
use arus_ml::classifier::{transaction_text, Classifier, Settings};
use arus_ml::rules::{merchant_key, PersonalRules};
use arus_schemas::events::{check_schema_version, transaction_uuid, DeadLetterKind};
use arus_schemas::models::CLASSIFIER;
use arus_schemas::tables::{self, TableDef};
use arus_schemas::{topics, CategoryFeedback, CategorySource, Config, Transaction, TransactionStatus, TxnRaw};
use chrono::{DateTime, Utc};
use datafusion::prelude::{col, lit};
use deltalake::DeltaTable;
use serde::Serialize;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::runner::{Job, JobError, Outcome};
use arus_lakehouse::dead_letters::{dead_letter, decode};

pub const NAME: &str = "enrich";

/// A classifier and its version in the `models` table (0: built in).
pub struct LoadedModel {
    pub classifier: Classifier,
    pub version: i64,
}

/// The change a correction makes to a `transactions` row.
#[derive(Debug, Serialize)]
pub struct CategoryUpdate {
    pub id: String,
    pub month: String,
    pub user_id: String,
    pub category_id: String,
    pub category_confidence: f64,
    pub status: TransactionStatus,
    pub category_source: CategorySource,
    pub confirmed_at: DateTime<Utc>,
}

/// State of the enrich job: the ids already in `transactions`, everyone's
/// personal rules, and the classifier.
pub struct Enrich {
    seen: HashSet<u128>,
    rules: PersonalRules,
    model: Arc<LoadedModel>,
    models: watch::Receiver<Arc<LoadedModel>>,
    threshold: f64,
    feedback_topic: String,
    /// The row just made, for `arus.txn.v1`.
    emitted: Vec<(&'static str, String, Vec<u8>)>,
}

/// The built-in starting model, trained once per process.
pub fn starting_model() -> Arc<LoadedModel> {
    static STARTING: OnceLock<Arc<LoadedModel>> = OnceLock::new();
    STARTING
        .get_or_init(|| {
            let started = std::time::Instant::now();
            let trained = arus_ml::training::train_global(&[], &Settings::default(), false);
            tracing::info!(took_ms = started.elapsed().as_millis() as u64, rows = trained.corpus_rows, "built-in starting classifier trained");
            Arc::new(LoadedModel { classifier: trained.classifier, version: 0 })
        })
        .clone()
}

/// The newest stored classifier newer than `than`, if any.
async fn newer_model(store: &mut ModelStore, than: i64) -> Result<Option<LoadedModel>, String> {
    let Some(record) = store.latest(CLASSIFIER).await.map_err(|e| e.to_string())? else {
        return Ok(None);
    };
    if record.version <= than {
        return Ok(None);
    }
    let bytes = store.load(&record).await.map_err(|e| e.to_string())?;
    let classifier = tokio::task::spawn_blocking(move || Classifier::from_bytes(&bytes))
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| format!("classifier version {}: {e}", record.version))?;
    Ok(Some(LoadedModel { classifier, version: record.version }))
}

impl Enrich {
    /// Loads the newest classifier (or trains the starting one) and keeps
    /// watching the `models` table for newer versions until `shutdown`.
    pub async fn open(config: &Config, shutdown: CancellationToken) -> Result<Self, JobError> {
        let lake = Lake::new(config)?;
        let mut store = ModelStore::open(&lake).await?;
        let model = match newer_model(&mut store, 0).await {
            Ok(Some(model)) => Arc::new(model),
            Ok(None) => tokio::task::spawn_blocking(starting_model).await.map_err(|e| JobError::State { job: NAME, reason: e.to_string() })?,
            Err(e) => {
                tracing::error!(job = NAME, error = %e, "the stored classifier cannot be loaded; using the built-in starting model");
                tokio::task::spawn_blocking(starting_model).await.map_err(|e| JobError::State { job: NAME, reason: e.to_string() })?
            }
        };
        tracing::info!(job = NAME, version = model.version, labels = model.classifier.labels().len(), "classifier loaded");
        let (sender, models) = watch::channel(model.clone());
        tokio::spawn(watch_models(store, sender, Duration::from_millis(config.model_poll_ms), shutdown));
        Ok(Enrich {
            seen: HashSet::new(),
            rules: PersonalRules::new(),
            model,
            models,
            threshold: config.category_review_threshold,
            feedback_topic: config.topic(topics::TXN_FEEDBACK),
            emitted: Vec::new(),
        })
    }

    /// Fills the category of a new row: the person's rule, else the model.
    fn categorise(&self, t: &mut Transaction) {
        // Most people have corrected nothing: no merchant key to work out.
        let rule = if self.rules.knows(&t.user_id) {
            self.rules.lookup(&t.user_id, &merchant_key(&t.description, t.counterparty.as_deref(), t.amount))
        } else {
            None
        };
        let (category, confidence, source) = match rule {
            Some(rule) => (rule.category.to_owned(), f64::from(rule.agreement), CategorySource::PersonalRule),
            None => {
                let text = transaction_text(&t.description, t.counterparty.as_deref());
                let p = self.model.classifier.predict(&text, Some(t.amount));
                t.model_version = Some(self.model.version);
                (self.model.classifier.label(p.class).to_owned(), f64::from(p.confidence), CategorySource::Model)
            }
        };
        t.status = if confidence >= self.threshold { TransactionStatus::AiPredicted } else { TransactionStatus::NeedsReview };
        t.category_id = Some(category);
        t.category_confidence = Some(confidence);
        t.category_source = Some(source);
    }

    fn raw(&mut self, msg: &BorrowedMessage<'_>) -> Outcome<Transaction, CategoryUpdate> {
        let raw: TxnRaw = match decode(NAME, msg) {
            Ok(raw) => raw,
            Err(dead) => return Outcome::Dead(dead),
        };
        let now = Utc::now();
        if let Err(e) = check_schema_version(raw.schema_version) {
            return Outcome::Dead(Box::new(dead_letter(NAME, msg, DeadLetterKind::UnsupportedVersion, e.message, Some(raw.user_id))));
        }
        if let Err(errors) = raw.validate(now) {
            let reason = errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ");
            return Outcome::Dead(Box::new(dead_letter(NAME, msg, DeadLetterKind::Invalid, reason, Some(raw.user_id))));
        }
        if !self.seen.insert(transaction_uuid(&raw.user_id, &raw.idempotency_key).as_u128()) {
            return Outcome::Duplicate;
        }
        let mut row = Transaction::from_raw(raw, now, msg.partition(), msg.offset());
        // A category chosen when capturing (a reversal carries its original's) stands.
        if row.category_id.is_none() {
            self.categorise(&mut row);
        }
        Outcome::Row(row)
    }

    fn feedback(&mut self, msg: &BorrowedMessage<'_>) -> Outcome<Transaction, CategoryUpdate> {
        let fb: CategoryFeedback = match decode(NAME, msg) {
            Ok(fb) => fb,
            Err(dead) => return Outcome::Dead(dead),
        };
        if let Err(errors) = fb.validate() {
            let kind = if errors.iter().any(|e| e.code == "unsupported_version") { DeadLetterKind::UnsupportedVersion } else { DeadLetterKind::Invalid };
            let reason = errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ");
            return Outcome::Dead(Box::new(dead_letter(NAME, msg, kind, reason, Some(fb.user_id))));
        }
        let key = merchant_key(&fb.description, fb.counterparty.as_deref(), fb.amount);
        self.rules.learn(&fb.user_id, &key, &fb.transaction_id, &fb.category_id);
        metrics::counter!("arus_category_corrections_total", "changed" => if fb.previous_category_id.as_deref() == Some(fb.category_id.as_str()) { "no" } else { "yes" }).increment(1);
        Outcome::Update(CategoryUpdate {
            id: fb.transaction_id,
            month: fb.month,
            user_id: fb.user_id,
            category_id: fb.category_id,
            category_confidence: 1.0,
            status: TransactionStatus::UserConfirmed,
            category_source: CategorySource::User,
            confirmed_at: fb.at,
        })
    }
}

/// Polls the `models` table and sends each newer classifier to the job.
async fn watch_models(mut store: ModelStore, sender: watch::Sender<Arc<LoadedModel>>, every: Duration, shutdown: CancellationToken) {
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = sender.closed() => return,
            () = tokio::time::sleep(every) => {}
        }
        let current = sender.borrow().version;
        match newer_model(&mut store, current).await {
            Ok(Some(model)) => {
                tracing::info!(job = NAME, from = current, to = model.version, "newer classifier loaded");
                sender.send_replace(Arc::new(model));
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(job = NAME, error = %e, "checking for a newer classifier failed; keeping version {current}"),
        }
    }
}

impl Job for Enrich {
    type Row = Transaction;
    type Update = CategoryUpdate;
    const NAME: &'static str = NAME;
    const SOURCES: &'static [&'static str] = &[topics::TXN_RAW, topics::TXN_FEEDBACK];

    fn table(&self) -> &'static TableDef {
        &tables::TRANSACTIONS
    }

    fn update_spec(&self) -> Option<UpdateSpec> {
        // user_id is a key too: a correction can only change its own tenant's row.
        Some(UpdateSpec {
            keys: &["id", "month", "user_id"],
            set: &["category_id", "category_confidence", "status", "category_source", "confirmed_at"],
            insert: false,
        })
    }

    async fn restore_state(&mut self, table: &DeltaTable) -> Result<(), JobError> {
        self.seen.clear();
        let seen = &mut self.seen;
        for_each_string(table, "transactions", "id", |id| {
            if let Ok(id) = uuid::Uuid::parse_str(id) {
                seen.insert(id.as_u128());
            }
        })
        .await?;
        self.rules = rules_from(table).await?;
        tracing::info!(job = NAME, known_ids = self.seen.len(), personal_merchants = self.rules.len(), "state restored");
        Ok(())
    }

    fn process(&mut self, msg: &BorrowedMessage<'_>) -> Outcome<Transaction, CategoryUpdate> {
        if self.models.has_changed().unwrap_or(false) {
            self.model = self.models.borrow_and_update().clone();
        }
        if msg.topic() == self.feedback_topic {
            return self.feedback(msg);
        }
        let outcome = self.raw(msg);
        if let Outcome::Row(row) = &outcome {
            // Sent before the commit that writes the row: a crash sends it again with the same id.
            let payload = serde_json::to_vec(row).expect("transactions serialise");
            self.emitted.push((topics::TXN, row.user_id.clone(), payload));
        }
        outcome
    }

    fn take_emitted(&mut self) -> Vec<(&'static str, String, Vec<u8>)> {
        std::mem::take(&mut self.emitted)
    }
}

/// Everyone's personal rules, from the rows they confirmed, in the order
/// they confirmed them.
async fn rules_from(table: &DeltaTable) -> Result<PersonalRules, JobError> {
    #[derive(serde::Deserialize)]
    struct Confirmed {
        id: String,
        user_id: String,
        description: String,
        counterparty: Option<String>,
        amount: i64,
        category_id: Option<String>,
        confirmed_at: Option<DateTime<Utc>>,
    }
    let columns = ["id", "user_id", "description", "counterparty", "amount", "category_id", "confirmed_at"];
    let batches = select_where(table, col("status").eq(lit(TransactionStatus::UserConfirmed.as_str())), Some(&columns[..])).await?;
    let mut confirmed: Vec<Confirmed> = Vec::new();
    for batch in &batches {
        let rows: Vec<Confirmed> =
            serde_arrow::from_record_batch(batch).map_err(|e| JobError::State { job: NAME, reason: format!("reading confirmed rows: {e}") })?;
        confirmed.extend(rows);
    }
    confirmed.sort_by_key(|c| c.confirmed_at);
    let mut rules = PersonalRules::new();
    for c in confirmed {
        if let Some(category) = c.category_id {
            rules.learn(&c.user_id, &merchant_key(&c.description, c.counterparty.as_deref(), c.amount), &c.id, &category);
        }
    }
    Ok(rules)
}
