//! `arus bench import`: how fast a statement is read and published, and how
//! much memory it takes, for a CSV and an XLSX export of `--rows` rows.
//!
//! The files are generated first (a BCA personal CSV; a Mandiri XLSX with
//! real date cells and numbers, written the way streaming spreadsheet
//! writers do), stored in the media store, then imported exactly as the
//! worker does ([`arus_ingest::import::Importer::run`]: read, key, check for
//! duplicates, publish every row to an embedded tansu broker and wait for
//! every acknowledgement). Rows/s is rows read over that time; peak memory
//! is the process's resident high-water mark during the import (reset
//! before each one through `/proc/self/clear_refs`).

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use arus_ingest::import::{media_path, Importer};
use arus_lakehouse::Lake;
use arus_schemas::imports::{ImportRequest, ImportStatus};
use arus_schemas::{Config, SCHEMA_VERSION};
use chrono::{Duration, NaiveDate};

use crate::broker::EmbeddedBroker;

#[derive(Debug, Clone, clap::Args)]
pub struct ImportArgs {
    /// Rows of each generated statement.
    #[arg(long, default_value_t = 1_000_000)]
    pub rows: u64,
    /// Formats to measure, comma-separated (csv, xlsx).
    #[arg(long, value_delimiter = ',', default_value = "csv,xlsx")]
    pub formats: Vec<String>,
    /// Port of the benchmark's own broker (memory storage).
    #[arg(long, default_value_t = 19193)]
    pub port: u16,
}

struct Figures {
    format: String,
    rows: i64,
    file_bytes: u64,
    seconds: f64,
    rss_before: u64,
    peak_rss: u64,
}

pub async fn run(config: Config, args: ImportArgs) -> Result<()> {
    if cfg!(debug_assertions) {
        eprintln!("warning: this is a debug build; figures are only meaningful with `cargo run --release`");
    }
    let dir = std::env::temp_dir().join(format!("arus-bench-import-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let broker = EmbeddedBroker::start(&config.tansu_bin, &dir.join("kafka"), args.port, "memory").await?;
    let result = measure(&config, &args, &dir, &broker.brokers).await;
    broker.stop().await?;
    let _ = std::fs::remove_dir_all(&dir);
    let figures = result?;
    println!("\narus bench import: {} rows per statement, parse + publish (acknowledged by tansu, memory storage), {} cores", args.rows, std::thread::available_parallelism().map_or(0, |n| n.get()));
    println!("{:<6} {:>10} {:>10} {:>9} {:>11} {:>14} {:>14}", "format", "rows", "file MB", "seconds", "rows/s", "RSS before MB", "peak RSS MB");
    for f in &figures {
        println!(
            "{:<6} {:>10} {:>10.1} {:>9.2} {:>11.0} {:>14.0} {:>14.0}",
            f.format, f.rows, f.file_bytes as f64 / 1e6, f.seconds, f.rows as f64 / f.seconds, f.rss_before as f64 / 1e6, f.peak_rss as f64 / 1e6
        );
    }
    println!("targets: CSV ≥ 200000 rows/s; peak RSS ≤ 300 MB");
    Ok(())
}

async fn measure(base: &Config, args: &ImportArgs, dir: &Path, brokers: &str) -> Result<Vec<Figures>> {
    let mut config = base.clone();
    config.kafka_brokers = brokers.to_owned();
    config.data_dir = PathBuf::from(dir);
    config.lake_uri = String::new();
    config.media_dir = PathBuf::new();
    config.topic_prefix = "bench.".into();
    config.import_max_bytes = u64::MAX;
    crate::up::create_topics(&config).await?;
    Lake::new(&config)?.ensure_all().await?;
    let importer = Importer::open(&config).await?;
    let mut figures = Vec::new();
    for format in &args.formats {
        let file = dir.join(format!("statement.{format}"));
        eprintln!("[{format}] writing {} rows…", args.rows);
        match format.as_str() {
            "csv" => write_csv(&file, args.rows)?,
            "xlsx" => write_xlsx(&file, args.rows)?,
            other => bail!("unknown format {other:?} (csv, xlsx)"),
        }
        let now = chrono::Utc::now();
        let import_id = uuid::Uuid::new_v4().to_string();
        let path = media_path(&import_id, now);
        let stored = importer.media().save_file(&path, &file, u64::MAX).await?;
        std::fs::remove_file(&file)?;
        let request = ImportRequest {
            schema_version: SCHEMA_VERSION,
            import_id,
            user_id: format!("bench-{format}"),
            account_id: Some(format!("bench-account-{format}")),
            bank: "auto".into(),
            mapping: None,
            file_name: format!("statement.{format}"),
            media_path: path,
            size_bytes: stored.size,
            sha256: stored.sha256,
            requested_by: Some("bench".into()),
            requested_at: now,
        };
        importer.record_pending(&request).await?;
        reset_peak_rss();
        let rss_before = memory("VmRSS:");
        eprintln!("[{format}] importing {} MB…", stored.size / 1_000_000);
        let started = Instant::now();
        let job = importer.run(&request, None, |_| {}).await.context("the import")?;
        let seconds = started.elapsed().as_secs_f64();
        let peak_rss = memory("VmHWM:");
        if job.status != ImportStatus::Completed || job.imported != args.rows as i64 {
            bail!("[{format}] the import did not complete cleanly: {:?} {:?}, {} of {} rows imported", job.status, job.error, job.imported, args.rows);
        }
        figures.push(Figures { format: format.clone(), rows: job.rows_read, file_bytes: stored.size, seconds, rss_before, peak_rss });
    }
    Ok(figures)
}

/// Resets the resident-memory high-water mark of this process (Linux).
fn reset_peak_rss() {
    if let Err(e) = std::fs::write("/proc/self/clear_refs", "5") {
        eprintln!("warning: cannot reset the peak RSS ({e}); the figure includes what came before");
    }
}

/// A `kB` line of `/proc/self/status`, in bytes.
fn memory(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with(field)).and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok()))
        .map_or(0, |kb| kb * 1024)
}

