//! The lender's five tables (`customers`, `loans`, `bills`, `tasks`,
//! `task_participants`), materialised from `arus.lending.v1` by one job
//! each (`lending-customers`, …) as keyed tables ([`crate::keyed`]): the
//! latest row per primary key, and a payment updates its bill's
//! `paid_amount` and `bill_paid_date`.

use std::collections::HashMap;

use arus_schemas::lending::{BillRow, CustomerRow, LendingEvent, LendingRecord, LoanRow, ParticipantRow, TaskRow};
use arus_schemas::tables::{self, TableDef};
use arus_schemas::topics;
use chrono::Utc;
use serde::de::DeserializeOwned;
use serde::Serialize;

pub use crate::keyed::TableJob;
use crate::keyed::KeyedTable;

/// One of the five tables: which events make its rows and how.
pub trait LendingTable: Send + 'static {
    type Row: Serialize + DeserializeOwned + Clone + Send;
    const NAME: &'static str;
    const TABLE: &'static TableDef;
    /// The primary key column, then every other column (what a MERGE sets).
    const KEY: &'static [&'static str];
    const SET: &'static [&'static str];
    fn key(row: &Self::Row) -> &str;
    fn event_id(row: &Self::Row) -> &str;
    /// The row `event` makes; `None` when the event is not for this table.
    fn row(event: &LendingEvent) -> Option<Self::Row>;
    /// Applies a payment to the stored row (bills only): `Err` refuses it.
    fn pay(_event: &LendingEvent, _stored: Option<&Self::Row>) -> Option<Result<Self::Row, String>> {
        None
    }
}

impl<T: LendingTable> KeyedTable for T {
    type Event = LendingEvent;
    type Row = T::Row;
    const NAME: &'static str = T::NAME;
    const TABLE: &'static TableDef = T::TABLE;
    const SOURCE: &'static str = topics::LENDING;
    const KEY: &'static [&'static str] = T::KEY;
    const SET: &'static [&'static str] = T::SET;
    fn key(row: &T::Row) -> &str {
        T::key(row)
    }
    fn event_id(row: &T::Row) -> &str {
        T::event_id(row)
    }
    fn schema_version(event: &LendingEvent) -> u32 {
        event.schema_version
    }
    fn owner(event: &LendingEvent) -> Option<String> {
        event.customer_number.clone()
    }
    fn row(event: &LendingEvent, stored: &HashMap<String, T::Row>) -> Option<Result<T::Row, String>> {
        T::pay(event, stored.get(event.record.key())).or_else(|| T::row(event).map(Ok))
    }
}

/// Columns every lending table ends with.
macro_rules! origin {
    ($event:expr) => {
        (($event).id.clone(), ($event).source.clone(), ($event).as_of, Utc::now())
    };
}

pub struct Customers;
impl LendingTable for Customers {
    type Row = CustomerRow;
    const NAME: &'static str = "lending-customers";
    const TABLE: &'static TableDef = &tables::CUSTOMERS;
    const KEY: &'static [&'static str] = &["customer_number"];
    const SET: &'static [&'static str] = &["date_of_birth", "marital_status", "religion", "purpose", "event_id", "source", "as_of", "updated_at"];
    fn key(row: &CustomerRow) -> &str {
        &row.customer_number
    }
    fn event_id(row: &CustomerRow) -> &str {
        &row.event_id
    }
    fn row(event: &LendingEvent) -> Option<CustomerRow> {
        let LendingRecord::Customer(c) = &event.record else { return None };
        let (event_id, source, as_of, updated_at) = origin!(event);
        Some(CustomerRow {
            customer_number: c.customer_number.clone(),
            date_of_birth: c.date_of_birth,
            marital_status: c.marital_status.clone(),
            religion: c.religion.clone(),
            purpose: c.purpose.clone(),
            event_id,
            source,
            as_of,
            updated_at,
        })
    }
}

pub struct Loans;
impl LendingTable for Loans {
    type Row = LoanRow;
    const NAME: &'static str = "lending-loans";
    const TABLE: &'static TableDef = &tables::LOANS;
    const KEY: &'static [&'static str] = &["loan_id"];
    const SET: &'static [&'static str] = &["customer_number", "principal_amount", "outstanding_amount", "dpd", "event_id", "source", "as_of", "updated_at"];
    fn key(row: &LoanRow) -> &str {
        &row.loan_id
    }
    fn event_id(row: &LoanRow) -> &str {
        &row.event_id
    }
    fn row(event: &LendingEvent) -> Option<LoanRow> {
        let LendingRecord::Loan(l) = &event.record else { return None };
        let (event_id, source, as_of, updated_at) = origin!(event);
        Some(LoanRow {
            loan_id: l.loan_id.clone(),
            customer_number: l.customer_number.clone(),
            principal_amount: l.principal_amount,
            outstanding_amount: l.outstanding_amount,
            dpd: l.dpd,
            event_id,
            source,
            as_of,
            updated_at,
        })
    }
}

