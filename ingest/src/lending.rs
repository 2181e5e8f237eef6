//! The lender's five CSV files, read and checked before anything is
//! published (the brief's GX-style expectations, DOMAIN.md "Quality
//! checks"): mandatory fields present (`customer_number`, `loan_id`,
//! `bill_id`, `task_id`), primary keys unique (`customer_number`, `loan_id`,
//! `bill_id`, `task_id`), every `bills.loan_id` in the loans, and values of
//! the right type. A participant of a task the files do not have is kept
//! and reported (`orphan_task`), as the brief says; every other violation
//! rejects its row. Every violation names its file and line.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use arus_lakehouse::{AppendLog, Kafka, Lake};
use arus_schemas::events::{DeadLetterKind, PayloadEncoding};
use arus_schemas::lending::{fnv1a, Bill, Customer, DqResult, LendingEvent, LendingRecord, LoanSnapshot, Task, TaskParticipant};
use arus_schemas::{tables, topics, Config, DeadLetter, SCHEMA_VERSION};
use chrono::{DateTime, NaiveDate, Utc};
use serde::de::DeserializeOwned;
use serde::Serialize;

pub const CUSTOMERS: &str = "customers.csv";
pub const LOANS: &str = "loan_snapshots.csv";
pub const BILLS: &str = "bills.csv";
pub const TASKS: &str = "tasks.csv";
pub const PARTICIPANTS: &str = "task_participants.csv";

/// One broken expectation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Violation {
    pub file: &'static str,
    /// 1-based line (the header is line 1); 0 for the file as a whole.
    pub line: usize,
    /// `missing_file`, `missing_column`, `missing_field`, `invalid_value`,
    /// `duplicate_key`, `unknown_loan`, `orphan_task`.
    pub check: &'static str,
    pub column: String,
    pub message: String,
    /// Whether the row is kept anyway (orphan participants).
    pub kept: bool,
    /// The row as read (the CSV line, or the parsed row as JSON), for the
    /// dead letter of a rejected row; empty for a file-level problem.
    #[serde(skip)]
    pub row: String,
}

/// The rows that passed, per file.
#[derive(Debug, Clone, Default)]
pub struct LendingRows {
    pub customers: Vec<(usize, Customer)>,
    pub loans: Vec<(usize, LoanSnapshot)>,
    pub bills: Vec<(usize, Bill)>,
    pub tasks: Vec<(usize, Task)>,
    pub participants: Vec<(usize, TaskParticipant)>,
}

/// What reading the files came to.
#[derive(Debug, Clone, Default)]
pub struct Checked {
    pub rows: LendingRows,
    pub violations: Vec<Violation>,
    /// Rows read per file (header excluded), in file order.
    pub read: Vec<(&'static str, usize)>,
}

#[derive(Debug, thiserror::Error)]
pub enum LendingError {
    #[error("{file}: {source}")]
    Csv { file: String, source: csv::Error },
}

fn violation(file: &'static str, line: usize, check: &'static str, column: &str, message: String) -> Violation {
    Violation { file, line, check, column: column.to_owned(), message, kept: false, row: String::new() }
}

/// A CSV record as one line of text.
fn record_text(record: &csv::StringRecord) -> String {
    let mut out = csv::WriterBuilder::new().has_headers(false).from_writer(Vec::new());
    let _ = out.write_record(record);
    String::from_utf8_lossy(&out.into_inner().unwrap_or_default()).trim_end().to_owned()
}

fn json_text<T: Serialize>(row: &T) -> String {
    serde_json::to_string(row).unwrap_or_default()
}

/// Reads `file` in `dir` as `T` rows, checking that `mandatory` columns are
/// there and filled. Returns the rows that parsed with their lines.
fn read<T: DeserializeOwned>(dir: &Path, file: &'static str, mandatory: &[&str], violations: &mut Vec<Violation>) -> Result<(Vec<(usize, T)>, usize), LendingError> {
    let path = dir.join(file);
    if !path.exists() {
        violations.push(violation(file, 0, "missing_file", "", format!("{} is missing", path.display())));
        return Ok((Vec::new(), 0));
    }
    let csv_error = |source| LendingError::Csv { file: path.display().to_string(), source };
    let mut reader = csv::ReaderBuilder::new().flexible(true).from_path(&path).map_err(csv_error)?;
    let headers = reader.headers().map_err(csv_error)?.clone();
    let mut columns = Vec::new();
    for name in mandatory {
        match headers.iter().position(|h| h.trim() == *name) {
            Some(i) => columns.push((*name, i)),
            None => {
                violations.push(violation(file, 1, "missing_column", name, format!("the header has no {name} column")));
                return Ok((Vec::new(), 0));
            }
        }
    }
    let (mut rows, mut read) = (Vec::new(), 0);
    for (i, record) in reader.records().enumerate() {
        let line = i + 2;
        read += 1;
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                violations.push(violation(file, line, "invalid_value", "", format!("not a CSV row: {e}")));
                continue;
            }
        };
        let missing: Vec<&str> = columns.iter().filter(|(_, i)| record.get(*i).is_none_or(|v| v.trim().is_empty())).map(|(n, _)| *n).collect();
        if !missing.is_empty() {
            for name in missing {
                violations.push(Violation { row: record_text(&record), ..violation(file, line, "missing_field", name, format!("{name} is empty")) });
            }
            continue;
        }
        match record.deserialize::<T>(Some(&headers)) {
            Ok(row) => rows.push((line, row)),
            Err(e) => {
                let column = match e.kind() {
                    csv::ErrorKind::Deserialize { err, .. } => err.field().and_then(|f| headers.get(f as usize)).unwrap_or("").to_owned(),
                    _ => String::new(),
                };
                violations.push(Violation { row: record_text(&record), ..violation(file, line, "invalid_value", &column, e.to_string()) });
            }
        }
    }
    Ok((rows, read))
}

