//! A receipt's fields from its lines of text: merchant, date, time, total,
//! subtotal, tax, rounding, discount, amount paid, change, payment method,
//! currency and line items, each with a confidence from 0 to 1 (how sure
//! the reading of the text is, times how sure the parser is that this is
//! the field).
//!
//! The total is chosen, not found: every line that names a total proposes
//! its amount, and the proposals are weighed by the strength of the word
//! (`GRAND TOTAL`, `TOTAL BAYAR`, `NETT TOTAL` over a plain `TOTAL`) and by
//! how the receipt's arithmetic agrees with them (paid − change, subtotal +
//! tax + rounding − discount, the sum of the items). Change (`KEMBALI`,
//! `CHANGE`) is never the total. Indonesian (`TOTAL BAYAR`, `JUMLAH`,
//! `TUNAI`, `KEMBALI`, `PPN`, `PB1`, `Rp 22.000`) and English/Malaysian
//! (`TOTAL`, `ROUNDING`, `CASH`, `CHANGE`, `RM 9.00`) receipts alike.

use std::sync::LazyLock;

use chrono::{NaiveDate, NaiveTime};
use regex::Regex;
use serde::{Deserialize, Serialize};

use super::amounts::{self, Amount, Found};
use super::{Line, Page};
use crate::dates::month_number;

/// A value read from the receipt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Field<T> {
    pub value: T,
    /// The text it was read from, as printed.
    pub text: String,
    /// 0–1.
    pub confidence: f32,
    /// Index of the line it was read from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
}

/// How the receipt was paid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PaymentMethod {
    Cash,
    Debit,
    CreditCard,
    Qris,
    Ewallet,
    Transfer,
}

impl PaymentMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            PaymentMethod::Cash => "cash",
            PaymentMethod::Debit => "debit",
            PaymentMethod::CreditCard => "credit_card",
            PaymentMethod::Qris => "qris",
            PaymentMethod::Ewallet => "ewallet",
            PaymentMethod::Transfer => "transfer",
        }
    }
}

/// One purchased line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Item {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quantity: Option<Amount>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit_price: Option<Amount>,
    pub total: Amount,
    pub confidence: f32,
    pub line: u32,
}

/// Everything read from one receipt.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Receipt {
    pub merchant: Option<Field<String>>,
    pub date: Option<Field<NaiveDate>>,
    pub time: Option<Field<NaiveTime>>,
    pub total: Option<Field<Amount>>,
    pub subtotal: Option<Field<Amount>>,
    pub tax: Option<Field<Amount>>,
    pub rounding: Option<Field<Amount>>,
    pub discount: Option<Field<Amount>>,
    pub service: Option<Field<Amount>>,
    /// What the customer handed over (`TUNAI`, `CASH`, a card).
    pub paid: Option<Field<Amount>>,
    pub change: Option<Field<Amount>>,
    pub payment_method: Option<Field<PaymentMethod>>,
    /// ISO code (`IDR`, `MYR`, `USD`, `SGD`), or `$` when only a dollar sign says it.
    pub currency: Option<Field<String>>,
    pub items: Vec<Item>,
}

/// What a line is about, from its words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A total, with the strength of its wording (1 weak – 3 strong).
    Total(u8),
    Subtotal,
    Tax,
    /// A service charge (added to the subtotal like tax).
    Service,
    Rounding,
    Discount,
    Paid(Option<PaymentMethod>),
    Change,
    /// Item or quantity counts (`TOTAL QTY`, `ITEM(S)`): never money.
    Count,
    Other,
}

/// A line prepared for parsing.
struct Row<'a> {
    line: &'a Line,
    /// Upper-cased words with OCR's letter/digit confusions in words undone.
    words: Vec<String>,
    /// The text with OCR's number splits joined.
    text: String,
    amounts: Vec<Found>,
    kind: Kind,
}

impl Row<'_> {
    fn has(&self, word: &str) -> bool {
        self.words.iter().any(|w| w == word)
    }

    fn letters(&self) -> usize {
        self.text.chars().filter(|c| c.is_alphabetic()).count()
    }

    fn last_amount(&self) -> Option<&Found> {
        self.amounts.last()
    }
}

/// A word as a keyword reads it: upper case, letters only, with `0`→`O`,
/// `1`→`I`, `5`→`S` when the word is mostly letters (`T0TAL`, `TOTA1`).
fn keyword(word: &str) -> String {
    let upper = word.to_uppercase();
    let letters = upper.chars().filter(|c| c.is_alphabetic()).count();
    let digits = upper.chars().filter(|c| c.is_ascii_digit()).count();
    upper
        .chars()
        .filter_map(|c| match c {
            '0' if letters > digits => Some('O'),
            '1' if letters > digits => Some('I'),
            '5' if letters > digits => Some('S'),
            c if c.is_alphanumeric() => Some(c),
            _ => None,
        })
        .collect()
}

/// Whether `word` is `target` up to one OCR slip (for words of five letters or more).
fn near(word: &str, target: &str) -> bool {
    if word == target {
        return true;
    }
    if target.len() < 5 || word.len().abs_diff(target.len()) > 1 {
        return false;
    }
    levenshtein(word, target) <= 1
}

fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != *cb)).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

fn payment_word(word: &str) -> Option<PaymentMethod> {
    Some(match word {
        "CASH" | "TUNAI" | "KONTAN" => PaymentMethod::Cash,
        "DEBIT" | "DEBET" | "EDC" | "NETS" => PaymentMethod::Debit,
        "CREDIT" | "KREDIT" | "VISA" | "MASTER" | "MASTERCARD" | "AMEX" | "JCB" | "CC" => PaymentMethod::CreditCard,
        "QRIS" | "QR" => PaymentMethod::Qris,
        "GOPAY" | "OVO" | "DANA" | "SHOPEEPAY" | "LINKAJA" | "EMONEY" | "FLAZZ" | "BRIZZI" | "TAPCASH" | "GRABPAY" | "BOOST" | "TNG" => PaymentMethod::Ewallet,
        "TRANSFER" | "TRF" => PaymentMethod::Transfer,
        _ => return None,
    })
}

