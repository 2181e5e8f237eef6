//! Amounts as receipts print them: `12.50`, `RM12.50`, `Rp 22.000`,
//! `130.000,00`, `247,500`, `-.02`, and the splits OCR makes of them
//! (`RM15. 98`, `125 .000`). A separator followed by exactly three digits
//! groups thousands; followed by one, two or four digits it is the decimal
//! mark (receipts print unit prices to four places: `35.0000`).
//!
//! Not [`crate::money`]: that reader gives whole rupiah and refuses what is
//! ambiguous; a receipt's amount keeps its printed scale (ringgit and sen,
//! four-place unit prices) and its printed text (for the person and for
//! scoring), and ambiguity is settled by the receipt's arithmetic instead.

use std::sync::LazyLock;

use regex::Regex;
use serde::{Deserialize, Serialize};

/// An amount as printed: `minor / 10^scale` units of the receipt's currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Amount {
    pub minor: i64,
    pub scale: u8,
}

impl Amount {
    pub fn whole(units: i64) -> Amount {
        Amount { minor: units, scale: 0 }
    }

    /// The value in ten-thousandths, for comparing amounts of any scale.
    pub fn units4(&self) -> i128 {
        self.minor as i128 * 10i128.pow(4u32.saturating_sub(self.scale as u32))
    }

    /// Whole units, rounding half away from zero (a rupiah total printed
    /// `130.000,00` is 130,000).
    pub fn whole_units(&self) -> i64 {
        let unit = 10i64.pow(self.scale as u32);
        let q = self.minor / unit;
        let r = self.minor % unit;
        if r.abs() * 2 >= unit { q + self.minor.signum() } else { q }
    }

    pub fn plus(&self, other: &Amount) -> Amount {
        let scale = self.scale.max(other.scale);
        let up = |a: &Amount| a.minor * 10i64.pow((scale - a.scale) as u32);
        Amount { minor: up(self) + up(other), scale }
    }

    pub fn minus(&self, other: &Amount) -> Amount {
        self.plus(&Amount { minor: -other.minor, scale: other.scale })
    }

    pub fn same_value(&self, other: &Amount) -> bool {
        self.units4() == other.units4()
    }

    pub fn is_positive(&self) -> bool {
        self.minor > 0
    }
}

impl std::fmt::Display for Amount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.scale == 0 {
            return write!(f, "{}", self.minor);
        }
        let unit = 10i64.pow(self.scale as u32);
        let sign = if self.minor < 0 { "-" } else { "" };
        write!(f, "{sign}{}.{:0width$}", (self.minor / unit).abs(), (self.minor % unit).abs(), width = self.scale as usize)
    }
}

/// One amount found in a line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub amount: Amount,
    /// Exactly as printed (after OCR splits were joined), with a currency
    /// written onto it: `RM12.50`, `22.000`; `RM 12.50` gives `12.50`.
    pub text: String,
    /// Byte range of `text` in the line.
    pub start: usize,
    pub end: usize,
    /// ISO code of the currency written next to it.
    pub currency: Option<&'static str>,
    /// Whether thousands were grouped (`22.000`, `1,234.50`).
    pub grouped: bool,
}

impl Found {
    /// The printed text with its decimal mark made `mark` when OCR read the
    /// other one (`39,90` on a receipt that writes `39.90`). Grouped
    /// numbers keep their marks.
    pub fn text_with_mark(&self, mark: char) -> String {
        let seps = self.text.chars().filter(|c| matches!(c, '.' | ',')).count();
        if self.amount.scale == 2 && seps == 1 && !self.text.contains(mark) {
            let other = if mark == '.' { ',' } else { '.' };
            return self.text.replacen(other, &mark.to_string(), 1);
        }
        self.text.clone()
    }

    /// Written the way money is (cents, grouped thousands or a currency),
    /// not a bare count like `10`.
    pub fn looks_like_money(&self) -> bool {
        self.amount.scale > 0 || self.grouped || self.currency.is_some()
    }
}

