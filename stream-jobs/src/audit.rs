//! `audit`: materialises the audit trail (`arus.audit.v1`) into the
//! `audit_log` table, one row per record id.

use std::collections::HashSet;

use arus_lakehouse::kafka::BorrowedMessage;
use arus_lakehouse::query::for_each_string;
use arus_schemas::tables::{self, TableDef};
use arus_schemas::{topics, AuditRecord, Config};
use deltalake::DeltaTable;

use arus_lakehouse::dead_letters::decode;
use crate::runner::{Job, JobError, Outcome};

pub const NAME: &str = "audit";

pub struct AuditTrail {
    seen: HashSet<String>,
}

impl AuditTrail {
    pub fn new(_config: &Config) -> Self {
        AuditTrail { seen: HashSet::new() }
    }
}

impl Job for AuditTrail {
    type Row = AuditRecord;
    const NAME: &'static str = NAME;
    type Update = ();
    const SOURCES: &'static [&'static str] = &[topics::AUDIT];

    fn table(&self) -> &'static TableDef {
        &tables::AUDIT_LOG
    }

    async fn restore_state(&mut self, table: &DeltaTable) -> Result<(), JobError> {
        self.seen.clear();
        let seen = &mut self.seen;
        for_each_string(table, tables::AUDIT_LOG.name, "id", |id| {
            seen.insert(id.to_owned());
        })
        .await?;
        Ok(())
    }

    fn process(&mut self, msg: &BorrowedMessage<'_>) -> Outcome<AuditRecord> {
        match decode::<AuditRecord>(NAME, msg) {
            Ok(record) if self.seen.insert(record.id.clone()) => Outcome::Row(record),
            Ok(_) => Outcome::Duplicate,
            Err(dead) => Outcome::Dead(dead),
        }
    }
}
