//! `arus ml`: the labelled corpus, the evaluation of the classifier on any
//! labelled file, and training and storing the global classifier.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use arus_lakehouse::models::{ModelStore, NewModel};
use arus_lakehouse::query::select_where;
use arus_lakehouse::Lake;
use arus_ml::classifier::{transaction_text, Classifier, Labelled, Settings};
use arus_ml::metrics::Evaluation;
use arus_ml::rng::Rng;
use arus_schemas::models::{ModelRecord, CLASSIFIER};
use arus_schemas::{tables, Config, TransactionStatus};
use datafusion::prelude::{col, lit};
use serde::Serialize;

#[derive(clap::Args, Debug)]
pub struct CorpusArgs {
    /// Folder to write `train.csv` and `heldout.csv` into.
    #[arg(long)]
    pub out: PathBuf,
}

#[derive(clap::Args, Debug)]
pub struct EvalArgs {
    /// A CSV file with a header row: a text column, a label column and optionally an amount column.
    #[arg(long)]
    pub data: PathBuf,
    #[arg(long, default_value = "text")]
    pub text_col: String,
    #[arg(long, default_value = "label")]
    pub label_col: String,
    /// Signed amounts (money in positive), as plain numbers or written rupiah (`-Rp 45.000`).
    #[arg(long)]
    pub amount_col: Option<String>,
    /// Share of the rows held out for testing (the rest trains).
    #[arg(long, default_value_t = 0.3)]
    pub test_fraction: f64,
    /// Seed of the split and of training.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Test on this file instead (same columns); all of --data trains.
    #[arg(long)]
    pub test: Option<PathBuf>,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(clap::Args, Debug)]
pub struct TrainArgs {
    /// Skip scoring a model trained without the held-out merchants (saves half the time).
    #[arg(long)]
    pub no_eval: bool,
}

/// `arus ml corpus`: writes the training and held-out splits.
pub fn corpus(args: &CorpusArgs) -> Result<()> {
    std::fs::create_dir_all(&args.out).with_context(|| format!("creating {}", args.out.display()))?;
    let train = arus_ml::training::corpus_train();
    let held = arus_ml::training::heldout();
    for (name, rows) in [("train.csv", &train), ("heldout.csv", &held)] {
        let path = args.out.join(name);
        std::fs::write(&path, arus_ml::corpus::to_csv(rows)).with_context(|| format!("writing {}", path.display()))?;
        println!("{}: {} rows", path.display(), rows.len());
    }
    Ok(())
}

/// A labelled row read from a file.
struct Row {
    text: String,
    amount: Option<i64>,
    label: String,
}

/// Reads `path`'s labelled rows; a row without a label is skipped and
/// counted, an unreadable amount is an error naming the line.
fn read_rows(path: &Path, args: &EvalArgs) -> Result<(Vec<Row>, usize)> {
    let mut reader = csv::ReaderBuilder::new().flexible(true).from_path(path).with_context(|| format!("opening {}", path.display()))?;
    let headers = reader.headers().with_context(|| format!("reading the header of {}", path.display()))?.clone();
    let find = |name: &str| -> Result<usize> {
        headers.iter().position(|h| h.trim() == name).with_context(|| {
            format!("{} has no column {name:?} (its columns: {})", path.display(), headers.iter().collect::<Vec<_>>().join(", "))
        })
    };
    let (text, label) = (find(&args.text_col)?, find(&args.label_col)?);
    let amount = args.amount_col.as_deref().map(find).transpose()?;
    let (mut rows, mut unlabelled) = (Vec::new(), 0);
    for (i, record) in reader.records().enumerate() {
        let line = i + 2;
        let record = record.with_context(|| format!("{} line {line}", path.display()))?;
        let label_text = record.get(label).unwrap_or("").trim();
        if label_text.is_empty() {
            unlabelled += 1;
            continue;
        }
        let amount = match amount.and_then(|a| record.get(a)).map(str::trim).filter(|a| !a.is_empty()) {
            None => None,
            Some(a) => Some(match a.parse::<i64>() {
                Ok(n) => n,
                Err(_) => arus_ingest::money::parse_rupiah(a).map(|m| m.rupiah).map_err(|e| anyhow::anyhow!("{} line {line}: amount {a:?}: {e}", path.display()))?,
            }),
        };
        rows.push(Row { text: record.get(text).unwrap_or("").to_owned(), amount, label: label_text.to_owned() });
    }
    if rows.is_empty() {
        bail!("{} has no labelled rows", path.display());
    }
    Ok((rows, unlabelled))
}

fn labelled(rows: &[Row]) -> Vec<Labelled<'_>> {
    rows.iter().map(|r| Labelled { text: &r.text, amount: r.amount, label: &r.label }).collect()
}