fn classify(words: &[String], text_upper: &str) -> Kind {
    let has = |w: &str| words.iter().any(|x| near(x, w));
    let first = words.first().map(String::as_str).unwrap_or("");
    let joined = words.join(" ");
    let total_word = words.iter().position(|w| near(w, "TOTAL") || w == "TTL" || near(w, "JUMLAH") || w == "JML");
    if words.iter().any(|w| near(w, "GRANDTOTAL") || w == "GRANDTTL") {
        return Kind::Total(3);
    }

    if has("SERVICE") || joined.contains("SERV CHARGE") || first == "SVC" || joined.starts_with("S C ") {
        return Kind::Service;
    }
    if has("KEMBALI") || has("KEMBALIAN") || has("CHANGE") || first == "CG" || has("SUSUK") {
        return Kind::Change;
    }
    if words.iter().any(|w| matches!(w.as_str(), "QTY" | "QUANTITY" | "ITEMS" | "ITEMIS" | "PCS" | "ITEM" | "KUANTITI" | "BARANG"))
        && (total_word.is_some() || first == "JML" || first == "QTY" || first.starts_with("ITEM"))
        && !joined.contains("AMOUNT")
    {
        return Kind::Count;
    }
    if has("SUBTOTAL") || joined.contains("SUB TOTAL") || joined.contains("SUB TTL") || first == "ST" || joined.contains("TOTAL SALES EXCL") || joined.contains("TOTAL EXCL") || joined.contains("TOTAL BEFORE") || joined.contains("TOTAL HARGA JUAL") {
        return Kind::Subtotal;
    }
    if has("ROUNDING") || has("PEMBULATAN") || first == "ROUND" || has("RNDG") {
        return if has("TOTAL") || joined.contains("ROUNDED") || joined.contains("AFTER") { Kind::Total(3) } else { Kind::Rounding };
    }
    if has("DISKON") || has("DISCOUNT") || first == "DISC" || has("POTONGAN") || has("HEMAT") || has("VOUCHER") || has("SAVINGS") || has("SAVING") {
        return Kind::Discount;
    }
    let tax_word = words.iter().any(|w| matches!(w.as_str(), "PPN" | "PB1" | "PBI" | "PAJAK" | "TAX" | "GST" | "SST" | "VAT"));
    let registration = joined.contains("GST ID") || joined.contains("GST NO") || joined.contains("GST REG") || joined.contains("TAX INVOICE") || joined.contains("NPWP") || joined.contains("SUMMARY") || joined.contains("TAX CODE") || text_upper.contains("GST:") && !text_upper.contains('%');
    if let Some(i) = total_word {
        let before = if i > 0 { words[i - 1].as_str() } else { "" };
        let after = words.get(i + 1).map(String::as_str).unwrap_or("");
        if tax_word && (before == "TAX" || before == "GST" || matches!(after, "TAX" | "GST" | "PPN")) {
            return Kind::Tax;
        }
        // `GST @6% included in total 0.71`, `TOTAL INCLUDES 6% GST 0.63`:
        // the tax a total holds, not the total.
        let tax_before = words[..i].iter().any(|w| matches!(w.as_str(), "PPN" | "PB1" | "PAJAK" | "TAX" | "GST" | "SST" | "VAT"));
        if tax_word && (tax_before || words.iter().any(|w| matches!(w.as_str(), "INCLUDES" | "INCLUDED" | "TERMASUK"))) {
            return Kind::Tax;
        }
        // `JML LITER 22.10`, `TOTAL ITEM 3` were caught above as counts;
        // `TTL FOOD 645000`: a total of one kind of thing.
        if matches!(after, "FOOD" | "BEER" | "BEVERAGE" | "BEVERAGES" | "DRINK" | "DRINKS" | "MAKANAN" | "MINUMAN" | "LITER" | "LITRE") {
            return Kind::Subtotal;
        }
        if joined.contains("TOTAL SALES INCL") || joined.contains("INCLUSIVE") || joined.contains("INCL") {
            return Kind::Total(2);
        }
        let strong = matches!(before, "GRAND" | "NETT" | "NET")
            || matches!(after, "BAYAR" | "BELANJA" | "AMOUNT" | "DUE" | "PAYABLE" | "TAGIHAN" | "PEMBAYARAN" | "HARGA" | "RM" | "RP")
            || joined.contains("AMOUNT DUE");
        if strong {
            return Kind::Total(3);
        }
        return Kind::Total(2);
    }
    if tax_word && !registration {
        return Kind::Tax;
    }
    if joined.contains("AMOUNT DUE") || joined.contains("BALANCE DUE") || joined.contains("TAGIHAN") || first == "TL" || first == "NETT" || first == "NET" || first == "DUE" {
        return Kind::Total(1);
    }
    let method = words.iter().find_map(|w| payment_word(w));
    if method.is_some() || has("BAYAR") || has("DIBAYAR") || first == "PAID" || has("TENDER") || has("TENDERED") || has("PAYMENT") || has("PEMBAYARAN") || first == "KARTU" || first == "CARD" {
        return Kind::Paid(method);
    }
    Kind::Other
}

/// The rows of one printed line: usually one, but a line that pairs two
/// labels with two amounts across columns (`TOTAL SAVING: 0.00   TOTAL
/// 6.85`, `CASH 50.00   CHANGE 27.00`) is two rows, so each amount keeps
/// its own label.
fn rows_of(line: &Line) -> Vec<Row<'_>> {
    let whole = prepare(line, &line.text);
    let segments: Vec<&str> = line.text.split("   ").map(str::trim).filter(|s| !s.is_empty()).collect();
    if segments.len() < 4 {
        return vec![whole];
    }
    // Groups of segments, each ending with one that ends in an amount.
    let mut groups: Vec<String> = Vec::new();
    let mut current = String::new();
    for segment in &segments {
        if !current.is_empty() {
            current.push_str("   ");
        }
        current.push_str(segment);
        let found = amounts::find(&amounts::repair(segment));
        if found.last().is_some_and(|f| f.end >= amounts::repair(segment).trim_end().len()) {
            groups.push(std::mem::take(&mut current));
        }
    }
    if !current.is_empty() || groups.len() < 2 {
        return vec![whole];
    }
    let rows: Vec<Row<'_>> = groups.iter().map(|g| prepare(line, g)).collect();
    let labelled = rows.iter().all(|r| r.text.chars().filter(|c| c.is_alphabetic()).count() >= 3);
    let keyed = rows.iter().filter(|r| r.kind != Kind::Other).count();
    if labelled && keyed >= 2 { rows } else { vec![whole] }
}

fn prepare<'a>(line: &'a Line, raw: &str) -> Row<'a> {
    let text = amounts::repair(raw);
    let words: Vec<String> = text.split(|c: char| c.is_whitespace() || matches!(c, ':' | '(' | ')' | '/' | '-' | '.' | ',' | '@' | '*' | '=')).map(keyword).filter(|w| !w.is_empty()).collect();
    let amounts = amounts::find(&text);
    let mut kind = classify(&words, &text.to_uppercase());
    // A "rounding" line carrying a whole amount is the rounded total
    // (`Rounding RM 37.45` after `Rounding Adjustment -0.01`); an
    // adjustment is not, whatever OCR made of its `0.00`.
    let adjustment = words.iter().any(|w| w.starts_with("ADJ"));
    if kind == Kind::Rounding && !adjustment && amounts.last().is_some_and(|f| f.amount.units4().abs() >= 10_000 && f.amount.scale > 0 || f.amount.whole_units().abs() >= 1000) {
        kind = Kind::Total(3);
    }
    Row { line, words, text, amounts, kind }
}

/// Parses a receipt's page of text.
pub fn parse(page: &Page) -> Receipt {
    let mut origin = Vec::new();
    let mut rows: Vec<Row<'_>> = Vec::new();
    for (i, line) in page.lines.iter().enumerate() {
        for row in rows_of(line) {
            origin.push(i as u32);
            rows.push(row);
        }
    }
    let mut receipt = read_rows(&rows);
    // Fields name the printed line, not the row.
    let at = |line: &mut Option<u32>| *line = line.and_then(|l| origin.get(l as usize).copied());
    macro_rules! remap {
        ($($field:ident),*) => { $( if let Some(f) = receipt.$field.as_mut() { at(&mut f.line); } )* };
    }
    remap!(merchant, date, time, total, subtotal, tax, rounding, discount, service, paid, change, payment_method, currency);
    for item in &mut receipt.items {
        item.line = origin.get(item.line as usize).copied().unwrap_or(item.line);
    }
    receipt
}

