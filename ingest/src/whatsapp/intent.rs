//! What a WhatsApp message asks for: a transaction to record (`jual bakso
//! 20 porsi 300rb`, `beli gas 3kg 22.000`, `terima transfer 1,5jt dari
//! Budi`), a question (`saldo`, `laporan minggu ini`, `status`), a
//! correction (`ubah kategori terakhir jadi Bahan Baku`, `hapus terakhir`),
//! an answer to a photo (`YA`, `TIDAK`), or help. Indonesian first, simple
//! English too; the language of the reply is the language of the words
//! recognised. Pure: no I/O, every rule is a test below.
//!
//! Amounts are read by [`crate::money`], the reader of every connector. A
//! number counts as an amount only when it looks like money (`Rp`, a unit
//! such as `rb`/`jt`/`k`, thousands grouping, or at least 1,000): `20
//! porsi` and `3kg` are quantities. `20 porsi @15rb` and `20 x 15rb` are
//! multiplied. Two amounts, or an amount without a word saying which way
//! the money went, are asked about, never guessed.

use std::sync::LazyLock;

use arus_schemas::Lang;
use regex::Regex;

use crate::money::{parse_money, BigM, MoneyError, MoneyOptions};

/// The day a recorded transaction happened, as the message says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Day {
    Today,
    Yesterday,
}

/// The days a report covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    Today,
    Yesterday,
    /// Monday of this week until now.
    Week,
    /// The first of this month until now.
    Month,
}

/// A transaction written in a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Signed whole rupiah: positive is money in.
    pub amount: i64,
    /// The message without its amount, as written (`Jual bakso 20 porsi`).
    pub description: String,
    /// Who paid or was paid (`dari Budi`), when the message says.
    pub counterparty: Option<String>,
    pub day: Day,
}

/// Why a message that looks like a transaction cannot be recorded as is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unclear {
    /// An amount, but nothing says whether money came in or went out.
    NoDirection { amount: i64, description: String },
    /// A word like `jual` or `beli`, but no amount.
    NoAmount { description: String },
    /// More than one amount (`Rp 22.000` and `Rp 15.000`): one transaction per message.
    TwoAmounts { amounts: Vec<i64> },
    /// Something written like an amount that is not one (`1,5m`: miliar or million?).
    BadAmount { text: String, reason: String },
    /// Nothing recognised.
    Unknown,
}

/// What a message asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Intent {
    Record(Entry),
    Balance,
    Report(Period),
    Status,
    Budget,
    Goal,
    /// `bantuan`, `help`, `menu`.
    Help,
    /// `halo`, `hi`: help with a greeting.
    Greeting,
    /// `YA`: book the photo waiting for an answer.
    Confirm,
    /// `TIDAK`: do not book it.
    Decline,
    /// `ubah kategori terakhir jadi …`: the category as written.
    SetLastCategory(String),
    /// `hapus terakhir`: reverse the last transaction.
    UndoLast,
    /// `budget makan 1,5jt`: a monthly budget for the category as written.
    SetBudget { category: String, amount: i64 },
    /// `target dana darurat 5jt Desember`: a savings goal by the end of a
    /// month (`(month 1..=12, year if written)`), or with no month written.
    SetGoal { name: String, amount: i64, by: Option<(u32, Option<i32>)> },
    Unclear(Unclear),
}

/// A message's intent and the language to answer in.
pub fn parse(text: &str) -> (Intent, Lang) {
    let words = normalise(text);
    let joined = words.join(" ");
    if let Some(found) = command(&joined, &words) {
        return found;
    }
    if let Some(caps) = SET_CATEGORY.captures(&joined) {
        let lang = if caps.name("en").is_some() { Lang::En } else { Lang::Id };
        // The category as the person wrote it (case kept), from the original text.
        let wanted = caps.name("category").map_or("", |m| m.as_str());
        let original = original_tail(text, wanted.split(' ').count());
        return (Intent::SetLastCategory(original), lang);
    }
    if let Some(found) = plan(text) {
        return found;
    }
    record(text)
}