pub struct Bills;
impl LendingTable for Bills {
    type Row = BillRow;
    const NAME: &'static str = "lending-bills";
    const TABLE: &'static TableDef = &tables::BILLS;
    const KEY: &'static [&'static str] = &["bill_id"];
    const SET: &'static [&'static str] =
        &["loan_id", "customer_number", "bill_scheduled_date", "bill_paid_date", "amount", "paid_amount", "event_id", "source", "as_of", "updated_at"];
    fn key(row: &BillRow) -> &str {
        &row.bill_id
    }
    fn event_id(row: &BillRow) -> &str {
        &row.event_id
    }
    fn row(event: &LendingEvent) -> Option<BillRow> {
        let LendingRecord::Bill(b) = &event.record else { return None };
        let (event_id, source, as_of, updated_at) = origin!(event);
        Some(BillRow {
            bill_id: b.bill_id.clone(),
            loan_id: b.loan_id.clone(),
            customer_number: event.customer_number.clone(),
            bill_scheduled_date: b.bill_scheduled_date,
            bill_paid_date: b.bill_paid_date,
            amount: b.amount,
            paid_amount: b.paid_amount,
            event_id,
            source,
            as_of,
            updated_at,
        })
    }
    fn pay(event: &LendingEvent, stored: Option<&BillRow>) -> Option<Result<BillRow, String>> {
        let LendingRecord::Payment(p) = &event.record else { return None };
        let Some(stored) = stored else {
            return Some(Err(format!("payment for bill {}, which is not in the bills table", p.bill_id)));
        };
        if let Err(reason) = p.check(stored.loan_id.as_str(), stored.amount) {
            return Some(Err(reason));
        }
        let (event_id, source, as_of, updated_at) = origin!(event);
        Some(Ok(BillRow { bill_paid_date: Some(p.paid_date), paid_amount: p.paid_amount, event_id, source, as_of, updated_at, ..stored.clone() }))
    }
}

pub struct Tasks;
impl LendingTable for Tasks {
    type Row = TaskRow;
    const NAME: &'static str = "lending-tasks";
    const TABLE: &'static TableDef = &tables::TASKS;
    const KEY: &'static [&'static str] = &["task_id"];
    const SET: &'static [&'static str] = &["officer_id", "group_id", "task_type", "scheduled_date", "status", "event_id", "source", "as_of", "updated_at"];
    fn key(row: &TaskRow) -> &str {
        &row.task_id
    }
    fn event_id(row: &TaskRow) -> &str {
        &row.event_id
    }
    fn row(event: &LendingEvent) -> Option<TaskRow> {
        let LendingRecord::Task(t) = &event.record else { return None };
        let (event_id, source, as_of, updated_at) = origin!(event);
        Some(TaskRow {
            task_id: t.task_id.clone(),
            officer_id: t.officer_id.clone(),
            group_id: t.group_id.clone(),
            task_type: t.task_type.clone(),
            scheduled_date: t.scheduled_date,
            status: t.status.clone(),
            event_id,
            source,
            as_of,
            updated_at,
        })
    }
}

pub struct Participants;
impl LendingTable for Participants {
    type Row = ParticipantRow;
    const NAME: &'static str = "lending-participants";
    const TABLE: &'static TableDef = &tables::TASK_PARTICIPANTS;
    const KEY: &'static [&'static str] = &["id"];
    const SET: &'static [&'static str] = &[
        "task_id", "participant_type", "participant_id", "is_face_matched", "is_qr_matched", "payment_amount", "customer_number", "task_missing", "event_id",
        "source", "as_of", "updated_at",
    ];
    fn key(row: &ParticipantRow) -> &str {
        &row.id
    }
    fn event_id(row: &ParticipantRow) -> &str {
        &row.event_id
    }
    fn row(event: &LendingEvent) -> Option<ParticipantRow> {
        let LendingRecord::Participant(p) = &event.record else { return None };
        let (event_id, source, as_of, updated_at) = origin!(event);
        Some(ParticipantRow {
            id: p.id.clone(),
            task_id: p.task_id.clone(),
            participant_type: p.participant_type.clone(),
            participant_id: p.participant_id.clone(),
            is_face_matched: p.is_face_matched,
            is_qr_matched: p.is_qr_matched,
            payment_amount: p.payment_amount,
            customer_number: event.customer_number.clone(),
            task_missing: event.task_missing,
            event_id,
            source,
            as_of,
            updated_at,
        })
    }
}