static AMOUNT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?x)
        (?P<neg1>-)?
        (?P<cur>(?i:rm|rp\.?|idr|myr|usd|sgd|s\$|us\$|\$))?
        (?P<gap>\ ?)
        (?P<neg2>-)?
        (?P<num>
            \d{1,3}(?:[.,]\d{3})+(?:[.,]\d{1,4})?
          | \d+[.,]\d{1,4}
          | [.,]\d{2}
          | \d+
        )
        (?:[^\d]|$)",
    )
    .expect("amount pattern")
});

/// OCR splits a number at its separator (`RM15. 98`, `125 .000`, `177, 20`):
/// join them back. Only a separator with a space on one side, between
/// digits, is joined.
static SPLIT: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"(\d)(?:([.,]) | ([.,]))(\d{2,3})\b").expect("split pattern"));

/// `.225,000` (CORD's dotted amounts): a separator before a grouped number.
static LEADING: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"(^|\s)[.,](\d{1,3}[.,]\d{3})").expect("leading pattern"));

/// Dot leaders between a label and its amount (`Total......45,000`).
static LEADERS: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"[.·_]{3,}|\s[.·_-]{2,}\s").expect("leaders pattern"));

/// The line with dot leaders spaced out and OCR's splits of numbers joined.
pub fn repair(line: &str) -> String {
    let spaced = LEADERS.replace_all(line, "   ");
    let joined = SPLIT.replace_all(&spaced, |c: &regex::Captures<'_>| {
        let sep = c.get(2).or(c.get(3)).map_or("", |m| m.as_str());
        format!("{}{}{}", &c[1], sep, &c[4])
    });
    LEADING.replace_all(&joined, "$1$2").into_owned()
}

fn currency_code(written: &str) -> Option<&'static str> {
    match written.to_ascii_uppercase().trim_end_matches('.') {
        "RM" | "MYR" => Some("MYR"),
        "RP" | "IDR" => Some("IDR"),
        "USD" | "US$" => Some("USD"),
        "SGD" | "S$" => Some("SGD"),
        "$" => Some("$"),
        _ => None,
    }
}

/// Every amount in `line` (already [`repair`]ed), left to right. Numbers
/// that are part of dates, times, codes or percentages are not amounts.
pub fn find(line: &str) -> Vec<Found> {
    let mut found = Vec::new();
    let mut at = 0;
    while at < line.len() {
        let Some(c) = AMOUNT.captures_at(line, at) else { break };
        let whole = c.get(0).expect("match");
        let num = c.name("num").expect("number");
        let next_at = |m: usize| m + line[m..].chars().next().map_or(1, char::len_utf8);
        let before = line[..whole.start()].chars().next_back();
        let after = line[num.end()..].chars().next();
        let after2 = line[num.end()..].chars().nth(1);
        let cur = c.name("cur");
        // The character before must not continue a word or a code (a
        // currency written without a space is part of the match).
        let glued_before = match before {
            Some(b) => b.is_alphanumeric() || (cur.is_none() && matches!(b, '/' | ':' | '@' | '#' | '.' | ',')) || (cur.is_none() && b == '-' && c.name("neg1").is_none()),
            None => false,
        };
        let glued_after = match after {
            Some(a) => a.is_ascii_digit() || a == '%' || ((a == '/' || a == ':' || a == '-') && after2.is_some_and(|d| d.is_ascii_digit())),
            None => false,
        };
        if glued_before || glued_after {
            at = next_at(whole.start());
            continue;
        }
        // `TL - 76,000`: a dash set apart from the number is punctuation.
        let spaced_dash = c.name("neg1").is_some() && cur.is_none() && !c["gap"].is_empty();
        let negative = (c.name("neg1").is_some() && !spaced_dash) || c.name("neg2").is_some();
        if let Some(amount) = interpret(num.as_str(), negative) {
            // A currency set apart by a space is its own word (`RM 12.50` → `12.50`).
            let groups: &[&str] = match (spaced_dash, c["gap"].is_empty()) {
                (true, _) => &["neg2"],
                (false, true) => &["neg1", "cur", "neg2"],
                (false, false) => &["neg1", "neg2"],
            };
            let start = groups.iter().filter_map(|g| c.name(g)).map(|m| m.start()).min().unwrap_or(num.start());
            let text = line[start..num.end()].trim().to_owned();
            found.push(Found {
                amount: amount.0,
                text,
                start,
                end: num.end(),
                currency: cur.and_then(|m| currency_code(m.as_str())),
                grouped: amount.1,
            });
        }
        at = num.end().max(next_at(whole.start()));
    }
    found
}