/// The month a word names (`desember`, `des`, `december`, `dec`).
fn month_word(word: &str) -> Option<u32> {
    Some(match word {
        "januari" | "jan" | "january" => 1,
        "februari" | "feb" | "pebruari" | "february" => 2,
        "maret" | "mar" | "march" => 3,
        "april" | "apr" => 4,
        "mei" | "may" => 5,
        "juni" | "jun" | "june" => 6,
        "juli" | "jul" | "july" => 7,
        "agustus" | "agu" | "agt" | "ags" | "aug" | "august" => 8,
        "september" | "sep" | "sept" => 9,
        "oktober" | "okt" | "oct" | "october" => 10,
        "november" | "nov" | "nop" => 11,
        "desember" | "des" | "dec" | "december" => 12,
        _ => return None,
    })
}

/// `budget <category> <amount>` and `target <name> <amount> [<month> [<year>]]`
/// (also `anggaran`, `tabungan`, English `goal`/`saving`); `None` when the
/// message is not one, so it is read as a transaction.
fn plan(text: &str) -> Option<(Intent, Lang)> {
    let original: Vec<&str> = text.split_whitespace().filter(|w| !normalise(w).is_empty()).collect();
    let words: Vec<String> = original.iter().map(|w| normalise(w).concat()).collect();
    let (first, rest) = words.split_first()?;
    let goal = match first.as_str() {
        "budget" | "anggaran" | "budgetkan" => false,
        "target" | "tabungan" | "nabung" | "goal" | "saving" | "savings" => true,
        _ => return None,
    };
    let lang = if matches!(first.as_str(), "goal" | "saving" | "savings") || english_hint(rest) == Lang::En { Lang::En } else { Lang::Id };
    let mut used = vec![false; words.len()];
    used[0] = true;
    // The month (and year) a goal is due, read before amounts so `2027` is not money.
    let mut by = None;
    if goal {
        if let Some(at) = (1..words.len()).rev().find(|&i| month_word(&words[i]).is_some()) {
            let year = words.get(at + 1).and_then(|y| y.parse::<i32>().ok()).filter(|y| (2000..=2100).contains(y));
            by = Some((month_word(&words[at]).expect("found above"), year));
            used[at] = true;
            if year.is_some() {
                used[at + 1] = true;
            }
            // `sampai Desember`, `by December`.
            if at >= 2 && matches!(words[at - 1].as_str(), "sampai" | "hingga" | "bulan" | "by" | "before" | "sebelum" | "akhir") {
                used[at - 1] = true;
            }
        }
    }
    let kept: Vec<String> = words.iter().zip(&used).map(|(w, u)| if *u { String::new() } else { w.clone() }).collect();
    let found = amounts(&kept, lang);
    let [one] = found.as_slice() else {
        return match found.len() {
            0 => None,
            _ => Some((Intent::Unclear(Unclear::TwoAmounts { amounts: found.iter().filter_map(|f| f.value.as_ref().ok().copied()).collect() }), lang)),
        };
    };
    let amount = match &one.value {
        Ok(v) => *v,
        Err(e) => return Some((Intent::Unclear(Unclear::BadAmount { text: original[one.start..one.end].join(" "), reason: e.reason.clone() }), lang)),
    };
    used[one.start..one.end].iter_mut().for_each(|u| *u = true);
    let name: Vec<&str> = original
        .iter()
        .zip(&words)
        .zip(&used)
        .filter(|((_, w), u)| !**u && !FILLER.contains(&w.as_str()) && !matches!(w.as_str(), "untuk" | "for" | "per" | "sebulan" | "bulanan" | "a" | "month" | "monthly"))
        .map(|((o, _), _)| *o)
        .collect();
    if name.is_empty() {
        return None;
    }
    let name = name.join(" ");
    Some(if goal { (Intent::SetGoal { name, amount, by }, lang) } else { (Intent::SetBudget { category: name, amount }, lang) })
}

/// Lower-case words, punctuation at their ends dropped (`ya!` → `ya`,
/// `terakhir.` → `terakhir`); money characters inside kept (`1,5jt`).
fn normalise(text: &str) -> Vec<String> {
    text.split_whitespace()
        .map(|w| w.trim_matches(|c: char| matches!(c, '.' | ',' | '!' | '?' | ':' | ';' | '"' | '\'' | '*' | '_' | '(' | ')')).to_lowercase())
        .filter(|w| !w.is_empty())
        .collect()
}