/// What `arus ml eval` measured.
#[derive(Debug, Serialize)]
pub struct EvalReport {
    pub train_rows: usize,
    pub test_rows: usize,
    pub skipped_unlabelled: usize,
    pub labels: usize,
    pub training_seconds: f64,
    /// Single thread, one transaction at a time (text to features to label).
    pub predictions_per_second: f64,
    pub evaluation: Evaluation,
}

/// `arus ml eval`: trains from scratch on the training rows only and scores
/// the test rows.
pub fn eval(args: &EvalArgs) -> Result<EvalReport> {
    if !(args.test_fraction > 0.0 && args.test_fraction < 1.0) && args.test.is_none() {
        bail!("--test-fraction must be between 0 and 1 (exclusive)");
    }
    let (rows, mut skipped) = read_rows(&args.data, args)?;
    let (train, test): (Vec<Row>, Vec<Row>) = match &args.test {
        Some(path) => {
            let (test, more) = read_rows(path, args)?;
            skipped += more;
            (rows, test)
        }
        None => {
            let mut rows = rows;
            Rng::new(args.seed).shuffle(&mut rows);
            let n_test = ((rows.len() as f64 * args.test_fraction).round() as usize).clamp(1, rows.len().saturating_sub(1).max(1));
            let train = rows.split_off(n_test);
            (train, rows)
        }
    };
    if train.is_empty() {
        bail!("nothing left to train on: the file has {} labelled row(s)", test.len());
    }
    let settings = Settings { train: arus_ml::logistic::TrainConfig { seed: args.seed, ..Default::default() }, ..Settings::default() };
    let spinner = spinner(&format!("training on {} rows", train.len()), args.json);
    let started = Instant::now();
    let classifier = Classifier::train(&labelled(&train), &settings)?;
    let training_seconds = started.elapsed().as_secs_f64();
    spinner.finish_and_clear();
    let test_rows = labelled(&test);
    let evaluation = classifier.evaluate(&test_rows);
    let predictions_per_second = predictions_per_second(&classifier, &test_rows);
    Ok(EvalReport {
        train_rows: train.len(),
        test_rows: test.len(),
        skipped_unlabelled: skipped,
        labels: evaluation.per_class.len(),
        training_seconds,
        predictions_per_second,
        evaluation,
    })
}