/// Keeps the first row of every key; later ones are `duplicate_key`.
fn unique<T: Serialize>(file: &'static str, column: &str, rows: Vec<(usize, T)>, key: impl Fn(&T) -> &str, violations: &mut Vec<Violation>) -> Vec<(usize, T)> {
    let mut seen: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    let mut kept = Vec::with_capacity(rows.len());
    for (line, row) in rows {
        let k = key(&row).to_owned();
        match seen.get(&k) {
            Some(first) => violations.push(Violation {
                row: json_text(&row),
                ..violation(file, line, "duplicate_key", column, format!("{column} {k} is on line {first} already"))
            }),
            None => {
                seen.insert(k, line);
                kept.push((line, row));
            }
        }
    }
    kept
}

/// Reads the five files in `dir` and checks them.
pub fn check(dir: &Path) -> Result<Checked, LendingError> {
    let mut v = Vec::new();
    let (customers, n_customers) = read::<Customer>(dir, CUSTOMERS, &["customer_number"], &mut v)?;
    let (loans, n_loans) = read::<LoanSnapshot>(dir, LOANS, &["loan_id", "customer_number"], &mut v)?;
    let (bills, n_bills) = read::<Bill>(dir, BILLS, &["bill_id", "loan_id"], &mut v)?;
    let (tasks, n_tasks) = read::<Task>(dir, TASKS, &["task_id"], &mut v)?;
    let (participants, n_participants) = read::<TaskParticipant>(dir, PARTICIPANTS, &["id", "task_id", "participant_id"], &mut v)?;
    let customers = unique(CUSTOMERS, "customer_number", customers, |c| &c.customer_number, &mut v);
    let loans = unique(LOANS, "loan_id", loans, |l| &l.loan_id, &mut v);
    let bills = unique(BILLS, "bill_id", bills, |b| &b.bill_id, &mut v);
    let tasks = unique(TASKS, "task_id", tasks, |t| &t.task_id, &mut v);
    let loan_ids: HashSet<&str> = loans.iter().map(|(_, l)| l.loan_id.as_str()).collect();
    let mut known_bills = Vec::with_capacity(bills.len());
    for (line, bill) in bills {
        if loan_ids.contains(bill.loan_id.as_str()) {
            known_bills.push((line, bill));
        } else {
            v.push(Violation { row: json_text(&bill), ..violation(BILLS, line, "unknown_loan", "loan_id", format!("loan {} is not in {LOANS}", bill.loan_id)) });
        }
    }
    let task_ids: HashSet<&str> = tasks.iter().map(|(_, t)| t.task_id.as_str()).collect();
    for (line, p) in &participants {
        if !task_ids.contains(p.task_id.as_str()) {
            v.push(Violation { kept: true, ..violation(PARTICIPANTS, *line, "orphan_task", "task_id", format!("task {} is not in {TASKS}; the row is kept", p.task_id)) });
        }
    }
    v.sort_by(|a, b| (a.file, a.line).cmp(&(b.file, b.line)));
    Ok(Checked {
        rows: LendingRows { customers, loans, bills: known_bills, tasks, participants },
        violations: v,
        read: vec![(CUSTOMERS, n_customers), (LOANS, n_loans), (BILLS, n_bills), (TASKS, n_tasks), (PARTICIPANTS, n_participants)],
    })
}

