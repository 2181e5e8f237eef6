//! `arus ocr`: read one photo (`arus ocr read FILE`), and score the reader
//! on labelled receipts (`arus ocr eval --dir` for SROIE-layout photos,
//! `--text-dir` for the parser alone on CORD-layout OCR text).

use std::path::PathBuf;
use std::sync::Mutex;

use anyhow::{bail, Context, Result};
use arus_ingest::ocr::engine::{self, EngineKind, EngineOptions};
use arus_ingest::ocr::eval::{self, SroieResult};
use arus_ingest::ocr::prepare::{Binarize, PrepareOptions};
use arus_ingest::ocr::receipt::Receipt;
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

#[derive(clap::Args, Debug, Clone)]
pub struct EngineArgs {
    /// Tesseract through its library (`lib`) or its command line (`cli`).
    #[arg(long, default_value = "lib")]
    pub engine: EngineKind,
    /// Tesseract language models.
    #[arg(long, default_value = "ind+eng")]
    pub languages: String,
    /// Tesseract page segmentation mode.
    #[arg(long, default_value_t = 6)]
    pub psm: u8,
    /// Height in pixels the text is scaled to before reading.
    #[arg(long, default_value_t = 20.0)]
    pub char_height: f32,
    /// Binarise: never, auto (uneven lighting only), always.
    #[arg(long, default_value = "auto")]
    pub binarize: String,
    /// Do not measure and undo the skew.
    #[arg(long)]
    pub no_deskew: bool,
}

impl EngineArgs {
    fn options(&self) -> Result<(EngineKind, EngineOptions, PrepareOptions)> {
        let binarize = match self.binarize.as_str() {
            "never" => Binarize::Never,
            "auto" => Binarize::Auto,
            "always" => Binarize::Always,
            other => bail!("--binarize {other:?}: never, auto or always"),
        };
        let prepare = PrepareOptions { char_height: self.char_height, binarize, deskew: !self.no_deskew, ..PrepareOptions::default() };
        Ok((self.engine, EngineOptions { languages: self.languages.clone(), psm: self.psm, tessdata: None }, prepare))
    }
}

#[derive(clap::Args, Debug)]
pub struct ReadArgs {
    /// A photo or scan of a receipt (JPEG, PNG, WebP).
    pub file: PathBuf,
    #[command(flatten)]
    pub engine: EngineArgs,
    /// Print the fields and the lines read as JSON.
    #[arg(long)]
    pub json: bool,
    /// The file is OCR text already: parse it only.
    #[arg(long)]
    pub text: bool,
}