/// The last `n` words of `text`, as written.
fn original_tail(text: &str, n: usize) -> String {
    let words: Vec<&str> = text.split_whitespace().collect();
    words[words.len().saturating_sub(n)..].join(" ").trim_matches(|c: char| matches!(c, '.' | '!' | '?' | '"' | '\'')).to_owned()
}

static SET_CATEGORY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"^(?:(?:ubah|ganti|ubahkan|gantikan|set)\s+kategori\s+(?:transaksi\s+)?(?:yang\s+)?terakhir|kategori\s+terakhir|(?P<en>(?:change|set)\s+(?:the\s+)?(?:last\s+category|category\s+of\s+(?:the\s+)?last(?:\s+one)?)))\s+(?:jadi|menjadi|ke|to|=)?\s*(?P<category>\S.*)$",
    )
    .expect("a valid pattern")
});

/// The commands: a whole message of a few known words.
fn command(joined: &str, words: &[String]) -> Option<(Intent, Lang)> {
    use Intent::*;
    let id = |i: Intent| Some((i, Lang::Id));
    let en = |i: Intent| Some((i, Lang::En));
    match joined {
        "bantuan" | "menu" | "tolong" | "panduan" | "cara pakai" | "info" | "?" => return id(Help),
        "help" | "commands" => return en(Help),
        "halo" | "hai" | "hallo" | "assalamualaikum" | "selamat pagi" | "selamat siang" | "selamat sore" | "selamat malam" | "mulai" | "p" => {
            return id(Greeting)
        }
        "hi" | "hello" | "hey" | "start" | "good morning" => return en(Greeting),
        "ya" | "y" | "iya" | "iyaa" | "ok" | "oke" | "okey" | "simpan" | "benar" | "betul" | "setuju" | "ya simpan" | "ya benar" => return id(Confirm),
        "yes" | "save" | "correct" | "okay" => return en(Confirm),
        "tidak" | "tdk" | "ga" | "gak" | "nggak" | "enggak" | "batal" | "jangan" | "salah" | "tidak usah" | "jangan simpan" => return id(Decline),
        "no" | "cancel" | "wrong" | "don't save" => return en(Decline),
        "saldo" | "cek saldo" | "saldo saya" | "sisa saldo" => return id(Balance),
        "balance" | "my balance" | "check balance" => return en(Balance),
        "status" | "tier" | "tier saya" | "status saya" | "level saya" | "kelas saya" | "cek status" | "cek tier" => return id(Status),
        "my tier" | "my status" | "my level" => return en(Status),
        "budget" | "anggaran" | "budget saya" | "anggaran saya" | "cek budget" | "cek anggaran" => return id(Budget),
        "my budget" | "budgets" => return en(Budget),
        "target" | "target saya" | "tabungan" | "cek target" | "target tabungan" => return id(Goal),
        "goal" | "goals" | "my goals" | "savings goal" => return en(Goal),
        "hapus terakhir" | "hapus yang terakhir" | "hapus transaksi terakhir" | "batal terakhir" | "batalkan terakhir" | "batalkan yang terakhir"
        | "hapus catatan terakhir" => return id(UndoLast),
        "undo" | "delete last" | "remove last" | "undo last" | "delete the last one" => return en(UndoLast),
        _ => {}
    }
    let first = words.first()?.as_str();
    let rest = words[1..].join(" ");
    let period = |rest: &str| -> Option<Period> {
        Some(match rest {
            "" | "hari ini" | "harian" | "today" | "daily" => Period::Today,
            "kemarin" | "yesterday" => Period::Yesterday,
            "minggu ini" | "pekan ini" | "mingguan" | "minggu" | "this week" | "week" | "weekly" => Period::Week,
            "bulan ini" | "bulanan" | "bulan" | "this month" | "month" | "monthly" => Period::Month,
            _ => return None,
        })
    };
    match first {
        "laporan" | "rekap" | "ringkasan" => period(&rest).map(|p| (Report(p), Lang::Id)),
        "report" | "summary" => period(&rest).map(|p| (Report(p), Lang::En)),
        _ => None,
    }
}

