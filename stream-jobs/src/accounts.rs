//! `accounts`: applies account events (`arus.account.v1`) to the `accounts`
//! table, one new revision per accepted event. A create for an id that
//! exists is a duplicate; an update or delete of an account that does not
//! exist, is deleted or belongs to another tenant becomes a dead letter.

use std::collections::HashMap;

use arus_lakehouse::kafka::BorrowedMessage;
use arus_lakehouse::query::read_rows;
use arus_schemas::events::{check_schema_version, DeadLetterKind};
use arus_schemas::tables::{self, TableDef};
use arus_schemas::{topics, Account, AccountEvent, AccountOp, Config};
use deltalake::DeltaTable;

use arus_lakehouse::dead_letters::{dead_letter, decode};
use crate::runner::{Job, JobError, Outcome};

pub const NAME: &str = "accounts";

/// State of the accounts job: the latest revision of every account.
pub struct Accounts {
    latest: HashMap<String, Account>,
}

impl Accounts {
    pub fn new(_config: &Config) -> Self {
        Accounts { latest: HashMap::new() }
    }
}

impl Job for Accounts {
    type Row = Account;
    const NAME: &'static str = NAME;
    type Update = ();
    const SOURCES: &'static [&'static str] = &[topics::ACCOUNT];

    fn table(&self) -> &'static TableDef {
        &tables::ACCOUNTS
    }

    async fn restore_state(&mut self, table: &DeltaTable) -> Result<(), JobError> {
        self.latest.clear();
        for row in read_rows::<Account>(table, tables::ACCOUNTS.name).await? {
            if self.latest.get(&row.account_id).is_none_or(|seen| seen.revision < row.revision) {
                self.latest.insert(row.account_id.clone(), row);
            }
        }
        tracing::info!(job = NAME, accounts = self.latest.len(), "accounts loaded");
        Ok(())
    }

    fn process(&mut self, msg: &BorrowedMessage<'_>) -> Outcome<Account> {
        let event: AccountEvent = match decode(NAME, msg) {
            Ok(event) => event,
            Err(dead) => return Outcome::Dead(dead),
        };
        let refuse = |reason: String| Outcome::Dead(Box::new(dead_letter(NAME, msg, DeadLetterKind::Invalid, reason, Some(event.user_id.clone()))));
        if let Err(e) = check_schema_version(event.schema_version) {
            return Outcome::Dead(Box::new(dead_letter(NAME, msg, DeadLetterKind::UnsupportedVersion, e.message, Some(event.user_id.clone()))));
        }
        if let Err(errors) = event.fields.validate(event.op == AccountOp::Create) {
            if event.op != AccountOp::Delete {
                return refuse(errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "));
            }
        }
        let next = match (event.op, self.latest.get(&event.account_id)) {
            (AccountOp::Create, Some(_)) => return Outcome::Duplicate,
            (AccountOp::Create, None) => match Account::created(&event) {
                Some(account) => account,
                None => return refuse("a new account needs name and kind".into()),
            },
            (_, Some(current)) if current.user_id == event.user_id && !current.deleted => current.apply(&event),
            (_, Some(current)) if current.deleted => return refuse(format!("account {} is deleted", event.account_id)),
            _ => return refuse(format!("no account {} for this user", event.account_id)),
        };
        self.latest.insert(next.account_id.clone(), next.clone());
        Outcome::Row(next)
    }
}