#[derive(clap::Args, Debug)]
pub struct EvalArgs {
    /// A SROIE-layout folder: img/*.jpg and key/*.json (company, date, address, total).
    #[arg(long, conflicts_with = "text_dir", required_unless_present = "text_dir")]
    pub dir: Option<PathBuf>,
    /// A CORD-layout folder of *.json with ocr_raw.full_text: scores the parser alone.
    #[arg(long)]
    pub text_dir: Option<PathBuf>,
    #[command(flatten)]
    pub engine: EngineArgs,
    /// Receipts read side by side (one Tesseract each); seconds are per receipt either way.
    #[arg(long, default_value_t = 1)]
    pub jobs: usize,
    /// List every receipt a field was missed on, with what was read.
    #[arg(long)]
    pub misses: bool,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

/// `arus ocr read FILE`.
pub fn read(args: &ReadArgs) -> Result<()> {
    let (kind, engine_options, prepare) = args.engine.options()?;
    let bytes = std::fs::read(&args.file).with_context(|| format!("reading {}", args.file.display()))?;
    if args.text {
        let text = String::from_utf8_lossy(&bytes);
        let receipt = arus_ingest::ocr::receipt::parse(&arus_ingest::ocr::Page::from_text(&text));
        if args.json {
            println!("{}", serde_json::to_string_pretty(&receipt)?);
        } else {
            print_receipt(&receipt);
        }
        return Ok(());
    }
    let mut recognizer = engine::open(kind, &engine_options)?;
    let started = std::time::Instant::now();
    let reading = arus_ingest::ocr::read(&bytes, recognizer.as_mut(), &prepare).map_err(|e| anyhow::anyhow!("{}: {e} ({})", args.file.display(), e.code()))?;
    let seconds = started.elapsed().as_secs_f64();
    if args.json {
        #[derive(Serialize)]
        struct Out<'a> {
            receipt: &'a Receipt,
            prepared: &'a arus_ingest::ocr::PreparedInfo,
            page_confidence: f32,
            lines: Vec<(&'a str, f32)>,
            seconds: f64,
        }
        let out = Out { receipt: &reading.receipt, prepared: &reading.prepared, page_confidence: reading.page.confidence(), lines: reading.page.lines.iter().map(|l| (l.text.as_str(), l.confidence)).collect(), seconds };
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    for line in &reading.page.lines {
        println!("{:>4.0}%  {}", line.confidence * 100.0, line.text);
    }
    println!();
    print_receipt(&reading.receipt);
    let p = &reading.prepared;
    println!("\n{}×{} px, scaled ×{:.2}, skew {:.1}°, {}; read in {seconds:.2} s", p.width, p.height, p.scale, p.skew_degrees, if p.binarized { "binarised" } else { "grayscale" });
    Ok(())
}

fn print_receipt(r: &Receipt) {
    let row = |name: &str, value: Option<(String, f32)>| match value {
        Some((v, c)) => println!("{name:<15} {v:<40} {:>3.0}%", c * 100.0),
        None => println!("{name:<15} -"),
    };
    row("merchant", r.merchant.as_ref().map(|f| (f.value.clone(), f.confidence)));
    row("date", r.date.as_ref().map(|f| (format!("{} ({})", f.value, f.text), f.confidence)));
    row("time", r.time.as_ref().map(|f| (f.value.to_string(), f.confidence)));
    for (name, field) in [("total", &r.total), ("subtotal", &r.subtotal), ("tax", &r.tax), ("rounding", &r.rounding), ("discount", &r.discount), ("service", &r.service), ("paid", &r.paid), ("change", &r.change)] {
        row(name, field.as_ref().map(|f| (format!("{} ({})", f.value, f.text), f.confidence)));
    }
    row("payment method", r.payment_method.as_ref().map(|f| (f.value.as_str().to_owned(), f.confidence)));
    row("currency", r.currency.as_ref().map(|f| (f.value.clone(), f.confidence)));
    for item in &r.items {
        let q = item.quantity.map(|q| format!("{q} × ")).unwrap_or_default();
        println!("  item          {q}{:<34} {}", item.name, item.total);
    }
}

/// Per-field scores of one run.
#[derive(Debug, Serialize)]
pub struct FieldScore {
    pub field: &'static str,
    pub correct: usize,
    pub total: usize,
    pub accuracy: f64,
}

/// What `arus ocr eval` found.
#[derive(Debug, Serialize)]
pub struct EvalReport {
    pub layout: &'static str,
    pub receipts: usize,
    pub fields: Vec<FieldScore>,
    /// Seconds per receipt (photos only).
    pub seconds_p50: Option<f64>,
    pub seconds_p95: Option<f64>,
    pub seconds_mean: Option<f64>,
    pub unreadable: Vec<String>,
    #[serde(skip)]
    pub misses: Vec<String>,
}

fn score(field: &'static str, correct: usize, total: usize) -> FieldScore {
    FieldScore { field, correct, total, accuracy: if total == 0 { 0.0 } else { correct as f64 / total as f64 } }
}

fn progress(len: usize) -> ProgressBar {
    let bar = ProgressBar::new(len as u64);
    if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        bar.set_style(ProgressStyle::with_template("{bar:40} {pos}/{len} receipts, {eta} left").expect("template"));
    } else {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    bar
}

/// `arus ocr eval`.
pub fn eval(args: &EvalArgs) -> Result<EvalReport> {
    if let Some(dir) = &args.text_dir {
        return eval_text(dir, args.misses);
    }
    let dir = args.dir.as_ref().context("--dir or --text-dir")?;
    let cases = eval::sroie_cases(dir).map_err(anyhow::Error::msg)?;
    let (kind, engine_options, prepare) = args.engine.options()?;
    let jobs = args.jobs.max(1).min(cases.len());
    let bar = progress(cases.len());
    let next = Mutex::new(0usize);
    let results = Mutex::new(Vec::<SroieResult>::with_capacity(cases.len()));
    std::thread::scope(|scope| -> Result<()> {
        let mut workers = Vec::new();
        for _ in 0..jobs {
            let mut recognizer = engine::open(kind, &engine_options)?;
            let (cases, next, results, bar, prepare) = (&cases, &next, &results, &bar, &prepare);
            workers.push(scope.spawn(move || loop {
                let i = {
                    let mut n = next.lock().expect("lock");
                    let i = *n;
                    *n += 1;
                    i
                };
                let Some(case) = cases.get(i) else { break };
                let result = eval::score_sroie(case, recognizer.as_mut(), prepare);
                results.lock().expect("lock").push(result);
                bar.inc(1);
            }));
        }
        for w in workers {
            w.join().map_err(|_| anyhow::anyhow!("an OCR worker panicked"))?;
        }
        Ok(())
    })?;
    bar.finish_and_clear();
    let mut results = results.into_inner().expect("lock");
    results.sort_by(|a, b| a.name.cmp(&b.name));
    let n = results.len();
    let count = |f: fn(&SroieResult) -> bool| results.iter().filter(|r| f(r)).count();
    let mut seconds: Vec<f64> = results.iter().map(|r| r.seconds).collect();
    seconds.sort_by(f64::total_cmp);
    let mut misses = Vec::new();
    if args.misses {
        let by_name: std::collections::HashMap<&str, &eval::SroieCase> = cases.iter().map(|c| (c.name.as_str(), c)).collect();
        for r in &results {
            let key = &by_name[r.name.as_str()].key;
            let got = |f: Option<&str>| f.unwrap_or("-").to_owned();
            if !r.company {
                misses.push(format!("{} company: want {:?}, read {:?}", r.name, key.company, got(r.receipt.merchant.as_ref().map(|m| m.text.as_str()))));
            }
            if !r.date {
                misses.push(format!("{} date: want {:?}, read {:?}", r.name, key.date, got(r.receipt.date.as_ref().map(|m| m.text.as_str()))));
            }
            if !r.total {
                misses.push(format!("{} total: want {:?}, read {:?}", r.name, key.total, got(r.receipt.total.as_ref().map(|m| m.text.as_str()))));
            }
        }
    }
    Ok(EvalReport {
        layout: "sroie",
        receipts: n,
        fields: vec![score("company", count(|r| r.company), n), score("date", count(|r| r.date), n), score("address", count(|r| r.address), n), score("total", count(|r| r.total), n), score("total amount", count(|r| r.total_amount), n)],
        seconds_p50: Some(eval::percentile(&seconds, 0.5)),
        seconds_p95: Some(eval::percentile(&seconds, 0.95)),
        seconds_mean: Some(seconds.iter().sum::<f64>() / n.max(1) as f64),
        unreadable: results.iter().filter_map(|r| r.error.as_ref().map(|e| format!("{}: {e}", r.name))).collect(),
        misses,
    })
}

fn eval_text(dir: &std::path::Path, want_misses: bool) -> Result<EvalReport> {
    let cases = eval::cord_cases(dir).map_err(anyhow::Error::msg)?;
    let (mut total, mut merchant, mut date) = (0, 0, 0);
    let labelled_merchant = cases.iter().filter(|c| !c.merchant.trim().is_empty()).count();
    let labelled_date = cases.iter().filter(|c| chrono::NaiveDate::parse_from_str(&c.date, "%Y-%m-%d").is_ok()).count();
    let mut misses = Vec::new();
    for case in &cases {
        let (t, m, d, receipt) = eval::score_cord(case);
        total += usize::from(t);
        merchant += usize::from(m);
        date += usize::from(d);
        if want_misses && !t {
            misses.push(format!("{} total: want {:?}, read {:?}", case.name, case.total.map(|a| a.to_string()), receipt.total.as_ref().map(|f| f.text.as_str())));
        }
    }
    Ok(EvalReport {
        layout: "cord-text",
        receipts: cases.len(),
        fields: vec![score("total", total, cases.len()), score("merchant", merchant, labelled_merchant), score("date", date, labelled_date)],
        seconds_p50: None,
        seconds_p95: None,
        seconds_mean: None,
        unreadable: Vec::new(),
        misses,
    })
}

pub fn print_eval(report: &EvalReport) {
    println!("{} receipts ({} layout)", report.receipts, report.layout);
    println!("{:<13} {:>9} {:>9}", "field", "exact", "accuracy");
    for f in &report.fields {
        println!("{:<13} {:>4}/{:<4} {:>8.1}%", f.field, f.correct, f.total, f.accuracy * 100.0);
    }
    if let (Some(p50), Some(p95), Some(mean)) = (report.seconds_p50, report.seconds_p95, report.seconds_mean) {
        println!("seconds per receipt: p50 {p50:.2}, p95 {p95:.2}, mean {mean:.2}");
    }
    for u in &report.unreadable {
        println!("unreadable: {u}");
    }
    for m in &report.misses {
        println!("miss: {m}");
    }
}
