//! `arus forecast eval`: rolling-origin evaluation of arus's forecaster
//! (`arus_ml::forecast`) against seasonal-naive on any CSV of series.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use arus_ml::forecast::{evaluate, Evaluation};

#[derive(Debug, clap::Args)]
pub struct EvalArgs {
    /// The CSV file.
    #[arg(long)]
    pub csv: PathBuf,
    /// Column naming the series (one series when absent).
    #[arg(long)]
    pub id_col: Option<String>,
    /// Column with the date (rows are sorted by it as text: use ISO dates).
    #[arg(long)]
    pub date_col: String,
    /// Column with the value.
    #[arg(long)]
    pub value_col: String,
    /// Steps forecast from each origin.
    #[arg(long)]
    pub horizon: usize,
    /// Season length in steps (12 for monthly data with a yearly pattern, 7 for daily with a weekly one).
    #[arg(long)]
    pub season: usize,
    /// Rolling origins per series: the last `horizon` held out, then `horizon` earlier, …
    #[arg(long, default_value_t = 3)]
    pub origins: usize,
    /// Print the results as JSON.
    #[arg(long)]
    pub json: bool,
}

/// The series of the file, by id, values in date order.
fn series(args: &EvalArgs) -> Result<BTreeMap<String, Vec<f64>>> {
    let mut reader = csv::Reader::from_path(&args.csv).with_context(|| format!("reading {}", args.csv.display()))?;
    let headers = reader.headers()?.clone();
    let column = |name: &str| headers.iter().position(|h| h == name).with_context(|| format!("{} has no column {name:?} (columns: {})", args.csv.display(), headers.iter().collect::<Vec<_>>().join(", ")));
    let (date, value) = (column(&args.date_col)?, column(&args.value_col)?);
    let id = args.id_col.as_deref().map(column).transpose()?;
    let mut rows: BTreeMap<String, Vec<(String, f64)>> = BTreeMap::new();
    for (i, record) in reader.records().enumerate() {
        let record = record.with_context(|| format!("line {}", i + 2))?;
        let v: f64 = record.get(value).unwrap_or("").trim().parse().with_context(|| format!("line {}: {} is not a number", i + 2, args.value_col))?;
        let key = id.map_or(String::new(), |c| record.get(c).unwrap_or("").to_owned());
        rows.entry(key).or_default().push((record.get(date).unwrap_or("").to_owned(), v));
    }
    if rows.is_empty() {
        bail!("{} has no rows", args.csv.display());
    }
    Ok(rows
        .into_iter()
        .map(|(k, mut v)| {
            v.sort_by(|a, b| a.0.cmp(&b.0));
            (k, v.into_iter().map(|(_, x)| x).collect())
        })
        .collect())
}

/// Evaluates every series; those too short are listed with the reason.
pub fn eval(args: &EvalArgs) -> Result<Vec<(String, Result<Evaluation, String>)>> {
    Ok(series(args)?.into_iter().map(|(id, y)| (id, evaluate(&y, args.horizon, args.season, args.origins).map_err(|e| e.to_string()))).collect())
}

pub fn print(args: &EvalArgs, results: &[(String, Result<Evaluation, String>)]) {
    println!("rolling-origin evaluation: horizon {}, season {}, up to {} origins per series", args.horizon, args.season, args.origins);
    println!("{:<16} {:>6} {:>7} {:>9} {:>11} {:>9} {:>11} {:>7}  methods", "series", "obs", "origins", "MASE", "naive MASE", "sMAPE %", "naive sMAPE", "ratio");
    let mut ok = Vec::new();
    for (id, r) in results {
        let name = if id.is_empty() { "(all rows)" } else { id };
        match r {
            Ok(e) => {
                let methods = e.methods.iter().map(|(m, n)| format!("{}×{n}", m.as_str())).collect::<Vec<_>>().join(" ");
                println!(
                    "{name:<16} {:>6} {:>7} {:>9.3} {:>11.3} {:>9.2} {:>11.2} {:>7.3}  {methods}",
                    e.observations, e.origins, e.mase, e.naive_mase, e.smape, e.naive_smape, e.mase / e.naive_mase
                );
                ok.push(e);
            }
            Err(why) => println!("{name:<16} skipped: {why}"),
        }
    }
    if ok.len() > 1 {
        let mean = |f: fn(&Evaluation) -> f64| ok.iter().map(|e| f(e)).filter(|v| v.is_finite()).sum::<f64>() / ok.len() as f64;
        let (m, n) = (mean(|e| e.mase), mean(|e| e.naive_mase));
        println!("{:<16} {:>6} {:>7} {m:>9.3} {n:>11.3} {:>9.2} {:>11.2} {:>7.3}", "overall (mean)", ok.len(), "", mean(|e| e.smape), mean(|e| e.naive_smape), m / n);
    }
}