/// Rows read, published and refused per file, for the report.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct FileSummary {
    pub file: &'static str,
    pub read: usize,
    pub published: usize,
    pub rejected: usize,
    /// Published with a flag (orphan participants).
    pub flagged: usize,
}

/// What `arus lending load` did: the report on the terminal, in the JSON
/// file and (its violations) in the `dq_results` table.
#[derive(Debug, Clone, Serialize)]
pub struct LoadReport {
    pub run_id: String,
    pub dir: String,
    pub as_of: NaiveDate,
    pub files: Vec<FileSummary>,
    pub violations: Vec<Violation>,
    pub events: usize,
    pub dead_letters: usize,
    pub checked_at: DateTime<Utc>,
}

/// How a load is going, for a progress bar.
#[derive(Debug, Clone, Copy)]
pub enum LoadProgress {
    Checked { events: usize },
    Published { done: usize, total: usize },
}

/// Why a load stopped.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error(transparent)]
    Read(#[from] LendingError),
    #[error(transparent)]
    Kafka(#[from] arus_lakehouse::KafkaClientError),
    #[error(transparent)]
    Lake(#[from] arus_lakehouse::LakeError),
    #[error("{0}")]
    Task(String),
}

/// The checked rows as events, one customer's together (the customer,
/// their loans, their loans' bills; all but the last `more_follow`), then
/// tasks and participants. A participant's customer is its loan's.
pub fn events(rows: &LendingRows, violations: &[Violation], as_of: NaiveDate) -> Vec<LendingEvent> {
    let owner: HashMap<&str, &str> = rows.loans.iter().map(|(_, l)| (l.loan_id.as_str(), l.customer_number.as_str())).collect();
    // One customer's events together, customers in order of first appearance.
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut groups: Vec<Vec<LendingEvent>> = Vec::new();
    let mut push = |e: LendingEvent| {
        let key = e.customer_number.clone().unwrap_or_default();
        let i = *index.entry(key).or_insert_with(|| {
            groups.push(Vec::new());
            groups.len() - 1
        });
        groups[i].push(e);
    };
    let event = |file: &str, line: usize, customer: Option<&str>, record: LendingRecord| LendingEvent {
        schema_version: SCHEMA_VERSION,
        id: LendingEvent::id_of(&record),
        customer_number: customer.map(str::to_owned),
        as_of,
        source: format!("csv:{file}:{line}"),
        more_follow: false,
        task_missing: false,
        record,
    };
    for (line, c) in &rows.customers {
        push(event(CUSTOMERS, *line, Some(&c.customer_number), LendingRecord::Customer(c.clone())));
    }
    for (line, l) in &rows.loans {
        push(event(LOANS, *line, Some(&l.customer_number), LendingRecord::Loan(l.clone())));
    }
    for (line, b) in &rows.bills {
        push(event(BILLS, *line, owner.get(b.loan_id.as_str()).copied(), LendingRecord::Bill(b.clone())));
    }
    let mut out = Vec::with_capacity(rows.customers.len() + rows.loans.len() + rows.bills.len() + rows.tasks.len() + rows.participants.len());
    for mut group in groups {
        let n = group.len();
        for (i, e) in group.iter_mut().enumerate() {
            e.more_follow = i + 1 < n;
        }
        out.extend(group);
    }
    for (line, t) in &rows.tasks {
        out.push(event(TASKS, *line, None, LendingRecord::Task(t.clone())));
    }
    let orphans: HashSet<usize> = violations.iter().filter(|v| v.file == PARTICIPANTS && v.check == "orphan_task").map(|v| v.line).collect();
    for (line, p) in &rows.participants {
        let customer = owner.get(p.participant_id.as_str()).copied();
        let mut e = event(PARTICIPANTS, *line, customer, LendingRecord::Participant(p.clone()));
        e.task_missing = orphans.contains(line);
        out.push(e);
    }
    out
}

/// The dead letters of the rejected rows: one per row, all its violations
/// in the reason. The id depends on the file, line and row only, so a
/// second load of the same files yields the same dead letters.
pub fn dead_letters(violations: &[Violation], lending_topic: &str, as_of: NaiveDate) -> Vec<DeadLetter> {
    let mut by_row: Vec<(&'static str, usize, Vec<&Violation>)> = Vec::new();
    for v in violations.iter().filter(|v| !v.kept && v.line > 1) {
        match by_row.last_mut() {
            Some((f, l, vs)) if *f == v.file && *l == v.line => vs.push(v),
            _ => by_row.push((v.file, v.line, vec![v])),
        }
    }
    by_row
        .into_iter()
        .map(|(file, line, vs)| {
            let row = vs[0].row.clone();
            let reasons: Vec<String> = vs.iter().map(|v| format!("{}: {}", v.check, v.message)).collect();
            DeadLetter {
                schema_version: SCHEMA_VERSION,
                id: format!("lending/{file}/{line}/{:016x}", fnv1a(row.as_bytes())),
                user_id: None,
                job: LOAD_JOB.to_owned(),
                source_topic: lending_topic.to_owned(),
                source_partition: -1,
                source_offset: -1,
                source_key: Some(format!("{file}:{line}")),
                error_kind: DeadLetterKind::Invalid,
                error: format!("{file} line {line} (as of {as_of}): {}", reasons.join("; ")),
                payload: row,
                payload_encoding: PayloadEncoding::Utf8,
                failed_at: Utc::now(),
            }
        })
        .collect()
}

/// The name dead letters of `arus lending load` carry.
pub const LOAD_JOB: &str = "lending-load";

/// Checks the five files in `dir` and loads them: violations to
/// `dq_results`, rejected rows to the dead-letter topic, the rest to
/// `arus.lending.v1`, with `progress` told along the way.
pub async fn load(config: &Config, dir: &Path, as_of: NaiveDate, progress: impl Fn(LoadProgress) + Send + 'static) -> Result<LoadReport, LoadError> {
    let checked_at = Utc::now();
    let owned = dir.to_owned();
    let (checked, events) = tokio::task::spawn_blocking(move || {
        let checked = check(&owned)?;
        let events = events(&checked.rows, &checked.violations, as_of);
        Ok::<_, LendingError>((checked, events))
    })
    .await
    .map_err(|e| LoadError::Task(e.to_string()))??;
    progress(LoadProgress::Checked { events: events.len() });
    let run_id = uuid::Uuid::new_v4().to_string();
    let lake = Lake::new(config)?;
    let mut results = AppendLog::<DqResult>::open(&lake, &tables::DQ_RESULTS).await?;
    let rows: Vec<DqResult> = checked
        .violations
        .iter()
        .map(|v| DqResult {
            run_id: run_id.clone(),
            file: v.file.to_owned(),
            line: v.line as i64,
            check: v.check.to_owned(),
            column: v.column.clone(),
            message: v.message.clone(),
            action: if v.kept { "kept" } else { "rejected" }.to_owned(),
            checked_at,
        })
        .collect();
    if !rows.is_empty() {
        results.append_retrying(&rows).await?;
    }
    let kafka = Kafka::new(config)?;
    let producer = kafka.producer()?;
    let lending_topic = config.topic(topics::LENDING);
    let dlq_topic = config.topic(topics::DLQ);
    let letters = dead_letters(&checked.violations, &lending_topic, as_of);
    let sends = letters.iter().map(|d| producer.send_detached(&dlq_topic, d.source_key.clone().unwrap_or_default(), serde_json::to_vec(d).expect("dead letters serialise")));
    futures::future::try_join_all(sends).await?;
    let total = events.len();
    let mut done = 0;
    for chunk in events.chunks(5_000) {
        let sends = chunk.iter().map(|e| producer.send_detached(&lending_topic, e.partition_key().to_owned(), serde_json::to_vec(e).expect("events serialise")));
        futures::future::try_join_all(sends).await?;
        done += chunk.len();
        progress(LoadProgress::Published { done, total });
    }
    let rows = &checked.rows;
    let published = [rows.customers.len(), rows.loans.len(), rows.bills.len(), rows.tasks.len(), rows.participants.len()];
    let files = checked
        .read
        .iter()
        .zip(published)
        .map(|((file, read), published)| {
            let rejected: HashSet<usize> = checked.violations.iter().filter(|v| v.file == *file && !v.kept && v.line > 1).map(|v| v.line).collect();
            let flagged = checked.violations.iter().filter(|v| v.file == *file && v.kept).count();
            FileSummary { file, read: *read, published, rejected: rejected.len(), flagged }
        })
        .collect();
    Ok(LoadReport {
        run_id,
        dir: dir.display().to_string(),
        as_of,
        files,
        violations: checked.violations,
        events: total,
        dead_letters: letters.len(),
        checked_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write<T: Serialize>(dir: &Path, name: &str, rows: &[T]) {
        let mut out = csv::Writer::from_path(dir.join(name)).unwrap();
        for r in rows {
            out.serialize(r).unwrap();
        }
        out.flush().unwrap();
    }

    #[test]
    fn every_planted_problem_is_reported_with_file_and_line_and_clean_rows_all_load() {
        let dir = tempfile::tempdir().unwrap();
        let data = arus_ml::lending::generate(1_500, 11, chrono::NaiveDate::from_ymd_opt(2026, 11, 20).unwrap());
        write(dir.path(), CUSTOMERS, &data.customers);
        write(dir.path(), LOANS, &data.loans);
        write(dir.path(), BILLS, &data.bills);
        write(dir.path(), TASKS, &data.tasks);
        write(dir.path(), PARTICIPANTS, &data.participants);
        let checked = check(dir.path()).unwrap();
        let found: Vec<(&str, usize, &str)> = checked.violations.iter().map(|v| (v.file, v.line, v.check)).collect();
        let mut planted: Vec<(&str, usize, &str)> = data.planted.iter().map(|p| (p.file, p.line, p.check)).collect();
        planted.sort();
        let mut sorted = found.clone();
        sorted.sort();
        assert_eq!(sorted, planted, "exactly the planted problems");
        // Everything else loads: rejected rows are the planted ones except the kept orphans.
        let rejected = data.planted.iter().filter(|p| p.check != "orphan_task").count();
        let by_file = |f: &str| data.planted.iter().filter(|p| p.file == f && p.check != "orphan_task").count();
        assert_eq!(checked.rows.customers.len(), data.customers.len() - by_file(CUSTOMERS));
        assert_eq!(checked.rows.loans.len(), data.loans.len() - by_file(LOANS));
        assert_eq!(checked.rows.bills.len(), data.bills.len() - by_file(BILLS));
        assert_eq!(checked.rows.tasks.len(), data.tasks.len() - by_file(TASKS));
        assert_eq!(checked.rows.participants.len(), data.participants.len(), "orphans are kept");
        assert_eq!(rejected, 9);
    }

    #[test]
    fn bad_values_missing_columns_and_files_are_named() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(LOANS), "loan_id,customer_number,principal_amount,outstanding_amount,dpd\nL1,C1,5000000,100,abc\nL2,C1,1jt,0,0\n").unwrap();
        std::fs::write(dir.path().join(BILLS), "bill_id,amount\nB1,100\n").unwrap();
        let checked = check(dir.path()).unwrap();
        let found: Vec<(&str, usize, &str, &str)> = checked.violations.iter().map(|v| (v.file, v.line, v.check, v.column.as_str())).collect();
        assert_eq!(
            found,
            vec![
                (BILLS, 1, "missing_column", "loan_id"),
                (CUSTOMERS, 0, "missing_file", ""),
                (LOANS, 2, "invalid_value", "dpd"),
                (LOANS, 3, "invalid_value", "principal_amount"),
                (PARTICIPANTS, 0, "missing_file", ""),
                (TASKS, 0, "missing_file", ""),
            ]
        );
    }
}