fn read_rows(rows: &[Row<'_>]) -> Receipt {
    let mut receipt = Receipt { currency: currency(rows), ..Receipt::default() };
    receipt.merchant = merchant(rows);
    (receipt.date, receipt.time) = date_and_time(rows);

    let mark = decimal_mark(rows);
    let field = |i: usize, found: &Found, certainty: f32| Field { value: found.amount, text: found.text_with_mark(mark), confidence: (rows[i].line.confidence * certainty).clamp(0.0, 1.0), line: Some(i as u32) };
    // The amount a labelled line carries: its last one, or the next line's
    // when that line is only an amount (a label and its value split in two).
    let value_of = |i: usize| -> Option<(usize, &Found)> {
        if let Some(f) = rows[i].last_amount() {
            return Some((i, f));
        }
        let next = rows.get(i + 1)?;
        (next.letters() <= 3 && next.kind == Kind::Other).then(|| next.last_amount().map(|f| (i + 1, f))).flatten()
    };
    let first_of = |kind: fn(Kind) -> bool| rows.iter().enumerate().filter(|(_, r)| kind(r.kind)).find_map(|(i, _)| value_of(i));
    let last_of = |kind: fn(Kind) -> bool| rows.iter().enumerate().filter(|(_, r)| kind(r.kind)).rev().find_map(|(i, _)| value_of(i));

    receipt.subtotal = last_of(|k| k == Kind::Subtotal).map(|(i, f)| field(i, f, 0.9));
    // The first tax that is charged (a `TAX 0.00` line may come first).
    receipt.tax = rows.iter().enumerate().filter(|(_, r)| r.kind == Kind::Tax).find_map(|(i, _)| value_of(i).filter(|(_, f)| f.amount.is_positive())).map(|(i, f)| field(i, f, 0.8));
    receipt.rounding = first_of(|k| k == Kind::Rounding).map(|(i, f)| field(i, f, 0.9));
    receipt.service = first_of(|k| k == Kind::Service).filter(|(_, f)| f.amount.is_positive()).map(|(i, f)| field(i, f, 0.8));
    receipt.discount = first_of(|k| k == Kind::Discount).map(|(i, f)| field(i, f, 0.7));
    receipt.change = first_of(|k| k == Kind::Change).filter(|(_, f)| f.amount.minor >= 0).map(|(i, f)| field(i, f, 0.9));
    let paid = rows.iter().enumerate().filter(|(_, r)| matches!(r.kind, Kind::Paid(_))).find_map(|(i, r)| value_of(i).filter(|(_, f)| f.amount.is_positive()).map(|(j, f)| (i, j, f, r.kind)));
    if let Some((i, j, f, Kind::Paid(method))) = paid {
        receipt.paid = Some(field(j, f, 0.85));
        if let Some(method) = method {
            receipt.payment_method = Some(Field { value: method, text: rows[i].text.trim().to_owned(), confidence: rows[i].line.confidence * 0.9, line: Some(i as u32) });
        }
    }
    receipt.items = items(rows);
    receipt.total = total(rows, &receipt, &value_of, mark);
    receipt
}

/// The mark most of the receipt's two-decimal amounts use.
fn decimal_mark(rows: &[Row<'_>]) -> char {
    let (mut dots, mut commas) = (0, 0);
    for f in rows.iter().flat_map(|r| &r.amounts).filter(|f| f.amount.scale == 2) {
        let last = f.text.chars().rev().find(|c| matches!(c, '.' | ','));
        match last {
            Some('.') => dots += 1,
            Some(',') => commas += 1,
            _ => {}
        }
    }
    if commas > dots { ',' } else { '.' }
}

/// The currency the amounts are in: a written symbol, or the notation.
fn currency(rows: &[Row<'_>]) -> Option<Field<String>> {
    let mut counts: Vec<(&'static str, usize, usize)> = Vec::new();
    let mut count = |code: &'static str, line: usize| match counts.iter_mut().find(|(c, _, _)| *c == code) {
        Some(entry) => entry.1 += 1,
        None => counts.push((code, 1, line)),
    };
    for (i, row) in rows.iter().enumerate() {
        for code in row.amounts.iter().filter_map(|f| f.currency) {
            count(code, i);
        }
        if row.has("IDR") || row.has("RUPIAH") {
            count("IDR", i);
        }
    }
    if let Some((code, n, line)) = counts.iter().max_by_key(|(_, n, _)| *n) {
        return Some(Field { value: (*code).to_owned(), text: (*code).to_owned(), confidence: if *n > 1 { 0.95 } else { 0.8 }, line: Some(*line as u32) });
    }
    // No symbol: thousands grouped by threes with no cents is rupiah.
    let (mut grouped_whole, mut cents) = (0, 0);
    for f in rows.iter().flat_map(|r| &r.amounts) {
        if f.amount.scale == 2 && !(f.grouped && f.amount.minor % 100 == 0 && f.text.contains(',') && f.text.contains('.')) {
            cents += 1;
        } else if f.grouped && f.amount.scale == 0 {
            grouped_whole += 1;
        }
    }
    (grouped_whole > cents).then(|| Field { value: "IDR".to_owned(), text: String::new(), confidence: 0.6, line: None })
}

static COMPANY_SUFFIX: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(SDN\.?\s*BHD\.?|BHD\.?|S/B|ENTERPRISES?|TRADING|PT\.?|CV\.?|TBK\.?|TOKO|WARUNG|WARTEG|RESTORAN|RESTAURANT|RESTO|CAFE|KAFE|KEDAI|MART|MINIMARKET|SUPERMARKET|HYPERMARKET|BAKERY|STORE|SHOP|HARDWARE|PHARMACY|APOTEK|FARMASI|STATIONERY|MARKETING|SERVICES?|INDUSTRIES|HOLDINGS|CORPORATION|CO\.|COMPANY|LIMITED|LTD\.?|KOPI|COFFEE|BAKSO|SATE|MIE|NASI)\b").expect("suffix pattern")
});

static NOT_A_NAME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?ix)
        \b(TAX\s+INVOICE|INVOICE|RECEIPT|RESIT|STRUK|NOTA|FAKTUR|KWITANSI|WELCOME|SELAMAT|COPY|SIMPLIFIED|OFFICIAL|CASH\s+(SALE|BILL)|BILL|ORDER|TABLE|MEJA|KASIR|CASHIER)\b
      | \b(JALAN|JLN|JL|LOT|TAMAN|TMN|KAWASAN|BLOK|BLOCK|LORONG|PERSIARAN|LEBUH|LEVEL|FLOOR|FLR|GROUND|RUKO|KOMPLEK|KOMP|PERUMAHAN|KELURAHAN|KEL|KECAMATAN|KEC|KABUPATEN|KAB|KOTA|DESA|RT|RW|STREET|ROAD|AVENUE)\b
      | \b(TEL|TELP|TELEPON|PHONE|FAX|HP|WA|WHATSAPP|EMAIL|E-MAIL|WWW|HTTP|GST|SST|NPWP|REG|ROC|CO-REG|COMPANY\s+NO|BRN)\b
      | \.COM\b | @ | \b\d{5}\b
    ").expect("not-a-name pattern")
});

static REGISTRATION_TAIL: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"(?i)\s*[\(\[]?\s*(CO\.?\s*REG|ROC|REG|NO)?[\s.:]*\d{3,}[-\w]*\s*[\)\]]?\s*$").expect("registration pattern"));