/// A written number: its value, and whether it grouped thousands.
fn interpret(number: &str, negative: bool) -> Option<(Amount, bool)> {
    let seps: Vec<usize> = number.char_indices().filter(|(_, c)| matches!(c, '.' | ',')).map(|(i, _)| i).collect();
    let digits: String = number.chars().filter(char::is_ascii_digit).collect();
    if digits.is_empty() || digits.len() > 15 {
        return None;
    }
    let value: i64 = digits.parse().ok()?;
    let (scale, grouped) = match seps.last() {
        None => (0, false),
        Some(&last) => {
            let tail = number.len() - last - 1;
            if tail == 3 { (0, true) } else { (tail as u8, seps.len() > 1) }
        }
    };
    let minor = if negative { -value } else { value };
    Some((Amount { minor, scale }, grouped))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn amounts(line: &str) -> Vec<(String, String)> {
        find(&repair(line)).into_iter().map(|f| (f.text, f.amount.to_string())).collect()
    }

    fn pair(a: &str, b: &str) -> (String, String) {
        (a.to_owned(), b.to_owned())
    }

    #[test]
    fn reads_receipt_notations() {
        assert_eq!(amounts("TOTAL   RM 12.50"), vec![pair("12.50", "12.50")]);
        assert_eq!(amounts("Cash RM51.30"), vec![pair("RM51.30", "51.30")]);
        assert_eq!(amounts("TOTAL BAYAR Rp 22.000"), vec![pair("22.000", "22000")]);
        assert_eq!(amounts("Total: 130.000,00"), vec![pair("130.000,00", "130000.00")]);
        assert_eq!(amounts("TOTAL .247,500"), vec![pair("247,500", "247500")]);
        assert_eq!(amounts("Rounding Adjustment RM -.02"), vec![pair("-.02", "-0.02")]);
        assert_eq!(amounts("1 X 35.0000   35.00"), vec![pair("1", "1"), pair("35.0000", "35.0000"), pair("35.00", "35.00")]);
        assert_eq!(amounts("AMOUNT  -9,000"), vec![pair("-9,000", "-9000")]);
        assert_eq!(amounts("TOTAL NETT $8.20"), vec![pair("$8.20", "8.20")]);
        assert_eq!(amounts("Total.............45,000"), vec![pair("45,000", "45000")]);
        assert_eq!(amounts("TL - 76,000"), vec![pair("76,000", "76000")]);
    }

    #[test]
    fn joins_what_ocr_split() {
        assert_eq!(amounts("COLGATE GREAT REGULAR RM15. 98"), vec![pair("RM15.98", "15.98")]);
        assert_eq!(amounts("CASH 125 .000"), vec![pair("125.000", "125000")]);
        assert_eq!(amounts("Rounding RM 177, 20"), vec![pair("177,20", "177.20")]);
    }

    #[test]
    fn dates_times_codes_and_percentages_are_not_amounts() {
        assert!(amounts("DATE: 28/02/2016 TIME: 11:05:00").is_empty());
        assert!(amounts("RECEIPT CS00052997").is_empty());
        assert!(amounts("GST@6% included").is_empty());
        assert!(amounts("TEL: 03-6258").is_empty());
        assert!(amounts("22-04-16 13:13").is_empty());
    }

    #[test]
    fn arithmetic_and_rounding() {
        let a = Amount { minor: 13000000, scale: 2 };
        assert_eq!(a.whole_units(), 130000);
        assert_eq!(Amount { minor: 1250, scale: 2 }.whole_units(), 13);
        assert_eq!(Amount { minor: -150, scale: 2 }.whole_units(), -2);
        assert!(Amount { minor: 1772, scale: 1 }.same_value(&Amount { minor: 17720, scale: 2 }));
        assert_eq!(Amount { minor: 17722, scale: 2 }.plus(&Amount { minor: -2, scale: 2 }), Amount { minor: 17720, scale: 2 });
        assert_eq!(Amount { minor: 5000, scale: 0 }.minus(&Amount { minor: 3450, scale: 2 }).to_string(), "4965.50");
    }
}