/// Which way money went, by the word that says it.
fn direction_of(word: &str) -> Option<(i64, Lang)> {
    let sign = match word {
        "jual" | "menjual" | "terjual" | "jualan" | "penjualan" | "terima" | "menerima" | "diterima" | "dapat" | "dapet" | "masuk" | "pemasukan"
        | "pendapatan" | "omzet" | "omset" | "laku" | "dibayar" | "untung" => (1, Lang::Id),
        "sold" | "sell" | "sale" | "sales" | "received" | "receive" | "got" | "income" | "earned" => (1, Lang::En),
        "beli" | "membeli" | "belanja" | "bayar" | "membayar" | "keluar" | "pengeluaran" | "biaya" | "ongkos" | "kirim" | "transfer" | "sewa"
        | "cicilan" | "angsuran" | "isi" | "servis" | "service" | "gaji" => (-1, Lang::Id),
        "bought" | "buy" | "paid" | "pay" | "spent" | "spend" | "expense" | "purchase" | "purchased" => (-1, Lang::En),
        _ => return None,
    };
    Some(sign)
}

/// Words of a money amount that are not part of what was bought or sold.
const FILLER: &[&str] = &["rp", "rp.", "sebesar", "seharga", "senilai", "total", "for", "@", "x", "sejumlah"];

/// Units written as a separate word after a number (`300 ribu`).
const UNIT_WORDS: &[&str] = &["rb", "ribu", "rbu", "k", "jt", "juta", "jta"];

static MONEYISH: LazyLock<Regex> = LazyLock::new(|| {
    // An optional sign and Rp, digits with separators, an optional rupiah unit.
    Regex::new(r"^(?P<sign>[+-])?(?P<rp>rp\.?)?(?P<num>\d[\d.,]*)(?P<unit>rb|ribu|rbu|k|jt|juta|jta|m)?$").expect("a valid pattern")
});

static GROUPED: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^\d{1,3}([.,]\d{3})+([.,]\d{1,2})?$").expect("a valid pattern"));

/// An amount found in a message: the words it spans and its value.
#[derive(Debug)]
struct Found {
    start: usize,
    end: usize,
    /// Whole rupiah (unsigned) or why it is not an amount.
    value: Result<i64, MoneyError>,
    /// `+`/`-` written before it.
    sign: Option<i64>,
}

/// Amounts in `words` (lower case), in order.
fn amounts(words: &[String], lang: Lang) -> Vec<Found> {
    let options = MoneyOptions { big_m: if lang == Lang::En { BigM::Million } else { BigM::Ask } };
    let mut found = Vec::new();
    let mut i = 0;
    while i < words.len() {
        // `@15rb`: a price each (see times_count).
        let w = words[i].trim_start_matches('@');
        // `Rp 25.000`: the currency as its own word.
        let (start, token, at) = if (w == "rp" || w == "rp.") && i + 1 < words.len() { (i, words[i + 1].as_str(), i + 1) } else { (i, w, i) };
        let Some(caps) = MONEYISH.captures(token) else {
            i += 1;
            continue;
        };
        let num = &caps["num"];
        let mut text = format!("{}{}", num, caps.name("unit").map_or("", |u| u.as_str()));
        let mut end = at + 1;
        // `300 ribu`, `1jt 500rb`.
        if caps.name("unit").is_none() && end < words.len() && UNIT_WORDS.contains(&words[end].as_str()) {
            text = format!("{text}{}", words[end]);
            end += 1;
        }
        while end < words.len() && caps.name("unit").is_some() {
            match MONEYISH.captures(&words[end]) {
                Some(next) if next.name("unit").is_some() && next.name("rp").is_none() && next.name("sign").is_none() => {
                    text = format!("{text} {}", &words[end]);
                    end += 1;
                }
                _ => break,
            }
        }
        let has_unit = text.chars().any(|c| c.is_ascii_alphabetic());
        let looks_like_money = caps.name("rp").is_some() || start < at || has_unit || GROUPED.is_match(num) || plain_thousands(num);
        if looks_like_money {
            let value = parse_money(&text, options).map(|m| m.rupiah.abs());
            let sign = caps.name("sign").map(|s| if s.as_str() == "-" { -1 } else { 1 });
            found.push(Found { start, end, value, sign });
            i = end;
        } else {
            i += 1;
        }
    }
    found
}