/// The merchant: a name-like line among the first ones. A line with a
/// legal form (`SDN BHD`, `PT …`, `CO.`) beats one with a business word
/// (`TOKO`, `RESTORAN`, `COFFEE`), which beats a plain one; earlier lines
/// and surer readings break ties. An address is never the name.
fn merchant(rows: &[Row<'_>]) -> Option<Field<String>> {
    let mut best: Option<(f32, usize, f32)> = None;
    for (i, row) in rows.iter().enumerate().take(10) {
        // The header ends where money begins.
        if i > 0 && (row.amounts.iter().any(Found::looks_like_money) || row.kind != Kind::Other) {
            break;
        }
        let name = clean_name(&row.line.text);
        let chars = name.chars().filter(|c| !c.is_whitespace()).count();
        let letters = name.chars().filter(|c| c.is_alphabetic()).count();
        let legal = LEGAL_FORM.is_match(&name) || LEADING_FORM.is_match(&name);
        let business = COMPANY_SUFFIX.is_match(&name);
        // A legal form is worth a poorer reading: its words can be repaired.
        let least = if legal { 0.3 } else { 0.45 };
        if letters < 3 || (letters as f32) < 0.6 * chars as f32 || row.line.confidence < least {
            continue;
        }
        if ADDRESS.is_match(&name) && !LEGAL_FORM.is_match(&name) || NOT_A_NAME.is_match(&name) && (!(legal || business) || name.contains(':')) {
            continue;
        }
        let (kind, certainty) = if legal { (3.0, 0.9) } else if business { (2.0, 0.8) } else { (0.0, 0.6) };
        // Lines further down are less likely the name (a shop's name on
        // top, its owning company under the address).
        let score = kind + row.line.confidence - 0.25 * i as f32;
        if best.is_none_or(|(s, _, _)| score > s) {
            best = Some((score, i, certainty));
        }
    }
    let (_, i, certainty) = best?;
    let mut name = clean_name(&rows[i].line.text);
    // `MPH BOOKSTORES` / `SDN BHD`: a legal form alone takes the line above.
    if i > 0 && LEGAL_FORM.find(&name).is_some_and(|m| m.start() == 0) && name.split_whitespace().count() <= 3 {
        name = format!("{} {name}", clean_name(&rows[i - 1].line.text));
    }
    // A company word alone on the next line finishes the name (`UROKO
    // JAPANESE CUISINE` / `SDN BHD`).
    if let Some(next) = rows.get(i + 1) {
        let next_name = clean_name(&next.line.text);
        let words_in_next = next_name.split_whitespace().count();
        if !COMPANY_SUFFIX.is_match(&name) && words_in_next <= 2 && COMPANY_SUFFIX.find(&next_name).is_some_and(|m| m.start() == 0) {
            name = format!("{name} {next_name}");
        }
    }
    if name.chars().filter(|c| c.is_alphabetic()).count() < 3 {
        return None;
    }
    Some(Field { value: name.clone(), text: name, confidence: rows[i].line.confidence * certainty, line: Some(i as u32) })
}

/// `PT Sumber Alfaria Trijaya`, `CV Maju`: Indonesian legal forms lead.
static LEADING_FORM: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"(?i)^(PT|CV)\.?\s+\w").expect("leading legal form"));

/// Words of a street address.
static ADDRESS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(JALAN|JLN|JL|LOT|TAMAN|TMN|KAWASAN|BLOK|LORONG|PERSIARAN|LEBUH|LEVEL|FLOOR|FLR|TINGKAT|RUKO|KOMPLEK|KELURAHAN|KECAMATAN|KABUPATEN|STREET|ROAD|AVENUE)\b").expect("address pattern")
});

/// OCR's readings of `SDN BHD` (`SON BHD`, `SIN Bhd`, `Sdn Bha`, `BHO`).
static LEGAL_FORM_MISREAD: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(?:(?P<sdn>S[DOI0][NM]|5DN)(?P<sdot>\.?)(?P<gap>\s*))?(?P<bhd>BH[DOA0]|8HD|BND)(?P<dot>\.?)(?P<end>\s|\(|$)").expect("legal form misread")
});

/// Undoes OCR's slips in a name's legal form and letters read as digits
/// inside words (`MR. D.1.Y.`).
fn repair_name(text: &str) -> String {
    let repaired = LEGAL_FORM_MISREAD.replace_all(text, |c: &regex::Captures<'_>| {
        let group = |name: &str| c.name(name).map_or("", |m| m.as_str());
        let (sdn, bhd) = if group("bhd").chars().any(char::is_lowercase) { ("Sdn", "Bhd") } else { ("SDN", "BHD") };
        let prefix = if c.name("sdn").is_some() { format!("{sdn}{}{}", group("sdot"), if group("gap").is_empty() { "" } else { " " }) } else { String::new() };
        format!("{prefix}{bhd}{}{}", group("dot"), group("end"))
    });
    repaired
        .split(' ')
        .map(|word| {
            let letters = word.chars().filter(|c| c.is_alphabetic()).count();
            let digits = word.chars().filter(|c| c.is_ascii_digit()).count();
            if letters >= 2 && digits == 1 && word.chars().any(|c| c == '.') {
                word.replace('1', "I").replace('0', "O")
            } else {
                word.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

static LEGAL_FORM: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"(?i)\b(SDN\.?\s*BHD\.?|BHD\.?|S/B|LTD\.?|TBK\.?|PLT|LLP|INC\.?|CO\.)(\s|$)").expect("legal form pattern"));

/// A printed name without registration numbers, stray marks and extra
/// spaces: nothing after the legal form (`SDN BHD`, `TBK`), no leading or
/// trailing specks OCR made of dirt.
fn clean_name(text: &str) -> String {
    let mut collapsed = repair_name(&text.split_whitespace().collect::<Vec<_>>().join(" "));
    if let Some(end) = LEGAL_FORM.find_iter(&collapsed).last().map(|m| m.end()) {
        collapsed.truncate(end);
    }
    let without_reg = REGISTRATION_TAIL.replace(&collapsed, "");
    let alnum = |t: &str| t.chars().filter(|c| c.is_alphanumeric()).count();
    let upper = without_reg.chars().filter(|c| c.is_uppercase()).count() > without_reg.chars().filter(|c| c.is_lowercase()).count();
    let mut tokens: Vec<&str> = without_reg.split_whitespace().collect();
    while tokens.first().is_some_and(|t| alnum(t) < 2 && !t.chars().any(|c| c.is_alphabetic() && c.is_uppercase())) {
        tokens.remove(0);
    }
    while tokens.last().is_some_and(|t| alnum(t) < 2 || (upper && t.len() <= 2 && t.chars().all(|c| c.is_lowercase()))) {
        tokens.pop();
    }
    let joined = tokens.join(" ");
    let trimmed = joined.trim_matches(|c: char| !(c.is_alphanumeric() || matches!(c, ')' | '.' | '\'' | '&')));
    trimmed.trim_start_matches([')', '.']).trim().to_owned()
}

const MONTHS: &str = r"JAN(?:UARI|UARY)?|FEB(?:RUARI|RUARY)?|PEB(?:RUARI)?|MAR(?:ET|CH)?|APR(?:IL)?|MEI|MAY|JUN[IE]?|JUL[IY]?|AGU(?:STUS)?|AGT|AGS|AUG(?:UST)?|SEP(?:T(?:EMBER)?)?|OKT(?:OBER)?|OCT(?:OBER)?|NOV(?:EMBER)?|NOP(?:EMBER)?|DES(?:EMBER)?|DEC(?:EMBER)?";

static DATES: LazyLock<[Regex; 4]> = LazyLock::new(|| {
    [
        Regex::new(r"(?:^|[^\d])(?P<all>(?P<y>\d{4})[/\-.](?P<m>\d{1,2})[/\-.](?P<d>\d{1,2}))(?:[^\d]|$)").expect("ymd"),
        Regex::new(r"(?:^|[^\d])(?P<all>(?P<d>\d{1,2})\s?(?P<s1>[/\-.])\s?(?P<m>\d{1,2})\s?(?P<s2>[/\-.])\s?(?P<y>\d{4}|\d{2}))(?:[^\d]|$)").expect("dmy"),
        Regex::new(&format!(r"(?i)(?:^|[^\dA-Z])(?P<all>(?P<d>\d{{1,2}})[\s\-/.]?(?P<mon>{MONTHS})[\s\-/.,']*(?P<y>\d{{4}}|\d{{2}}))(?:[^\d]|$)")).expect("d mon y"),
        Regex::new(&format!(r"(?i)(?:^|[^A-Z])(?P<all>(?P<mon>{MONTHS})[\s.]+(?P<d>\d{{1,2}}),?\s+(?P<y>\d{{4}}))(?:[^\d]|$)")).expect("mon d, y"),
    ]
});

static TIME: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"(?i)(?:^|[^\d:])(?P<all>(?P<h>\d{1,2}):(?P<m>\d{2})(?::(?P<s>\d{2}))?(?:\s?(?P<ap>AM|PM))?)(?:[^\d:]|$)").expect("time"));