/// Row `i` of the synthetic statement: date, description, signed amount.
fn row(i: u64, rows: u64) -> (NaiveDate, String, i64) {
    const PLAIN: [&str; 8] = ["QRIS MIE GACOAN", "KARTU DEBIT INDOMARET", "BIAYA ADM", "TOPUP GOPAY", "BPJS KESEHATAN", "SHOPEE", "TOKOPEDIA", "BUNGA"];
    let start = NaiveDate::from_ymd_opt(2025, 11, 1).unwrap_or_default();
    let date = start + Duration::days((i * 365 / rows.max(1)) as i64);
    let description = match i % 4 {
        0 => format!("TRSF E-BANKING DB {:04}/FTSCY/WS{:05} BUDI SANTOSO", i % 10_000, i % 100_000),
        1 => format!("SWITCHING CR TRANSFER DR 014 PELANGGAN {i}"),
        _ => format!("{} {}", PLAIN[(i % 8) as usize], i % 997),
    };
    let amount = 1_000 * (1 + (i * 7_919) % 5_000) as i64;
    (date, description, if i % 4 == 1 { amount } else { -amount })
}

fn write_csv(path: &Path, rows: u64) -> Result<()> {
    let mut out = BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?);
    writeln!(out, "Informasi Rekening - Mutasi Rekening\nNo. rekening : ,'0123456789\nPeriode : ,01/11/2025 - 31/10/2026\n")?;
    writeln!(out, "Tanggal Transaksi,Keterangan,Cabang,Jumlah,,Saldo")?;
    let mut balance: i64 = 1_000_000_000;
    for i in 0..rows {
        let (date, description, amount) = row(i, rows);
        balance += amount;
        let side = if amount < 0 { "DB" } else { "CR" };
        writeln!(out, "'{},{description},'0000,{}.00,{side},{balance}.00", date.format("%d/%m/%Y"), amount.abs())?;
    }
    writeln!(out, "Saldo Awal,=1000000000.00\nSaldo Akhir,={balance}.00")?;
    out.flush()?;
    Ok(())
}