/// A bare whole number of at least 1,000 (`22000`): money, not a count.
fn plain_thousands(num: &str) -> bool {
    num.bytes().all(|b| b.is_ascii_digit()) && num.len() >= 4
}

/// A transaction, or why the message is not one.
fn record(text: &str) -> (Intent, Lang) {
    let original: Vec<&str> = text.split_whitespace().collect();
    let words = normalise(text);
    if words.len() != original.len() {
        // A word of punctuation only: keep the two lists aligned by dropping it from both.
        return record(&original.iter().filter(|w| !normalise(w).is_empty()).copied().collect::<Vec<_>>().join(" "));
    }
    let direction = words.iter().find_map(|w| direction_of(w));
    let lang = direction.map_or_else(|| english_hint(&words), |(_, l)| l);
    let found = amounts(&words, lang);
    let mut used = vec![false; words.len()];
    for f in &found {
        used[f.start..f.end].iter_mut().for_each(|u| *u = true);
    }
    // `yesterday` moves the day and leaves the description.
    let mut day = Day::Today;
    for (i, w) in words.iter().enumerate() {
        if matches!(w.as_str(), "kemarin" | "yesterday") {
            day = Day::Yesterday;
            used[i] = true;
        }
    }
    if let Some(bad) = found.iter().find_map(|f| f.value.as_ref().err().map(|e| (f, e))) {
        let text = original[bad.0.start..bad.0.end].join(" ");
        return (Intent::Unclear(Unclear::BadAmount { text, reason: bad.1.reason.clone() }), lang);
    }
    let values: Vec<i64> = found.iter().map(|f| *f.value.as_ref().expect("errors returned above")).collect();
    // `20 porsi @15rb`, `20 x 15rb`: a count times a price.
    let amount = match values.as_slice() {
        [] => None,
        [one] => Some(times_count(&words, &found[0], &mut used).map_or(*one, |n| n.saturating_mul(*one))),
        _ => return (Intent::Unclear(Unclear::TwoAmounts { amounts: values }), lang),
    };
    let description = describe(&original, &words, &used);
    let counterparty = counterparty(&original, &words, &used);
    let sign = found.first().and_then(|f| f.sign).or(direction.map(|(s, _)| s));
    match (amount, sign) {
        (None, _) if direction.is_some() => (Intent::Unclear(Unclear::NoAmount { description }), lang),
        (None, _) => (Intent::Unclear(Unclear::Unknown), lang),
        (Some(amount), None) => (Intent::Unclear(Unclear::NoDirection { amount, description }), lang),
        (Some(amount), Some(sign)) => (Intent::Record(Entry { amount: sign * amount, description, counterparty, day }), lang),
    }
}

/// English when the message's words are; Indonesian otherwise.
fn english_hint(words: &[String]) -> Lang {
    let english = ["for", "the", "and", "from", "to", "of", "with", "my"];
    if words.iter().any(|w| english.contains(&w.as_str())) { Lang::En } else { Lang::Id }
}

/// The count a price is multiplied by: `N <unit>? @ price` or `N x price`.
/// Marks the words it used.
fn times_count(words: &[String], price: &Found, used: &mut [bool]) -> Option<i64> {
    let before = price.start.checked_sub(1)?;
    let marker = words[before].as_str();
    let marker_in_price = words[price.start].starts_with('@');
    let (count_at, marker_at) = if marker == "@" || marker == "x" || marker == "×" {
        (before.checked_sub(1)?, Some(before))
    } else if marker_in_price {
        (before, None)
    } else {
        return None;
    };
    // `20 porsi @15rb`: skip one unit word between the count and the `@`.
    let count_at = if words[count_at].parse::<i64>().is_err() && marker != "x" { count_at.checked_sub(1)? } else { count_at };
    let count: i64 = words[count_at].parse().ok().filter(|n| (1..=100_000).contains(n))?;
    if let Some(m) = marker_at {
        used[m] = true;
    }
    Some(count)
}

