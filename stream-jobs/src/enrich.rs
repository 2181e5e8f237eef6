//! `enrich`: validates captured transactions (`arus.txn.raw.v1`), drops
//! repeats of an idempotency key, and writes the rest to `transactions`
//! with status `pending_category` (the classifier fills the category).
//! Invalid messages become dead letters; the job keeps going.

use std::collections::HashSet;

use arus_lakehouse::kafka::{BorrowedMessage, Message};
use arus_lakehouse::query::for_each_string;
use arus_schemas::events::{check_schema_version, transaction_uuid, DeadLetterKind};
use arus_schemas::tables::{self, TableDef};
use arus_schemas::{topics, Config, Transaction, TxnRaw};
use deltalake::DeltaTable;

use arus_lakehouse::dead_letters::{dead_letter, decode};
use crate::runner::{Job, JobError, Outcome};

pub const NAME: &str = "enrich";

/// State of the enrich job: the ids already in `transactions`.
pub struct Enrich {
    seen: HashSet<u128>,
}

impl Enrich {
    pub fn new(_config: &Config) -> Self {
        Enrich { seen: HashSet::new() }
    }
}

impl Job for Enrich {
    type Row = Transaction;
    const NAME: &'static str = NAME;
    const SOURCE: &'static str = topics::TXN_RAW;

    fn table(&self) -> &'static TableDef {
        &tables::TRANSACTIONS
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
        tracing::info!(job = NAME, known_ids = self.seen.len(), "idempotency keys loaded");
        Ok(())
    }

    fn process(&mut self, msg: &BorrowedMessage<'_>) -> Outcome<Transaction> {
        let raw: TxnRaw = match decode(NAME, msg) {
            Ok(raw) => raw,
            Err(dead) => return Outcome::Dead(dead),
        };
        let now = chrono::Utc::now();
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
        Outcome::Row(Transaction::from_raw(raw, now, msg.partition(), msg.offset()))
    }
}
