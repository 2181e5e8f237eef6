//! `dlq`: materialises the dead-letter topic into the `dlq` table, one row
//! per dead letter id (a reprocessed message yields the same id, so it is
//! stored once). A message on the DLQ topic that is itself malformed is
//! stored as a dead letter about that message, never sent back to the topic.

use std::collections::HashSet;

use arus_lakehouse::kafka::BorrowedMessage;
use arus_lakehouse::query::for_each_string;
use arus_schemas::tables::{self, TableDef};
use arus_schemas::{topics, Config, DeadLetter};
use deltalake::DeltaTable;

use arus_lakehouse::dead_letters::decode;
use crate::runner::{Job, JobError, Outcome};

pub const NAME: &str = "dlq";

pub struct DeadLetterSink {
    seen: HashSet<String>,
}

impl DeadLetterSink {
    pub fn new(_config: &Config) -> Self {
        DeadLetterSink { seen: HashSet::new() }
    }
}

impl Job for DeadLetterSink {
    type Row = DeadLetter;
    const NAME: &'static str = NAME;
    type Update = ();
    const SOURCES: &'static [&'static str] = &[topics::DLQ];

    fn table(&self) -> &'static TableDef {
        &tables::DLQ
    }

    async fn restore_state(&mut self, table: &DeltaTable) -> Result<(), JobError> {
        self.seen.clear();
        let seen = &mut self.seen;
        for_each_string(table, "dlq", "id", |id| {
            seen.insert(id.to_owned());
        })
        .await?;
        Ok(())
    }

    fn process(&mut self, msg: &BorrowedMessage<'_>) -> Outcome<DeadLetter> {
        let letter = match decode::<DeadLetter>(NAME, msg) {
            Ok(letter) => letter,
            Err(about_this_message) => *about_this_message,
        };
        if self.seen.insert(letter.id.clone()) {
            Outcome::Row(letter)
        } else {
            Outcome::Duplicate
        }
    }
}
