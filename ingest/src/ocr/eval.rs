//! Scoring the reader on labelled receipts.
//!
//! - SROIE layout (`img/*.jpg`, `key/*.json` with `company`, `date`,
//!   `address`, `total`): each field is right when the text we read equals
//!   the label after trimming and upper-casing (SROIE's rule), plus seconds
//!   per receipt.
//! - CORD text layout (`*.json` with `ocr_raw.full_text` and
//!   `transaction.total`): the parser alone on OCR text. The labels keep
//!   some rupiah totals divided by 1000 (`22.000` stored as `22.0`), so a
//!   total is right when it equals the label or the label × 1000.

use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::Deserialize;

use super::amounts::Amount;
use super::engine::Recognizer;
use super::prepare::PrepareOptions;
use super::receipt::{self, Receipt};
use super::{read, Page};

/// One SROIE receipt.
#[derive(Debug, Clone)]
pub struct SroieCase {
    pub name: String,
    pub image: PathBuf,
    pub key: SroieKey,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct SroieKey {
    #[serde(default)]
    pub company: String,
    #[serde(default)]
    pub date: String,
    #[serde(default)]
    pub address: String,
    #[serde(default)]
    pub total: String,
}

/// SROIE's comparison: trimmed, upper-cased, equal.
pub fn same_text(ours: Option<&str>, label: &str) -> bool {
    ours.is_some_and(|o| o.trim().to_uppercase() == label.trim().to_uppercase())
}

/// The labelled receipts of a SROIE-layout folder, by name.
pub fn sroie_cases(dir: &Path) -> Result<Vec<SroieCase>, String> {
    let img = dir.join("img");
    let key = dir.join("key");
    let entries = std::fs::read_dir(&img).map_err(|e| format!("{}: {e} (expected img/*.jpg and key/*.json)", img.display()))?;
    let mut cases = Vec::new();
    for entry in entries {
        let path = entry.map_err(|e| e.to_string())?.path();
        let is_image = path.extension().and_then(|e| e.to_str()).is_some_and(|e| matches!(e.to_ascii_lowercase().as_str(), "jpg" | "jpeg" | "png" | "webp"));
        if !is_image {
            continue;
        }
        let name = path.file_stem().and_then(|s| s.to_str()).unwrap_or_default().to_owned();
        let key_path = key.join(format!("{name}.json"));
        let Ok(text) = std::fs::read_to_string(&key_path) else { continue };
        let key: SroieKey = serde_json::from_str(&text).map_err(|e| format!("{}: {e}", key_path.display()))?;
        cases.push(SroieCase { name, image: path, key });
    }
    if cases.is_empty() {
        return Err(format!("{}: no image with a key/<name>.json label", dir.display()));
    }
    cases.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(cases)
}

/// What happened to one receipt.
#[derive(Debug, Clone)]
pub struct SroieResult {
    pub name: String,
    pub seconds: f64,
    pub company: bool,
    pub date: bool,
    pub total: bool,
    /// The total's amount is the label's, whatever currency mark either has
    /// (SROIE labels the same printed `RM 48.10` as `RM 48.10` on some
    /// receipts and `48.10` on others).
    pub total_amount: bool,
    pub address: bool,
    /// The reader's error, when it could not read the image.
    pub error: Option<String>,
    pub receipt: Receipt,
}

/// Reads and scores one receipt.
pub fn score_sroie(case: &SroieCase, recognizer: &mut dyn Recognizer, options: &PrepareOptions) -> SroieResult {
    let started = Instant::now();
    let outcome = std::fs::read(&case.image).map_err(|e| e.to_string()).and_then(|bytes| read(&bytes, recognizer, options).map_err(|e| e.to_string()));
    let seconds = started.elapsed().as_secs_f64();
    let (receipt, page, error) = match outcome {
        Ok(reading) => (reading.receipt, reading.page, None),
        Err(e) => (Receipt::default(), Page::default(), Some(e)),
    };
    let address = address_matches(&page, &case.key.address);
    SroieResult {
        name: case.name.clone(),
        seconds,
        company: same_text(receipt.merchant.as_ref().map(|m| m.text.as_str()), &case.key.company),
        date: same_text(receipt.date.as_ref().map(|d| d.text.as_str()), &case.key.date),
        total: same_text(receipt.total.as_ref().map(|t| t.text.as_str()), &case.key.total),
        total_amount: same_amount(receipt.total.as_ref().map(|t| t.value), &case.key.total),
        address,
        error,
        receipt,
    }
}

fn same_amount(read: Option<Amount>, label: &str) -> bool {
    match (read, super::amounts::find(&super::amounts::repair(label)).as_slice()) {
        (Some(read), [one]) => read.same_value(&one.amount),
        _ => false,
    }
}

/// The address is not a parsed field; it counts as read when the lines
/// under the merchant hold it word for word.
fn address_matches(page: &Page, label: &str) -> bool {
    let want: String = label.split_whitespace().collect::<Vec<_>>().join(" ").to_uppercase();
    if want.is_empty() {
        return false;
    }
    let text: String = page.lines.iter().take(12).map(|l| l.text.split_whitespace().collect::<Vec<_>>().join(" ")).collect::<Vec<_>>().join(" ").to_uppercase();
    text.contains(&want)
}

/// One CORD receipt: OCR text and its labelled total.
#[derive(Debug, Clone)]
pub struct CordCase {
    pub name: String,
    pub text: String,
    pub total: Option<Amount>,
    pub merchant: String,
    pub date: String,
}

#[derive(Deserialize)]
struct CordFile {
    #[serde(default)]
    merchant: CordMerchant,
    #[serde(default)]
    transaction: CordTransaction,
    #[serde(default)]
    ocr_raw: CordRaw,
}

#[derive(Deserialize, Default)]
struct CordMerchant {
    #[serde(default)]
    name: String,
}

#[derive(Deserialize, Default)]
struct CordTransaction {
    #[serde(default)]
    date: String,
    #[serde(default)]
    total: Option<serde_json::Number>,
}

#[derive(Deserialize, Default)]
struct CordRaw {
    #[serde(default)]
    full_text: String,
}

/// A JSON number as an exact decimal amount (`247500.0`, `22.5`).
fn json_amount(n: &serde_json::Number) -> Option<Amount> {
    let text = n.to_string();
    if text.contains(['e', 'E']) {
        return None;
    }
    let (whole, frac) = text.split_once('.').unwrap_or((&text, ""));
    let frac = frac.trim_end_matches('0');
    let digits = format!("{whole}{frac}");
    Some(Amount { minor: digits.parse().ok()?, scale: frac.len() as u8 })
}

/// The labelled receipts of a CORD-text folder.
pub fn cord_cases(dir: &Path) -> Result<Vec<CordCase>, String> {
    let mut cases = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))? {
        let path = entry.map_err(|e| e.to_string())?.path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let Ok(file) = serde_json::from_str::<CordFile>(&text) else { continue };
        if file.ocr_raw.full_text.trim().is_empty() {
            continue;
        }
        cases.push(CordCase {
            name: path.file_stem().and_then(|s| s.to_str()).unwrap_or_default().to_owned(),
            text: file.ocr_raw.full_text,
            total: file.transaction.total.as_ref().and_then(json_amount),
            merchant: file.merchant.name,
            date: file.transaction.date,
        });
    }
    if cases.is_empty() {
        return Err(format!("{}: no *.json with ocr_raw.full_text", dir.display()));
    }
    cases.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(cases)
}