/// OCR reads `0` as `O` and `1` as `I`, `l` or `|` in dates (`O1-Nov-2017`):
/// such a letter between digits or date separators is read as the digit.
fn digits_in_dates(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let numeric = |c: Option<&char>| c.is_some_and(|c| c.is_ascii_digit() || matches!(c, '/' | '-'));
    let edge = |c: Option<&char>| c.is_none_or(|c| c.is_whitespace() || matches!(c, ':' | ','));
    chars
        .iter()
        .enumerate()
        .map(|(i, &c)| {
            let (before, after) = (if i > 0 { chars.get(i - 1) } else { None }, chars.get(i + 1));
            let between = (numeric(before) || edge(before)) && numeric(after) || numeric(before) && (numeric(after) || edge(after));
            match c {
                'O' | 'o' | 'D' if between => '0',
                'I' | 'l' | '|' if between => '1',
                _ => c,
            }
        })
        .collect()
}

fn year_of(text: &str) -> Option<i32> {
    let y: i32 = text.parse().ok()?;
    Some(if text.len() == 2 { 2000 + y } else { y })
}

/// The date printed on the receipt (a line saying `DATE`/`TANGGAL`/`TGL`
/// preferred, else the first one), and the time of day.
fn date_and_time(rows: &[Row<'_>]) -> (Option<Field<NaiveDate>>, Option<Field<NaiveTime>>) {
    let mut dates: Vec<(usize, NaiveDate, String, f32)> = Vec::new();
    for (i, row) in rows.iter().enumerate() {
        let text = digits_in_dates(&row.line.text);
        let text = text.as_str();
        for (p, pattern) in DATES.iter().enumerate() {
            // Overlapping: `REG #19- 21/05/2018` first offers `19- 21/05`,
            // which is no date, and the real one starts inside it.
            let mut from = 0;
            while let Some(c) = pattern.captures_at(text, from) {
                let all = c.name("all").expect("all");
                from = text[all.start()..].chars().next().map_or(text.len(), |ch| all.start() + ch.len_utf8());
                let Some(y) = c.name("y").and_then(|m| year_of(m.as_str())) else { continue };
                let d: u32 = c["d"].parse().unwrap_or(0);
                let (m, mut certainty) = match c.name("mon") {
                    Some(mon) => (month_number(&mon.as_str().to_lowercase()[..3.min(mon.len())]).or_else(|| month_number(mon.as_str())).unwrap_or(0), 0.95),
                    None => (c["m"].parse().unwrap_or(0), 0.9),
                };
                if !(2000..=2100).contains(&y) {
                    continue;
                }
                let date = match NaiveDate::from_ymd_opt(y, m, d) {
                    Some(date) => date,
                    // `12/25/2018`: only month-first makes a date.
                    None if p == 1 => match NaiveDate::from_ymd_opt(y, d, m) {
                        Some(date) => {
                            certainty *= 0.6;
                            date
                        }
                        None => continue,
                    },
                    None => continue,
                };
                // `1- 25/05`: separators that differ are OCR's, or no date.
                if c.name("s1").zip(c.name("s2")).is_some_and(|(a, b)| a.as_str() != b.as_str()) {
                    certainty *= 0.5;
                }
                if row.has("DATE") || row.has("TANGGAL") || row.has("TGL") || row.has("TARIKH") || row.has("DATED") {
                    certainty = (certainty + 0.05_f32).min(1.0);
                } else {
                    certainty *= 0.9;
                }
                if !dates.iter().any(|(j, _, t, _)| *j == i && t.contains(all.as_str())) {
                    dates.push((i, date, all.as_str().to_owned(), certainty));
                }
            }
        }
    }
    let best = dates.iter().max_by(|a, b| a.3.total_cmp(&b.3).then(b.0.cmp(&a.0)));
    let date = best.map(|(i, date, text, certainty)| Field { value: *date, text: text.clone(), confidence: rows[*i].line.confidence * certainty, line: Some(*i as u32) });

    // The time: on the date's line if there is one there, else the first.
    let mut times = Vec::new();
    for (i, row) in rows.iter().enumerate() {
        for c in TIME.captures_iter(&row.line.text) {
            let mut h: u32 = c["h"].parse().unwrap_or(99);
            let m: u32 = c["m"].parse().unwrap_or(99);
            let s: u32 = c.name("s").and_then(|s| s.as_str().parse().ok()).unwrap_or(0);
            match c.name("ap").map(|a| a.as_str().to_uppercase()) {
                Some(ap) if ap == "PM" && (1..12).contains(&h) => h += 12,
                Some(ap) if ap == "AM" && h == 12 => h = 0,
                _ => {}
            }
            if let Some(t) = NaiveTime::from_hms_opt(h, m, s) {
                times.push((i, t, c["all"].to_owned()));
            }
        }
    }
    let date_line = best.map(|b| b.0);
    let time = times.iter().find(|t| Some(t.0) == date_line).or(times.first()).map(|(i, t, text)| Field { value: *t, text: text.clone(), confidence: rows[*i].line.confidence * 0.9, line: Some(*i as u32) });
    (date, time)
}

static QUANTITY: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"(?i)(?:^|\s)@?(?P<q>\d{1,3}(?:[.,]\d{1,3})?)\s?[Xx]\s?@?\s?(?:RM|Rp\.?)?\s?(?P<p>\d[\d.,]*)").expect("quantity"));
static LEADING_QUANTITY: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^\s*(?P<q>\d{1,2})\s*[Xx]?\s+(?P<name>\S.*)$").expect("leading quantity"));