/// A Mandiri XLSX: shared strings for the header, inline strings for the
/// descriptions, dates as serial numbers in a date style, amounts as numbers.
fn write_xlsx(path: &Path, rows: u64) -> Result<()> {
    use zip::write::SimpleFileOptions;
    let file = BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?);
    let mut zip = zip::ZipWriter::new(file);
    let options = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated).large_file(true);
    let header = ["Tgl.", "Tgl. Val.", "Rincian Transaksi", "No. Referensi", "Debit", "Kredit", "Saldo", "Branch Code", "13700"];
    let parts: [(&str, String); 5] = [
        ("[Content_Types].xml", r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/><Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/><Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>"#.into()),
        ("_rels/.rels", r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>"#.into()),
        ("xl/workbook.xml", r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="Mutasi" sheetId="1" r:id="rId1"/></sheets></workbook>"#.into()),
        ("xl/_rels/workbook.xml.rels", r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/><Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" Target="styles.xml"/><Relationship Id="rId3" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings" Target="sharedStrings.xml"/></Relationships>"#.into()),
        ("xl/styles.xml", r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><fonts count="1"><font><sz val="11"/><name val="Calibri"/></font></fonts><fills count="1"><fill><patternFill patternType="none"/></fill></fills><borders count="1"><border/></borders><cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs><cellXfs count="2"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/><xf numFmtId="14" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/></cellXfs></styleSheet>"#.into()),
    ];
    for (name, text) in &parts {
        zip.start_file(*name, options)?;
        zip.write_all(text.as_bytes())?;
    }
    zip.start_file("xl/sharedStrings.xml", options)?;
    write!(zip, r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="{0}" uniqueCount="{0}">"#, header.len())?;
    for s in header {
        write!(zip, "<si><t>{s}</t></si>")?;
    }
    write!(zip, "</sst>")?;

    zip.start_file("xl/worksheets/sheet1.xml", options)?;
    let mut sheet = BufWriter::with_capacity(1 << 20, &mut zip);
    write!(sheet, r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><dimension ref="A1:H{}"/><sheetData>"#, rows + 1)?;
    write!(sheet, r#"<row r="1">"#)?;
    for (c, col) in ["A", "B", "C", "D", "E", "F", "G", "H"].iter().enumerate() {
        write!(sheet, r#"<c r="{col}1" t="s"><v>{c}</v></c>"#)?;
    }
    write!(sheet, "</row>")?;
    let epoch = NaiveDate::from_ymd_opt(1899, 12, 30).unwrap_or_default();
    let mut balance: i64 = 1_000_000_000;
    for i in 0..rows {
        let (date, description, amount) = row(i, rows);
        balance += amount;
        let serial = (date - epoch).num_days();
        let r = i + 2;
        let (debit, credit) = if amount < 0 { (-amount, 0) } else { (0, amount) };
        write!(
            sheet,
            r#"<row r="{r}"><c r="A{r}" s="1"><v>{serial}</v></c><c r="B{r}" s="1"><v>{serial}</v></c><c r="C{r}" t="inlineStr"><is><t>{description}</t></is></c><c r="D{r}" t="inlineStr"><is><t>FT{i:010}</t></is></c><c r="E{r}"><v>{debit}</v></c><c r="F{r}"><v>{credit}</v></c><c r="G{r}"><v>{balance}</v></c><c r="H{r}" t="s"><v>8</v></c></row>"#
        )?;
    }
    write!(sheet, "</sheetData></worksheet>")?;
    sheet.flush()?;
    drop(sheet);
    zip.finish()?.flush()?;
    Ok(())
}