/// The message without its amount and filler words, first letter upper case.
fn describe(original: &[&str], words: &[String], used: &[bool]) -> String {
    let kept: Vec<&str> = original
        .iter()
        .zip(words)
        .zip(used)
        .filter(|((_, w), used)| !**used && !FILLER.contains(&w.as_str()))
        .map(|((o, _), _)| o.trim_start_matches('@'))
        .filter(|o| !o.is_empty())
        .collect();
    let text = kept.join(" ");
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Who paid or was paid: the words after `dari`/`from` (money in) or
/// `ke`/`kepada`/`to` (money out), up to an amount or the end.
fn counterparty(original: &[&str], words: &[String], used: &[bool]) -> Option<String> {
    let at = words.iter().position(|w| matches!(w.as_str(), "dari" | "from" | "kepada" | "ke" | "to" | "untuk"))?;
    let name: Vec<&str> = (at + 1..words.len()).take_while(|&i| !used[i]).map(|i| original[i].trim_matches(|c: char| !c.is_alphanumeric())).take(4).collect();
    let name = name.join(" ");
    (!name.is_empty() && name.chars().any(char::is_alphabetic)).then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(text: &str) -> Entry {
        match parse(text).0 {
            Intent::Record(e) => e,
            other => panic!("{text:?}: {other:?}"),
        }
    }

    #[test]
    fn the_issue_examples_are_recorded() {
        let e = entry("jual bakso 20 porsi 300rb");
        assert_eq!((e.amount, e.description.as_str(), e.day), (300_000, "Jual bakso 20 porsi", Day::Today));
        let e = entry("beli gas 3kg 22.000");
        assert_eq!((e.amount, e.description.as_str()), (-22_000, "Beli gas 3kg"));
        let e = entry("bayar listrik 150rb");
        assert_eq!((e.amount, e.description.as_str()), (-150_000, "Bayar listrik"));
        let e = entry("terima transfer 1,5jt dari Budi");
        assert_eq!((e.amount, e.description.as_str(), e.counterparty.as_deref()), (1_500_000, "Terima transfer dari Budi", Some("Budi")));
    }

    #[test]
    fn amounts_in_every_common_spelling() {
        assert_eq!(entry("jual kopi Rp 25.000").amount, 25_000);
        assert_eq!(entry("jual kopi rp25rb").amount, 25_000);
        assert_eq!(entry("jual kopi 25 ribu").amount, 25_000);
        assert_eq!(entry("beli beras 1jt 500rb").amount, -1_500_000);
        assert_eq!(entry("beli beras 75000").amount, -75_000);
        assert_eq!(entry("beli beras 75k").amount, -75_000);
        assert_eq!(entry("bayar sewa 2,5 juta").amount, -2_500_000);
        assert_eq!(entry("jual bakso 20 porsi @15rb").amount, 300_000);
        assert_eq!(entry("jual es teh 30 x 3rb").amount, 90_000);
        assert_eq!(entry("+150rb arisan").amount, 150_000);
        assert_eq!(entry("-50rb parkir").amount, -50_000);
        let e = entry("beli bensin kemarin 30rb");
        assert_eq!((e.day, e.description.as_str()), (Day::Yesterday, "Beli bensin"));
    }

    #[test]
    fn english_is_understood_and_answered_in_english() {
        let (intent, lang) = parse("sold 20 meatballs for 300k");
        assert_eq!((intent, lang), (Intent::Record(Entry { amount: 300_000, description: "Sold 20 meatballs".into(), counterparty: None, day: Day::Today }), Lang::En));
        let (intent, lang) = parse("received transfer 1.5m from Budi");
        assert!(matches!(intent, Intent::Record(Entry { amount: 1_500_000, .. })), "{intent:?}");
        assert_eq!(lang, Lang::En);
        assert_eq!(parse("paid electricity 150k").0, Intent::Record(Entry { amount: -150_000, description: "Paid electricity".into(), counterparty: None, day: Day::Today }));
        assert_eq!(parse("report this week"), (Intent::Report(Period::Week), Lang::En));
        assert_eq!(parse("Help"), (Intent::Help, Lang::En));
    }

    #[test]
    fn questions_and_corrections() {
        assert_eq!(parse("Saldo"), (Intent::Balance, Lang::Id));
        assert_eq!(parse("laporan hari ini").0, Intent::Report(Period::Today));
        assert_eq!(parse("Laporan minggu ini").0, Intent::Report(Period::Week));
        assert_eq!(parse("laporan bulan ini").0, Intent::Report(Period::Month));
        assert_eq!(parse("laporan").0, Intent::Report(Period::Today));
        assert_eq!(parse("tier saya").0, Intent::Status);
        assert_eq!(parse("status").0, Intent::Status);
        assert_eq!(parse("budget").0, Intent::Budget);
        assert_eq!(parse("target").0, Intent::Goal);
        assert_eq!(parse("bantuan").0, Intent::Help);
        assert_eq!(parse("YA").0, Intent::Confirm);
        assert_eq!(parse("Ya!").0, Intent::Confirm);
        assert_eq!(parse("tidak").0, Intent::Decline);
        assert_eq!(parse("hapus terakhir").0, Intent::UndoLast);
        assert_eq!(parse("ubah kategori terakhir jadi Bahan Baku"), (Intent::SetLastCategory("Bahan Baku".into()), Lang::Id));
        assert_eq!(parse("ganti kategori terakhir ke transportasi").0, Intent::SetLastCategory("transportasi".into()));
        assert_eq!(parse("change last category to Raw materials"), (Intent::SetLastCategory("Raw materials".into()), Lang::En));
    }

    #[test]
    fn budgets_and_goals_are_set_in_words() {
        assert_eq!(parse("budget makan 1,5jt"), (Intent::SetBudget { category: "makan".into(), amount: 1_500_000 }, Lang::Id));
        assert_eq!(parse("Anggaran Transportasi Rp 500.000 sebulan").0, Intent::SetBudget { category: "Transportasi".into(), amount: 500_000 });
        assert_eq!(parse("budget for groceries 2m"), (Intent::SetBudget { category: "groceries".into(), amount: 2_000_000 }, Lang::En));
        assert_eq!(
            parse("target dana darurat 5jt Desember"),
            (Intent::SetGoal { name: "dana darurat".into(), amount: 5_000_000, by: Some((12, None)) }, Lang::Id)
        );
        assert_eq!(parse("tabungan motor 12 juta sampai Juni 2027").0, Intent::SetGoal { name: "motor".into(), amount: 12_000_000, by: Some((6, Some(2027))) });
        assert_eq!(parse("target umroh 30jt").0, Intent::SetGoal { name: "umroh".into(), amount: 30_000_000, by: None });
        // Without an amount they stay questions or are read as before.
        assert_eq!(parse("budget").0, Intent::Budget);
        assert_eq!(parse("budget makan").0, Intent::Unclear(Unclear::Unknown));
        assert!(matches!(parse("budget makan 1jt atau 2jt").0, Intent::Unclear(Unclear::TwoAmounts { .. })));
        assert!(matches!(parse("budget makan 1,5m").0, Intent::Unclear(Unclear::BadAmount { .. })));
    }

    #[test]
    fn what_cannot_be_recorded_is_asked_about_not_guessed() {
        assert_eq!(parse("bakso 300rb").0, Intent::Unclear(Unclear::NoDirection { amount: 300_000, description: "Bakso".into() }));
        assert_eq!(parse("jual bakso").0, Intent::Unclear(Unclear::NoAmount { description: "Jual bakso".into() }));
        assert_eq!(parse("beli gas 22.000 dan minyak 15rb").0, Intent::Unclear(Unclear::TwoAmounts { amounts: vec![22_000, 15_000] }));
        assert!(matches!(parse("jual motor 1,5m").0, Intent::Unclear(Unclear::BadAmount { .. })), "M is miliar or million");
        assert_eq!(parse("apa kabar").0, Intent::Unclear(Unclear::Unknown));
        assert_eq!(parse("jual 20 bakso").0, Intent::Unclear(Unclear::NoAmount { description: "Jual 20 bakso".into() }), "20 is a count, not money");
        assert_eq!(parse("").0, Intent::Unclear(Unclear::Unknown));
        assert_eq!(parse("!!!").0, Intent::Unclear(Unclear::Unknown));
    }
}
