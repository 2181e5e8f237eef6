//! `arus gen lending`: a micro-lender's five CSV files, generated (see
//! `arus_ml::lending`), with the planted quality problems listed in
//! `planted.json` beside them.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use chrono::NaiveDate;
use serde::Serialize;

#[derive(Debug, Clone, clap::Args)]
pub struct LendingArgs {
    /// Partners (customers) in the book.
    #[arg(long, default_value_t = 1_000)]
    pub customers: usize,
    /// Seed: the same seed and date give the same files.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// The day the book is drawn up (bills after it are not due yet).
    #[arg(long, default_value = "2026-11-20")]
    pub as_of: NaiveDate,
    /// Directory for customers.csv, loan_snapshots.csv, bills.csv, tasks.csv, task_participants.csv and planted.json.
    #[arg(long)]
    pub out: PathBuf,
}

fn write<T: Serialize>(dir: &Path, name: &str, rows: &[T]) -> Result<usize> {
    let path = dir.join(name);
    let mut out = csv::Writer::from_path(&path).with_context(|| format!("cannot write {}", path.display()))?;
    for row in rows {
        out.serialize(row)?;
    }
    out.flush()?;
    Ok(rows.len())
}

/// Writes the book and returns it (for callers that also need the rows).
pub fn lending(args: &LendingArgs) -> Result<arus_ml::lending::LendingData> {
    std::fs::create_dir_all(&args.out).with_context(|| format!("cannot create {}", args.out.display()))?;
    let data = arus_ml::lending::generate(args.customers, args.seed, args.as_of);
    let counts = [
        ("customers.csv", write(&args.out, "customers.csv", &data.customers)?),
        ("loan_snapshots.csv", write(&args.out, "loan_snapshots.csv", &data.loans)?),
        ("bills.csv", write(&args.out, "bills.csv", &data.bills)?),
        ("tasks.csv", write(&args.out, "tasks.csv", &data.tasks)?),
        ("task_participants.csv", write(&args.out, "task_participants.csv", &data.participants)?),
    ];
    std::fs::write(args.out.join("planted.json"), serde_json::to_string_pretty(&data.planted)?)?;
    for (name, rows) in counts {
        println!("{:<24} {rows:>10} rows", name);
    }
    println!("{:<24} {:>10} planted quality problems (file, line, check)", "planted.json", data.planted.len());
    Ok(data)
}
