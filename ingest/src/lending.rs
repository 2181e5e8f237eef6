//! The lender's five CSV files, read and checked before anything is
//! published (the brief's GX-style expectations, DOMAIN.md "Quality
//! checks"): mandatory fields present (`customer_number`, `loan_id`,
//! `bill_id`, `task_id`), primary keys unique (`customer_number`, `loan_id`,
//! `bill_id`, `task_id`), every `bills.loan_id` in the loans, and values of
//! the right type. A participant of a task the files do not have is kept
//! and reported (`orphan_task`), as the brief says; every other violation
//! rejects its row. Every violation names its file and line.

use std::collections::HashSet;
use std::path::Path;

use arus_schemas::lending::{Bill, Customer, LoanSnapshot, Task, TaskParticipant};
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
    Violation { file, line, check, column: column.to_owned(), message, kept: false }
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
                violations.push(violation(file, line, "missing_field", name, format!("{name} is empty")));
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
                violations.push(violation(file, line, "invalid_value", &column, e.to_string()));
            }
        }
    }
    Ok((rows, read))
}

/// Keeps the first row of every key; later ones are `duplicate_key`.
fn unique<T>(file: &'static str, column: &str, rows: Vec<(usize, T)>, key: impl Fn(&T) -> &str, violations: &mut Vec<Violation>) -> Vec<(usize, T)> {
    let mut seen: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    let mut kept = Vec::with_capacity(rows.len());
    for (line, row) in rows {
        let k = key(&row).to_owned();
        match seen.get(&k) {
            Some(first) => violations.push(violation(file, line, "duplicate_key", column, format!("{column} {k} is on line {first} already"))),
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
            v.push(violation(BILLS, line, "unknown_loan", "loan_id", format!("loan {} is not in {LOANS}", bill.loan_id)));
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