/// Predictions per second on one thread, one row at a time, over at least
/// half a second of repeats.
fn predictions_per_second(classifier: &Classifier, rows: &[Labelled<'_>]) -> f64 {
    let started = Instant::now();
    let mut done = 0usize;
    let mut sink = 0usize;
    while started.elapsed() < Duration::from_millis(500) || done == 0 {
        for row in rows {
            sink ^= classifier.predict(row.text, row.amount).class;
        }
        done += rows.len();
    }
    std::hint::black_box(sink);
    done as f64 / started.elapsed().as_secs_f64()
}

fn spinner(message: &str, quiet: bool) -> indicatif::ProgressBar {
    if quiet {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new_spinner().with_message(message.to_owned());
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

/// Prints an evaluation as a table.
pub fn print_eval(report: &EvalReport) {
    let e = &report.evaluation;
    println!(
        "trained on {} rows ({} labels) in {:.1} s; tested on {} rows{}",
        report.train_rows,
        report.labels,
        report.training_seconds,
        report.test_rows,
        if report.skipped_unlabelled > 0 { format!(" ({} rows without a label skipped)", report.skipped_unlabelled) } else { String::new() }
    );
    println!("accuracy          {:.4}", e.accuracy);
    println!("macro-F1          {:.4}", e.macro_f1);
    println!("calibration error {:.4} (expected, 10 bins)", e.calibration_error);
    println!("predictions/s     {:.0} (one thread, one at a time)", report.predictions_per_second);
    println!();
    println!("{:<28} {:>9} {:>7} {:>6} {:>7}", "label", "precision", "recall", "F1", "support");
    for c in &e.per_class {
        println!("{:<28} {:>9.3} {:>7.3} {:>6.3} {:>7}", c.label, c.precision, c.recall, c.f1, c.support);
    }
}

/// What `arus ml train` stored.
#[derive(Debug)]
pub struct TrainReport {
    pub record: ModelRecord,
    pub heldout: Option<Evaluation>,
    pub training_seconds: f64,
}

/// `arus ml train`: the global classifier from the corpus and every row
/// people confirmed, stored as the next version in the `models` table.
/// Running `enrich` jobs pick it up within `model_poll_ms`.
pub async fn train(config: &Config, evaluate: bool, quiet: bool) -> Result<TrainReport> {
    #[derive(serde::Deserialize)]
    struct Confirmed {
        description: String,
        counterparty: Option<String>,
        amount: i64,
        category_id: Option<String>,
    }
    let lake = Lake::new(config)?;
    let table = lake.open_or_create(&tables::TRANSACTIONS).await?;
    let columns = ["description", "counterparty", "amount", "category_id"];
    let batches = select_where(&table, col("status").eq(lit(TransactionStatus::UserConfirmed.as_str())), Some(&columns[..])).await?;
    let mut confirmed: Vec<(String, i64, String)> = Vec::new();
    for batch in &batches {
        let rows: Vec<Confirmed> = serde_arrow::from_record_batch(batch).context("reading confirmed transactions")?;
        confirmed.extend(rows.into_iter().filter_map(|r| {
            let category = r.category_id?;
            Some((transaction_text(&r.description, r.counterparty.as_deref()).into_owned(), r.amount, category))
        }));
    }
    let spinner = spinner(&format!("training on the corpus and {} confirmed rows", confirmed.len()), quiet);
    let started = Instant::now();
    let trained = tokio::task::spawn_blocking(move || {
        let rows: Vec<Labelled> = confirmed.iter().map(|(t, a, l)| Labelled { text: t, amount: Some(*a), label: l }).collect();
        arus_ml::training::train_global(&rows, &Settings::default(), evaluate)
    })
    .await?;
    let training_seconds = started.elapsed().as_secs_f64();
    spinner.finish_and_clear();
    let bytes = trained.classifier.to_bytes();
    let metrics = serde_json::json!({
        "heldout": trained.heldout,
        "temperature": trained.classifier.temperature(),
        "training_seconds": training_seconds,
    });
    let mut store = ModelStore::open(&lake).await?;
    let record = store
        .save(NewModel {
            kind: CLASSIFIER.into(),
            bytes,
            labels: trained.classifier.labels().to_vec(),
            corpus_rows: trained.corpus_rows as i64,
            confirmed_rows: trained.confirmed_rows as i64,
            heldout_accuracy: trained.heldout.as_ref().map(|e| e.accuracy),
            heldout_macro_f1: trained.heldout.as_ref().map(|e| e.macro_f1),
            metrics,
            created_by: std::env::var("USER").ok(),
        })
        .await?;
    Ok(TrainReport { record, heldout: trained.heldout, training_seconds })
}

/// `arus ml models`: every stored classifier version, newest first.
pub async fn models(config: &Config) -> Result<Vec<ModelRecord>> {
    let lake = Lake::new(config)?;
    Ok(ModelStore::open(&lake).await?.versions(CLASSIFIER).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(data: &Path) -> EvalArgs {
        EvalArgs {
            data: data.to_owned(),
            text_col: "memo".into(),
            label_col: "kind".into(),
            amount_col: Some("value".into()),
            test_fraction: 0.3,
            seed: 7,
            test: None,
            json: true,
        }
    }

    #[test]
    fn any_labels_in_any_language_are_trained_and_scored() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mine.csv");
        let mut text = String::from("memo,kind,value\n");
        let places = [("coffee at", "eating out", "-4.50"), ("lunch at", "eating out", "-12"), ("uber to", "travel", "-30"), ("train ticket", "travel", "-55")];
        for i in 0..200 {
            let (what, kind, value) = places[i % places.len()];
            text.push_str(&format!("{what} place {i},{kind},{value}\n"));
        }
        text.push_str("no label here,,-1\n");
        std::fs::write(&path, text).unwrap();
        let report = eval(&args(&path)).unwrap();
        assert_eq!((report.train_rows, report.test_rows, report.skipped_unlabelled, report.labels), (140, 60, 1, 2));
        assert!(report.evaluation.accuracy > 0.95, "{}", report.evaluation.accuracy);
        assert!(report.predictions_per_second > 0.0);
        let labels: Vec<&str> = report.evaluation.per_class.iter().map(|c| c.label.as_str()).collect();
        assert_eq!(labels, ["eating out", "travel"]);
    }

    #[test]
    fn a_missing_column_or_a_bad_amount_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.csv");
        std::fs::write(&path, "memo,kind\nx,y\n").unwrap();
        let e = eval(&args(&path)).unwrap_err().to_string();
        assert!(e.contains("no column \"value\"") && e.contains("memo, kind"), "{e}");
        std::fs::write(&path, "memo,kind,value\nx,y,1\nz,w,lots\n").unwrap();
        let e = eval(&args(&path)).unwrap_err().to_string();
        assert!(e.contains("line 3") && e.contains("lots"), "{e}");
    }
}