/// The parser on one CORD receipt: (total right, merchant right, date right, what was read).
pub fn score_cord(case: &CordCase) -> (bool, bool, bool, Receipt) {
    let receipt = receipt::parse(&Page::from_text(&case.text));
    let total = match (receipt.total.as_ref(), case.total) {
        (Some(ours), Some(label)) => ours.value.same_value(&label) || ours.value.same_value(&Amount { minor: label.minor * 1000, scale: label.scale }),
        _ => false,
    };
    let merchant = !case.merchant.trim().is_empty() && same_text(receipt.merchant.as_ref().map(|m| m.value.as_str()), &case.merchant);
    let date = receipt.date.as_ref().is_some_and(|d| d.value.to_string() == case.date);
    (total, merchant, date, receipt)
}

/// Percentile of sorted seconds.
pub fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_numbers_become_exact_amounts() {
        let n = |s: &str| json_amount(&serde_json::from_str::<serde_json::Number>(s).unwrap());
        assert_eq!(n("247500.0"), Some(Amount { minor: 247500, scale: 0 }));
        assert_eq!(n("22.5"), Some(Amount { minor: 225, scale: 1 }));
        assert_eq!(n("110"), Some(Amount { minor: 110, scale: 0 }));
    }

    #[test]
    fn sroie_comparison_trims_and_upper_cases() {
        assert!(same_text(Some(" Sin Thye & Company "), "SIN THYE & COMPANY"));
        assert!(!same_text(Some("SIN THYE & CO"), "SIN THYE & COMPANY"));
        assert!(!same_text(None, "X"));
    }

    #[test]
    fn amounts_compare_without_currency_marks() {
        assert!(same_amount(Some(Amount { minor: 1250, scale: 2 }), "RM 12.50"));
        assert!(same_amount(Some(Amount { minor: 4370, scale: 2 }), "43.7"));
        assert!(!same_amount(Some(Amount { minor: 1250, scale: 2 }), "12.00"));
        assert!(!same_amount(None, "12.50"));
    }

    #[test]
    fn percentiles() {
        let s = [0.1, 0.2, 0.3, 0.4, 1.0];
        assert_eq!(percentile(&s, 0.5), 0.3);
        assert_eq!(percentile(&s, 0.95), 1.0);
    }
}