/// Purchased lines: between the header and the first subtotal or total,
/// lines with a name and an amount. `2 X 9.40` lines give the line above
/// them its quantity and unit price.
fn items(rows: &[Row<'_>]) -> Vec<Item> {
    let end = rows.iter().position(|r| matches!(r.kind, Kind::Subtotal | Kind::Total(_))).unwrap_or(rows.len());
    let start = rows[..end].iter().position(|r| r.last_amount().is_some_and(Found::looks_like_money) && r.letters() >= 2 && r.kind == Kind::Other).unwrap_or(end);
    let mut items: Vec<Item> = Vec::new();
    let mut pending_name: Option<(usize, String)> = None;
    for (i, row) in rows.iter().enumerate().take(end).skip(start) {
        if row.kind != Kind::Other {
            pending_name = None;
            continue;
        }
        let Some(last) = row.last_amount().filter(|f| f.looks_like_money()) else {
            if row.letters() >= 3 {
                pending_name = Some((i, row.text.trim().to_owned()));
            }
            continue;
        };
        let quantity = QUANTITY.captures(&row.text).and_then(|c| {
            let q = amounts::find(&c["q"]).first().map(|f| f.amount)?;
            let p = amounts::find(&c["p"]).first().map(|f| f.amount)?;
            Some((q, p))
        });
        let name_part = row.text[..last.start].trim();
        let name: String = name_part.trim_end_matches(|c: char| !c.is_alphabetic()).trim().to_owned();
        let name_letters = name.chars().filter(|c| c.is_alphabetic()).count();
        if name_letters < 2 {
            // Only numbers: the quantity line of the item above, or of a name on its own line.
            if let Some((q, p)) = quantity {
                if let Some((j, name)) = pending_name.take() {
                    items.push(Item { name, quantity: Some(q), unit_price: Some(p), total: last.amount, confidence: row.line.confidence * 0.7, line: j as u32 });
                } else if let Some(item) = items.last_mut().filter(|it| it.quantity.is_none()) {
                    item.quantity = Some(q);
                    item.unit_price = Some(p);
                }
            } else if let Some((j, name)) = pending_name.take() {
                let q = row.amounts.first().filter(|f| row.amounts.len() >= 2 && f.amount.scale == 0 && f.amount.minor < 1000).map(|f| f.amount);
                items.push(Item { name, quantity: q, unit_price: None, total: last.amount, confidence: row.line.confidence * 0.6, line: j as u32 });
            }
            continue;
        }
        pending_name = None;
        let (name, leading_q) = match LEADING_QUANTITY.captures(&name) {
            Some(c) => (c["name"].trim().to_owned(), c["q"].parse::<i64>().ok().map(Amount::whole)),
            None => (name, None),
        };
        let name = name.split("   ").next().unwrap_or(&name).trim().to_owned();
        let (quantity, unit_price) = match quantity {
            Some((q, p)) => (Some(q), Some(p)),
            None => (leading_q, None),
        };
        items.push(Item { name, quantity, unit_price, total: last.amount, confidence: row.line.confidence * 0.7, line: i as u32 });
    }
    items
}

/// Chooses the total among what the lines propose; see the module documentation.
fn total<'a>(rows: &'a [Row<'a>], receipt: &Receipt, value_of: &dyn Fn(usize) -> Option<(usize, &'a Found)>, mark: char) -> Option<Field<Amount>> {
    struct Candidate<'f> {
        found: &'f Found,
        line: usize,
        score: f32,
    }
    // How this receipt writes money: with cents (`8.70`) when most of its
    // amounts do. On such a receipt `70`, `10.0` or a stray `4` is a misread.
    // (Rupiah receipts group thousands instead: `22.000`.)
    let cents = rows.iter().flat_map(|r| &r.amounts).filter(|f| f.amount.scale == 2).count();
    let thousands = rows.iter().flat_map(|r| &r.amounts).filter(|f| f.grouped && f.amount.scale == 0).count();
    let in_cents = cents >= 3 && cents > 2 * thousands;
    let misshapen = |f: &Found| in_cents && f.amount.scale != 2;
    let mut candidates: Vec<Candidate<'_>> = Vec::new();
    for (i, row) in rows.iter().enumerate() {
        if let Kind::Total(strength) = row.kind {
            if let Some((j, mut f)) = value_of(i) {
                // `RM 23.00 4`: the amount, not the speck after it.
                if misshapen(f) {
                    if let Some(g) = rows[j].amounts.iter().rev().find(|g| !misshapen(g) && g.amount.is_positive()) {
                        f = g;
                    }
                }
                if f.amount.is_positive() {
                    let shape = if misshapen(f) { -6.0 } else { 0.0 };
                    candidates.push(Candidate { found: f, line: j, score: 3.0 * strength as f32 + shape });
                }
            }
        }
    }
    let amount = |f: &Option<Field<Amount>>| f.as_ref().map(|f| f.value);
    let paid = amount(&receipt.paid);
    let change = amount(&receipt.change);
    let from_payment = paid.zip(change).map(|(p, c)| p.minus(&c)).filter(Amount::is_positive);
    let from_parts = amount(&receipt.subtotal).map(|s| {
        let mut t = s;
        if let Some(tax) = amount(&receipt.tax) {
            t = t.plus(&tax);
        }
        if let Some(service) = amount(&receipt.service) {
            t = t.plus(&service);
        }
        if let Some(r) = amount(&receipt.rounding) {
            t = t.plus(&r);
        }
        t
    });
    let items_sum = (receipt.items.len() >= 2).then(|| receipt.items.iter().fold(Amount::whole(0), |a, it| a.plus(&it.total)));

    if candidates.is_empty() {
        // No line names a total: what was paid less the change, what was
        // paid exactly, or the largest amount printed twice.
        for (i, row) in rows.iter().enumerate() {
            for f in &row.amounts {
                if !f.amount.is_positive() || matches!(row.kind, Kind::Change | Kind::Count | Kind::Tax | Kind::Rounding) {
                    continue;
                }
                let mut score = 0.0;
                if from_payment.is_some_and(|v| v.same_value(&f.amount)) {
                    score += 4.0;
                }
                if matches!(row.kind, Kind::Paid(_)) && change.is_none_or(|c| c.minor == 0) {
                    score += 2.0;
                }
                if from_parts.is_some_and(|v| v.same_value(&f.amount)) || items_sum.is_some_and(|v| v.same_value(&f.amount)) {
                    score += 2.0;
                }
                let repeats = rows.iter().flat_map(|r| &r.amounts).filter(|g| g.amount.same_value(&f.amount)).count();
                if repeats >= 2 && row.kind == Kind::Subtotal {
                    score += 1.0;
                }
                if repeats >= 2 {
                    score += 1.0;
                }
                if score > 0.0 {
                    candidates.push(Candidate { found: f, line: i, score });
                }
            }
        }
        let best = candidates.iter().max_by(|a, b| a.score.total_cmp(&b.score).then(a.found.amount.units4().cmp(&b.found.amount.units4())));
        if let Some(best) = best {
            let certainty = (0.25 + 0.08 * best.score).min(0.7);
            return Some(Field { value: best.found.amount, text: best.found.text_with_mark(mark), confidence: rows[best.line].line.confidence * certainty, line: Some(best.line as u32) });
        }
        // Not printed anywhere: paid − change, surer when the items add up to it.
        let value = from_payment?;
        let certainty = if items_sum.is_some_and(|s| s.same_value(&value)) { 0.6 } else { 0.4 };
        let line = receipt.change.as_ref().and_then(|c| c.line);
        let confidence = line.map_or(1.0, |l| rows[l as usize].line.confidence) * certainty;
        return Some(Field { value, text: String::new(), confidence, line: None });
    }

    // What was paid, when the receipt's arithmetic says it is the total
    // and the total line says otherwise (its digits misread).
    // So is an exact payment when every total line is misread.
    let all_misread = candidates.iter().all(|c| misshapen(c.found));
    for (i, row) in rows.iter().enumerate() {
        if let (Kind::Paid(_), Some(f)) = (row.kind, row.last_amount()) {
            let arithmetic = from_parts.is_some_and(|p| p.same_value(&f.amount));
            let exact = all_misread && !misshapen(f) && change.is_none_or(|c| c.minor == 0);
            if (arithmetic || exact) && !candidates.iter().any(|c| c.found.amount.same_value(&f.amount)) {
                candidates.push(Candidate { found: f, line: i, score: 2.0 });
            }
        }
    }
    let rounding = amount(&receipt.rounding);
    let rounding_line = rows.iter().position(|r| r.kind == Kind::Rounding);
    let values: Vec<Amount> = candidates.iter().map(|c| c.found.amount).collect();
    for c in &mut candidates {
        let v = c.found.amount;
        if from_payment.is_some_and(|p| p.same_value(&v)) {
            c.score += 3.0;
        }
        if paid.is_some_and(|p| p.same_value(&v)) {
            c.score += 1.5;
        }
        if from_parts.is_some_and(|p| p.same_value(&v)) {
            c.score += 2.0;
        }
        if items_sum.is_some_and(|s| s.same_value(&v)) {
            c.score += 1.0;
        }
        // After rounding: another proposal plus the rounding gives this one.
        if let Some(r) = rounding.filter(|r| r.minor != 0) {
            if values.iter().any(|o| o.plus(&r).same_value(&v)) {
                c.score += 2.5;
            }
        }
        // After a rounding line the amount payable is the rounded one.
        if rounding_line.is_some_and(|r| c.line > r) {
            c.score += 1.0;
        }
        // A total larger than what was paid is unlikely (paid − change ≤ paid).
        if paid.is_some_and(|p| v.units4() > p.units4()) && change.is_some() {
            c.score -= 2.0;
        }
        if receipt.change.as_ref().is_some_and(|ch| ch.value.same_value(&v) && Some(c.line as u32) == ch.line) {
            c.score -= 10.0;
        }
    }
    // Equal proposals add up; ties go to the later line (totals after rounding come last).
    let mut best: Option<(f32, &Candidate<'_>)> = None;
    for c in &candidates {
        let agreeing = candidates.iter().filter(|o| o.found.amount.same_value(&c.found.amount)).count();
        let score = c.score + 0.75 * (agreeing - 1) as f32;
        if best.is_none_or(|(s, b)| score > s || (score == s && c.line > b.line)) {
            best = Some((score, c));
        }
    }
    let (score, best) = best?;
    let certainty = (0.35 + 0.07 * score).min(0.99);
    // `Total 31.47`, `Rounding -0.02`, then only cash and change: the
    // amount paid is the rounded one, printed nowhere but proven by the change.
    if let (Some(r), Some(p)) = (rounding.filter(|r| r.minor != 0), from_payment) {
        if p.scale == 2 && best.found.amount.plus(&r).same_value(&p) && !candidates.iter().any(|c| c.found.amount.same_value(&p)) {
            let text = if mark == ',' { p.to_string().replace('.', ",") } else { p.to_string() };
            return Some(Field { value: p, text, confidence: rows[best.line].line.confidence * certainty * 0.9, line: Some(best.line as u32) });
        }
    }
    let printed = best.found.text_with_mark(mark);
    Some(Field { value: best.found.amount, text: printed, confidence: rows[best.line].line.confidence * certainty, line: Some(best.line as u32) })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn receipt(text: &str) -> Receipt {
        parse(&Page::from_text(text))
    }

    fn total_of(text: &str) -> String {
        receipt(text).total.map(|t| t.value.to_string()).unwrap_or_default()
    }

    #[test]
    fn merchant_names_are_repaired_and_addresses_are_not_names() {
        let merchant = |text: &str| receipt(text).merchant.map(|m| m.value).unwrap_or_default();
        assert_eq!(repair_name("MR. D.1.Y. (M) SON BHD"), "MR. D.I.Y. (M) SDN BHD");
        assert_eq!(repair_name("Guardian Health And Beauty Sin Bhd"), "Guardian Health And Beauty Sdn Bhd");
        assert_eq!(repair_name("AEON CO. (M) BHO (126926-H)"), "AEON CO. (M) BHD (126926-H)");
        assert_eq!(repair_name("SKCA HARDWARE & TIMBER SDN. BHD."), "SKCA HARDWARE & TIMBER SDN. BHD.");
        assert_eq!(repair_name("A1 MART"), "A1 MART");
        let date = |text: &str| receipt(text).date.map(|d| d.value.to_string()).unwrap_or_default();
        assert_eq!(date("ORD #94 -REG #19- 21/05/2018 11:59:48"), "2018-05-21");
        assert_eq!(date("ORD #69 -REG #1- 25/05/2018 18:12:50"), "2018-05-25");
        // A legal form beats a business word, which beats the first line.
        assert_eq!(merchant("EIGHT OUNCE\nCOFFEE\nEIGHT OUNCE COFFEE CO. THE GARDENS MALL\nGST No. 002063339520"), "EIGHT OUNCE COFFEE CO.");
        assert_eq!(merchant("AOL 12%\nGerbang Alaf Restaurants Sdn Bha\n(65351-M)\nLicensee of McDonald's"), "Gerbang Alaf Restaurants Sdn Bhd");
        // `PT` inside an address is not a company.
        assert_eq!(merchant("KFA SUPPLY\n( ROC : SA0416111-K )\n125A TINGKAT BAWAH PT 1961 JALAN MALINJA\nTAX INVOICE"), "KFA SUPPLY");
        assert_eq!(merchant("PT Sumber Alfaria Trijaya Tbk\nJl. MH Thamrin No. 9"), "PT Sumber Alfaria Trijaya Tbk");
    }

    #[test]
    fn indonesian_receipt_with_tunai_and_kembali() {
        let r = receipt(
            "TOKO SUMBER REJEKI\nJl. Merdeka No. 10, Bandung\nTelp 022-123456\n21/11/2026 14:35\n\
             Indomie Goreng   2 x 3.500   7.000\nTelur 1kg   28.000\nSUBTOTAL   35.000\nPPN 11%   3.850\n\
             TOTAL BAYAR   Rp 38.850\nTUNAI   Rp 50.000\nKEMBALI   Rp 11.150",
        );
        assert_eq!(r.merchant.as_ref().map(|m| m.value.as_str()), Some("TOKO SUMBER REJEKI"));
        assert_eq!(r.date.as_ref().map(|d| d.value), NaiveDate::from_ymd_opt(2026, 11, 21));
        assert_eq!(r.date.as_ref().map(|d| d.text.as_str()), Some("21/11/2026"));
        assert_eq!(r.time.as_ref().map(|t| t.value), NaiveTime::from_hms_opt(14, 35, 0));
        let total = r.total.expect("total");
        assert_eq!(total.value, Amount::whole(38850));
        assert_eq!(total.text, "38.850");
        assert!(total.confidence > 0.9, "{}", total.confidence);
        assert_eq!(r.subtotal.map(|s| s.value), Some(Amount::whole(35000)));
        assert_eq!(r.tax.map(|s| s.value), Some(Amount::whole(3850)));
        assert_eq!(r.paid.map(|s| s.value), Some(Amount::whole(50000)));
        assert_eq!(r.change.map(|s| s.value), Some(Amount::whole(11150)));
        assert_eq!(r.payment_method.map(|m| m.value), Some(PaymentMethod::Cash));
        assert_eq!(r.currency.map(|c| c.value).as_deref(), Some("IDR"));
        assert_eq!(r.items.len(), 2, "{:?}", r.items);
        assert_eq!(r.items[0].name, "Indomie Goreng");
        assert_eq!(r.items[0].quantity, Some(Amount::whole(2)));
        assert_eq!(r.items[0].total, Amount::whole(7000));
    }

    #[test]
    fn change_is_never_the_total() {
        // The change is the largest number after the cash; no total word.
        assert_eq!(total_of("WARUNG BU SRI\nNasi rames 15.000\nEs teh 5.000\nTUNAI 100.000\nKEMBALI 80.000"), "20000");
        assert_eq!(total_of("KEDAI\nCASH 50.00\nCHANGE 40.00\nTOTAL 10.00"), "10.00");
    }

    #[test]
    fn malaysian_receipt_with_rounding_and_gst() {
        let r = receipt(
            "99 SPEED MART S/B (519537-X)\nLOT P.T. 33198, BATU 4\nINVOICE NO : 17664/103/T0027\n11-05-16 12:10\n\
             ANCHOR SERBUK CUCI 4KG   RM18.80\nDOVE CREAM BAR SOAP   RM26.50\n\
             Total Sales (Inclusive GST)   RM 177.22\nRounding Adjustment   RM -.02\nTotal After Rounding   RM 177.20\nCASH   RM 200.00\nCHANGE   RM 22.80",
        );
        assert_eq!(r.merchant.map(|m| m.value).as_deref(), Some("99 SPEED MART S/B"));
        assert_eq!(r.date.as_ref().map(|d| d.text.as_str()), Some("11-05-16"));
        assert_eq!(r.date.map(|d| d.value), NaiveDate::from_ymd_opt(2016, 5, 11));
        assert_eq!(r.total.as_ref().map(|t| t.text.as_str()), Some("177.20"));
        assert_eq!(r.rounding.map(|t| t.value.to_string()).as_deref(), Some("-0.02"));
        assert_eq!(r.currency.map(|c| c.value).as_deref(), Some("MYR"));
    }

    #[test]
    fn after_rounding_the_rounded_total_counts_and_included_tax_is_tax() {
        assert_eq!(total_of("Grand Total : 87.08\nRounding Adjustment: 7a\nNet Total : 87.10"), "87.10");
        // Rounded, printed nowhere, proven by the change.
        assert_eq!(total_of("Total Amount(incl. GST)   31.47\nRounding   -0.02\nCASH   50.00\nCHANGE   18.55"), "31.45");
        // An adjustment misread as 9.00 is not a rounded total.
        assert_eq!(total_of("Total   14.90\nRound Adj   9.00\nFinalTotal   14.90\nCASH   20.00\nCHANGE   5.10"), "14.90");
        // A misread total loses to cash and change when subtotal and tax
        // (a zero tax line first, the real one in the summary) agree with them.
        assert_eq!(total_of("SUB-TOTAL   103.77\nTAX   0.00\nTOTAL   110.60\nCASH   110.00\nCHANGE   0.00\nTAX TOTAL:   6.23"), "110.00");
        // Nor is a rounding of 0.92 (a misread 0.02) a total of one ringgit.
        assert_eq!(total_of("Item   3.05\nItem   3.78\nROUNDING   0.92\nTOTAL   6.85\nCash   20.00\nCHANGE   13.15"), "6.85");
        // On a receipt in cents, `&70` and a lone `30` are misreads.
        assert_eq!(total_of("3 X 2.9000   8.70\nTotal Sales Inclusive GST @6%   8.70\nTotal   8.70\nRound Adj   0.00\nFinal Total   &70\nCASH   10.00\nCHANGE   1.30"), "8.70");
        assert_eq!(total_of("Item A   48.40\nGST   2.90\nGrand Total RD 1 . 30\nCash   RM51.30"), "51.30");
        // Two label/amount pairs on one printed line stay apart.
        let r = receipt("Samudra Bun 180g   3.05\nSiew Pak Choy   3.78\nTOTAL SAVING:   0.00   TOTAL   6.83\nCash   20.00   CHANGE   13.17");
        assert_eq!((r.total.as_ref().map(|t| t.value.to_string()), r.total.and_then(|t| t.line)), (Some("6.83".to_owned()), Some(2)));
        assert_eq!((r.paid.map(|p| p.value.to_string()), r.change.map(|c| c.value.to_string())), (Some("20.00".to_owned()), Some("13.17".to_owned())));
        assert_eq!(total_of("Total Sales (Inclusive GST) RM 37.44\nRounding Adjustment RM -0.01\nRounding RM 37.45\nCHANGE RM .00"), "37.45");
        let r = receipt("Total (incl GST) 70.30\nChange 9.00\nTOTAL INCLUDES 6% GST 3.98");
        assert_eq!(r.total.map(|t| t.value.to_string()).as_deref(), Some("70.30"));
        assert_eq!(r.tax.map(|t| t.value.to_string()).as_deref(), Some("3.98"));
        assert_eq!(total_of("TOTAL INCL. GST@6% RM 12.50\nCASH RM 15.00\nCHANGE RM 2.50\nGST @6% included in total RM 0.71"), "12.50");
    }

    #[test]
    fn grand_total_beats_total_and_subtotal_is_not_it() {
        assert_eq!(total_of("Auntie Anne's\nORIGINAL COMBO\n1 20,000 20,000\nLEMONADE R\n1 5,000 5,000\nSUB TOTAL 25,000\nTAX 2,500\nGRAND TOTAL 27,500\nDEBIT BCA 27,500"), "27500");
        assert_eq!(total_of("1.5 JAM .225,000\nST 10% .225,000\nTAX .22,500\nTOTAL .247,500\nCASH .247,500"), "247500");
        assert_eq!(total_of("C 1,000 130.000,00 130.000,00\nTotal: 130.000,00\nBayar: 130.000,00\nKembali: 0,00"), "130000.00");
    }

    #[test]
    fn merchant_names_lose_registration_numbers_and_specks() {
        assert_eq!(clean_name("99 SPEED MART S/B (519537-X)"), "99 SPEED MART S/B");
        assert_eq!(clean_name("0 : UNIHAKKA INTERNATIONAL SDN BHD | ."), "UNIHAKKA INTERNATIONAL SDN BHD");
        assert_eq!(clean_name("AEON CO. (M) BHD cco"), "AEON CO. (M) BHD");
        assert_eq!(clean_name("SANYU SUPPLY SDN BHD (1135772-K) le"), "SANYU SUPPLY SDN BHD");
        assert_eq!(clean_name("SKCA HARDWARE & TIMBER SDN. BHD."), "SKCA HARDWARE & TIMBER SDN. BHD.");
        assert_eq!(clean_name("MR. D.I.Y. (M) SDN BHD"), "MR. D.I.Y. (M) SDN BHD");
        assert_eq!(clean_name("PT Sumber Alfaria Trijaya Tbk"), "PT Sumber Alfaria Trijaya Tbk");
        assert_eq!(clean_name("Warung Makan Bu Tini"), "Warung Makan Bu Tini");
        let r = receipt("MPH BOOKSTORES\nSDN BHD\nTEL 03-1234\nTOTAL 9.00");
        assert_eq!(r.merchant.map(|m| m.value).as_deref(), Some("MPH BOOKSTORES SDN BHD"));
    }

    #[test]
    fn dates_in_many_notations() {
        let d = |t: &str| receipt(t).date.map(|d| (d.value.to_string(), d.text));
        assert_eq!(d("Date: 2016/05/01 14:11:20"), Some(("2016-05-01".into(), "2016/05/01".into())));
        assert_eq!(d("05 MAY 18 10:00"), Some(("2018-05-05".into(), "05 MAY 18".into())));
        assert_eq!(d("TGL 01-NOV-2017"), Some(("2017-11-01".into(), "01-NOV-2017".into())));
        assert_eq!(d("OCT 3, 2016"), Some(("2016-10-03".into(), "OCT 3, 2016".into())));
        assert_eq!(d("21 Des 2025"), Some(("2025-12-21".into(), "21 Des 2025".into())));
        assert_eq!(d("18:28 PM, 08 Apr 2019"), Some(("2019-04-08".into(), "08 Apr 2019".into())));
        assert_eq!(d("TEL 03-6258 0869"), None);
        assert_eq!(d("O1-Nov-2017 11:20:04AM"), Some(("2017-11-01".into(), "01-Nov-2017".into())));
        assert_eq!(d("Date: 2l/05/2018"), Some(("2018-05-21".into(), "21/05/2018".into())));
    }

    #[test]
    fn ocr_slips_in_keywords_are_forgiven() {
        assert_eq!(total_of("T0TAL   25.000\nTUNAI 30.000\nKEMBALI 5.000"), "25000");
        assert_eq!(total_of("TOTAI 9.00\nCASH 10.00"), "9.00");
    }

    #[test]
    fn nothing_to_read_gives_nothing() {
        let r = receipt("");
        assert!(r.total.is_none() && r.merchant.is_none() && r.date.is_none());
        let r = receipt("|||| ~~~ ,,,");
        assert!(r.total.is_none());
    }
}
