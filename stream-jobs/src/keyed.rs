//! A table that holds the latest row per key, materialised from a topic
//! of events: a row not seen before is appended, the same row again (same
//! event id) is a duplicate, a changed row replaces the stored one (a
//! MERGE on the key). The job keeps the table's rows in memory, rebuilt
//! from the table on every restore. The lender's five tables and the
//! `budgets` and `goals` tables are made this way.

use std::collections::HashMap;
use std::marker::PhantomData;

use arus_lakehouse::dead_letters::{dead_letter, decode};
use arus_lakehouse::kafka::BorrowedMessage;
use arus_lakehouse::query::read_rows;
use arus_lakehouse::UpdateSpec;
use arus_schemas::events::{check_schema_version, DeadLetterKind};
use arus_schemas::tables::TableDef;
use deltalake::DeltaTable;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::runner::{Job, JobError, Outcome};

/// One keyed table: which events make its rows and how.
pub trait KeyedTable: Send + 'static {
    type Event: DeserializeOwned;
    type Row: Serialize + DeserializeOwned + Clone + Send;
    const NAME: &'static str;
    const TABLE: &'static TableDef;
    const SOURCE: &'static str;
    /// The primary key column, then every other column (what a MERGE sets).
    const KEY: &'static [&'static str];
    const SET: &'static [&'static str];
    fn key(row: &Self::Row) -> &str;
    fn event_id(row: &Self::Row) -> &str;
    fn schema_version(event: &Self::Event) -> u32;
    /// Whose event it is (the dead letter's tenant).
    fn owner(event: &Self::Event) -> Option<String>;
    /// The row `event` makes, given the table's rows; `None` when the
    /// event is not for this table, `Err` refuses it.
    fn row(event: &Self::Event, stored: &HashMap<String, Self::Row>) -> Option<Result<Self::Row, String>>;
}

/// Materialises the table `T`.
pub struct TableJob<T: KeyedTable> {
    rows: HashMap<String, T::Row>,
    _table: PhantomData<T>,
}

impl<T: KeyedTable> Default for TableJob<T> {
    fn default() -> Self {
        TableJob { rows: HashMap::new(), _table: PhantomData }
    }
}

impl<T: KeyedTable> Job for TableJob<T> {
    type Row = T::Row;
    type Update = T::Row;
    const NAME: &'static str = T::NAME;
    const SOURCES: &'static [&'static str] = &[T::SOURCE];

    fn table(&self) -> &'static TableDef {
        T::TABLE
    }

    fn update_spec(&self) -> Option<UpdateSpec> {
        Some(UpdateSpec { keys: T::KEY, set: T::SET, insert: false })
    }

    async fn restore_state(&mut self, table: &DeltaTable) -> Result<(), JobError> {
        self.rows = read_rows::<T::Row>(table, T::TABLE.name).await?.into_iter().map(|r| (T::key(&r).to_owned(), r)).collect();
        tracing::info!(job = T::NAME, rows = self.rows.len(), "rows loaded");
        Ok(())
    }

    fn process(&mut self, msg: &BorrowedMessage<'_>) -> Outcome<T::Row, T::Row> {
        let event: T::Event = match decode(T::NAME, msg) {
            Ok(event) => event,
            Err(dead) => return Outcome::Dead(dead),
        };
        if let Err(e) = check_schema_version(T::schema_version(&event)) {
            return Outcome::Dead(Box::new(dead_letter(T::NAME, msg, DeadLetterKind::UnsupportedVersion, e.message, T::owner(&event))));
        }
        let row = match T::row(&event, &self.rows) {
            Some(Ok(row)) => row,
            Some(Err(reason)) => return Outcome::Dead(Box::new(dead_letter(T::NAME, msg, DeadLetterKind::Invalid, reason, T::owner(&event)))),
            None => return Outcome::Ignored,
        };
        let key = T::key(&row).to_owned();
        match self.rows.get(&key) {
            Some(stored) if T::event_id(stored) == T::event_id(&row) => Outcome::Duplicate,
            Some(_) => {
                self.rows.insert(key, row.clone());
                Outcome::Update(row)
            }
            None => {
                self.rows.insert(key, row.clone());
                Outcome::Row(row)
            }
        }
    }
}
