//! The one reader of written rupiah amounts, for every connector (bank
//! exports, chat messages, receipts): `Rp 25.000`, `25,000.00 DB`, `25rb`,
//! `1,5jt`, `1jt 500rb`, `(25.000)`, `DB 25.000` … (DOMAIN.md, "Writing
//! amounts"). An amount that could mean two things is an error that says
//! why, never a guess.
//!
//! Separators: rupiah never carry three decimal places, so a `.` or `,`
//! followed by exactly three digits groups thousands (`25.000`, `25,000`);
//! followed by one or two digits it is the decimal mark (`1,5jt`,
//! `25,000.00`). When both appear, the last one is the decimal mark and the
//! other must group by threes.

use std::fmt;

/// Which way money moved, when the text says so.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// `DB`, `D`, `DR`, `DEBIT`, `DEBET`, a minus sign or parentheses.
    Debit,
    /// `CR`, `K`, `KR`, `KREDIT`, `CREDIT`.
    Credit,
}

/// How to read a bare `M`: *miliar* (10^9) in Indonesian, million in English.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BigM {
    /// Refuse it as ambiguous (the default).
    #[default]
    Ask,
    Miliar,
    Million,
}

/// A parsed amount.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Money {
    /// Whole rupiah, negative for a debit.
    pub rupiah: i64,
    /// The direction the text stated, if any.
    pub direction: Option<Direction>,
    /// Sen (hundredths) that were rounded away (half away from zero), as
    /// written: `1.234,56` gives 1235 rupiah and `rounded_sen = 56`.
    pub rounded_sen: u8,
}

/// Why a text is not an amount. `code` is stable for i18n and dead letters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MoneyError {
    pub code: &'static str,
    pub reason: String,
}

impl MoneyError {
    fn new(code: &'static str, reason: impl Into<String>) -> Self {
        MoneyError { code, reason: reason.into() }
    }
}

impl fmt::Display for MoneyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.reason)
    }
}

impl std::error::Error for MoneyError {}

/// Options of [`parse_money`].
#[derive(Debug, Clone, Copy, Default)]
pub struct MoneyOptions {
    pub big_m: BigM,
}

/// Parses a written rupiah amount with the default options.
pub fn parse_rupiah(text: &str) -> Result<Money, MoneyError> {
    parse_money(text, MoneyOptions::default())
}

/// A number as written: digits, and how many of them are after the decimal mark.
#[derive(Debug, Clone, Copy)]
struct Decimal {
    digits: u128,
    scale: u32,
}

/// Parses a written rupiah amount.
pub fn parse_money(text: &str, options: MoneyOptions) -> Result<Money, MoneyError> {
    let mut rest = text.trim().to_owned();
    if rest.is_empty() {
        return Err(MoneyError::new("empty", "no amount given"));
    }
    if rest.chars().count() > 64 {
        return Err(MoneyError::new("too_long", "an amount is at most 64 characters"));
    }
    let mut direction = None;
    let set = |d: Direction, direction: &mut Option<Direction>| -> Result<(), MoneyError> {
        match *direction {
            Some(other) if other != d => Err(MoneyError::new("conflicting_direction", format!("{text:?} is marked both debit and credit"))),
            _ => {
                *direction = Some(d);
                Ok(())
            }
        }
    };
    // Direction words before or after the amount, as separate tokens.
    let mut tokens: Vec<String> = rest.split_whitespace().map(str::to_owned).collect();
    while let Some(first) = tokens.first() {
        match direction_word(first) {
            Some(d) => {
                set(d, &mut direction)?;
                tokens.remove(0);
            }
            None => break,
        }
    }
    while let Some(last) = tokens.last() {
        // A standalone `K` after an amount is credit; after a bare number it
        // could be `25 K` = 25 ribu.
        if last.eq_ignore_ascii_case("k") && tokens.len() >= 2 && !tokens[tokens.len() - 2].contains(['.', ',']) {
            return Err(MoneyError::new("ambiguous", format!("{text:?}: a separate K may mean credit or ribu; write 25rb or 25.000 K")));
        }
        match direction_word(last) {
            Some(d) => {
                set(d, &mut direction)?;
                tokens.pop();
            }
            None => break,
        }
    }
    rest = tokens.join(" ");
    if rest.starts_with('(') && rest.ends_with(')') && rest.len() >= 2 {
        rest = rest[1..rest.len() - 1].trim().to_owned();
        set(Direction::Debit, &mut direction)?;
    }
    let body = strip_currency(&rest);
    for foreign in ["rm", "usd", "us$", "$", "sgd", "myr", "eur", "€"] {
        if body.get(..foreign.len()).is_some_and(|head| head.eq_ignore_ascii_case(foreign)) {
            return Err(MoneyError::new("not_rupiah", format!("{text:?} is not in rupiah")));
        }
    }
    // Sign; `Rp` may also follow it: `-Rp 25.000`.
    let body = if let Some(stripped) = body.strip_prefix(['-', '−']) {
        set(Direction::Debit, &mut direction)?;
        strip_currency(stripped)
    } else {
        strip_currency(body.strip_prefix('+').unwrap_or(body))
    };

    let total = terms(body, text, options)?;
    let negative = direction == Some(Direction::Debit);
    // `total` is in hundredths of a rupiah.
    let rounded_sen = (total % 100) as u8;
    let whole = total / 100 + u128::from(rounded_sen >= 50);
    let rupiah = i64::try_from(whole).map_err(|_| MoneyError::new("too_large", format!("{text:?} is too large")))?;
    if rupiah > 1_000_000_000_000_000 {
        return Err(MoneyError::new("too_large", format!("{text:?} is more than 10^18 rupiah")));
    }
    Ok(Money { rupiah: if negative { -rupiah } else { rupiah }, direction, rounded_sen })
}

/// `body` without a leading `Rp`, `Rp.` or `IDR` (any case) and blanks.
fn strip_currency(body: &str) -> &str {
    let body = body.trim();
    for prefix in ["rp.", "rp", "idr"] {
        if body.get(..prefix.len()).is_some_and(|head| head.eq_ignore_ascii_case(prefix)) {
            return body[prefix.len()..].trim_start();
        }
    }
    body
}

fn direction_word(token: &str) -> Option<Direction> {
    match token.to_lowercase().trim_end_matches('.') {
        "db" | "d" | "dr" | "debit" | "debet" => Some(Direction::Debit),
        "cr" | "kr" | "k" | "kredit" | "credit" | "c" => Some(Direction::Credit),
        _ => None,
    }
}

/// A sum of `number [multiplier]` terms with falling multipliers
/// (`1jt 500rb`), in hundredths of a rupiah.
fn terms(body: &str, text: &str, options: MoneyOptions) -> Result<u128, MoneyError> {
    let mut chars = body.chars().peekable();
    let mut total: u128 = 0;
    let mut last_multiplier: Option<u128> = None;
    let mut count = 0;
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        if chars.peek().is_none() {
            break;
        }
        let number: String = std::iter::from_fn(|| chars.next_if(|c| c.is_ascii_digit() || *c == '.' || *c == ',')).collect();
        if number.is_empty() {
            let found: String = chars.clone().take(12).collect();
            return Err(MoneyError::new("not_a_number", format!("{text:?}: expected a number at {found:?}")));
        }
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let word: String = std::iter::from_fn(|| chars.next_if(|c| c.is_alphabetic())).collect();
        let multiplier = multiplier(&word, text, options)?;
        if let Some(previous) = last_multiplier {
            if multiplier >= previous {
                return Err(MoneyError::new("ambiguous", format!("{text:?}: parts must get smaller, as in 1jt 500rb")));
            }
        }
        let value = decimal(&number, text)?;
        let hundredths = scaled(value, multiplier, text)?;
        total = total.checked_add(hundredths).ok_or_else(|| MoneyError::new("too_large", format!("{text:?} is too large")))?;
        last_multiplier = Some(multiplier);
        count += 1;
    }
    if count == 0 {
        return Err(MoneyError::new("not_a_number", format!("{text:?} holds no number")));
    }
    Ok(total)
}

fn multiplier(word: &str, text: &str, options: MoneyOptions) -> Result<u128, MoneyError> {
    Ok(match word.to_lowercase().as_str() {
        "" => 1,
        "rb" | "ribu" | "k" | "rbu" => 1_000,
        "jt" | "juta" | "jta" => 1_000_000,
        "miliar" | "milyar" | "mlyr" | "b" | "bn" => 1_000_000_000,
        "triliun" | "t" => 1_000_000_000_000,
        "m" => match options.big_m {
            BigM::Miliar => 1_000_000_000,
            BigM::Million => 1_000_000,
            BigM::Ask => {
                return Err(MoneyError::new("ambiguous", format!("{text:?}: M means miliar in Indonesian and million in English; write jt or miliar")));
            }
        },
        "mn" | "mio" | "million" => 1_000_000,
        _ => return Err(MoneyError::new("not_a_number", format!("{text:?}: {word:?} is not a unit of rupiah"))),
    })
}

/// Reads `25.000`, `25,000.00`, `1,5`, `1.234.567,89` (see the module docs).
fn decimal(number: &str, text: &str) -> Result<Decimal, MoneyError> {
    let separators: Vec<(usize, char)> = number.char_indices().filter(|(_, c)| *c == '.' || *c == ',').collect();
    let digits_only = |s: &str| -> Result<u128, MoneyError> {
        if s.is_empty() || s.len() > 30 {
            return Err(MoneyError::new("not_a_number", format!("{text:?}: {number:?} is not a number")));
        }
        s.parse::<u128>().map_err(|_| MoneyError::new("not_a_number", format!("{text:?}: {number:?} is not a number")))
    };
    let bad_grouping = || MoneyError::new("ambiguous", format!("{text:?}: {number:?} does not group thousands by three"));
    // The decimal mark, if any: the last separator when both kinds appear,
    // else a single separator followed by one or two digits.
    let last = separators.last().copied();
    let decimal_at = match last {
        None => None,
        Some((at, mark)) => {
            let after = number.len() - at - 1;
            let both = separators.iter().any(|(_, c)| *c != mark);
            if both {
                if after == 0 || after > 2 {
                    return Err(MoneyError::new("ambiguous", format!("{text:?}: {number:?} mixes . and , but does not end in a decimal part of 1–2 digits")));
                }
                Some(at)
            } else if separators.len() == 1 && (1..=2).contains(&after) {
                Some(at)
            } else if after == 3 {
                None
            } else {
                return Err(bad_grouping());
            }
        }
    };
    let (int_part, frac_part) = match decimal_at {
        Some(at) => (&number[..at], &number[at + 1..]),
        None => (number, ""),
    };
    // The integer part: either no separators, or groups of three after the first.
    let groups: Vec<&str> = int_part.split(['.', ',']).collect();
    if groups.len() > 1 {
        let mark = int_part.chars().find(|c| *c == '.' || *c == ',');
        if int_part.chars().filter(|c| *c == '.' || *c == ',').any(|c| Some(c) != mark) {
            return Err(bad_grouping());
        }
        if groups[0].is_empty() || groups[0].len() > 3 || groups[1..].iter().any(|g| g.len() != 3) {
            return Err(bad_grouping());
        }
    }
    let int_digits: String = groups.concat();
    // `.00` (Mandiri's empty column) is zero.
    let int_value = if int_digits.is_empty() && decimal_at.is_some() { 0 } else { digits_only(&int_digits)? };
    let (frac_value, scale) = if frac_part.is_empty() { (0, 0) } else { (digits_only(frac_part)?, frac_part.len() as u32) };
    let digits = int_value
        .checked_mul(10u128.pow(scale))
        .and_then(|v| v.checked_add(frac_value))
        .ok_or_else(|| MoneyError::new("too_large", format!("{text:?} is too large")))?;
    Ok(Decimal { digits, scale })
}

/// `value × multiplier` in hundredths of a rupiah; below a hundredth is an error.
fn scaled(value: Decimal, multiplier: u128, text: &str) -> Result<u128, MoneyError> {
    let too_large = || MoneyError::new("too_large", format!("{text:?} is too large"));
    let hundred_times = value.digits.checked_mul(multiplier).and_then(|v| v.checked_mul(100)).ok_or_else(too_large)?;
    let divisor = 10u128.pow(value.scale);
    if hundred_times % divisor != 0 {
        return Err(MoneyError::new("ambiguous", format!("{text:?} has more decimals than a rupiah amount can")));
    }
    Ok(hundred_times / divisor)
}

/// Writes `rupiah` the Indonesian way: `Rp 1.234.567`, `-Rp 25.000`.
pub use arus_schemas::money::format_rupiah;

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn value(text: &str) -> i64 {
        parse_rupiah(text).unwrap_or_else(|e| panic!("{text:?}: {e}")).rupiah
    }

    fn code(text: &str) -> &'static str {
        parse_rupiah(text).map(|m| panic!("{text:?} parsed as {m:?}")).unwrap_err().code
    }

    #[test]
    fn every_notation_of_the_domain_notes() {
        for text in ["Rp 25.000", "Rp25.000,00", "25.000", "IDR 25,000.00", "25rb", "25 ribu", "25k", "25K", "Rp. 25.000", "25000"] {
            assert_eq!(value(text), 25_000, "{text}");
        }
        for text in ["1,5jt", "1.5 juta", "1jt 500rb", "1 juta 500 ribu", "Rp 1.500.000", "1,500,000"] {
            assert_eq!(value(text), 1_500_000, "{text}");
        }
        for text in ["(25.000)", "-25.000", "25.000 DB", "DB 25.000", "25,000.00 DB", "-Rp 25.000", "Rp -25.000", "25.000 D"] {
            assert_eq!(value(text), -25_000, "{text}");
            assert_eq!(parse_rupiah(text).unwrap().direction, Some(Direction::Debit));
        }
        for text in ["25.000 CR", "25.000 K", "CR 25.000", "287,490.00 CR"] {
            assert!(value(text) > 0, "{text}");
            assert_eq!(parse_rupiah(text).unwrap().direction, Some(Direction::Credit));
        }
        assert_eq!(value("287,490.00 DB"), -287_490);
        assert_eq!(value("2 miliar"), 2_000_000_000);
        assert_eq!(parse_money("2M", MoneyOptions { big_m: BigM::Miliar }).unwrap().rupiah, 2_000_000_000);
        assert_eq!(parse_money("2M", MoneyOptions { big_m: BigM::Million }).unwrap().rupiah, 2_000_000);
        assert_eq!(value("300rb"), 300_000);
        assert_eq!(value("1.234.567,89"), 1_234_568);
        assert_eq!(parse_rupiah("1.234.567,89").unwrap().rounded_sen, 89);
        assert_eq!(value("1.234.567,40"), 1_234_567);
        assert_eq!(value(".00"), 0);
        assert_eq!(value(",50"), 1);
    }

    #[test]
    fn ambiguous_and_wrong_amounts_are_refused_with_a_reason() {
        assert_eq!(code("2M"), "ambiguous");
        assert_eq!(code("25 K"), "ambiguous");
        assert_eq!(code("25.00.000"), "ambiguous");
        assert_eq!(code("1.2345"), "ambiguous");
        assert_eq!(code("25,000.000"), "ambiguous");
        assert_eq!(code("500rb 1jt"), "ambiguous");
        assert_eq!(parse_rupiah("25,50").unwrap(), Money { rupiah: 26, direction: None, rounded_sen: 50 });
        assert_eq!(code(""), "empty");
        assert_eq!(code("bakso"), "not_a_number");
        assert_eq!(code("RM 9.00"), "not_rupiah");
        assert_eq!(code("25 kambing"), "not_a_number");
        assert_eq!(code("DB 25.000 CR"), "conflicting_direction");
        assert_eq!(code("99999999999999999999999999jt"), "too_large");
        assert!(parse_rupiah("(25.000) DB").is_ok(), "both say debit");
    }

    proptest! {
        #[test]
        fn written_amounts_read_back(rupiah in -1_000_000_000_000i64..1_000_000_000_000) {
            prop_assert_eq!(parse_rupiah(&format_rupiah(rupiah)).unwrap().rupiah, rupiah);
            // English-locale export with sen and a DB/CR column.
            let abs = rupiah.unsigned_abs();
            let english = format!("{}.00 {}", abs.to_string().as_bytes().rchunks(3).rev().map(|c| std::str::from_utf8(c).unwrap()).collect::<Vec<_>>().join(","), if rupiah < 0 { "DB" } else { "CR" });
            prop_assert_eq!(parse_rupiah(&english).unwrap().rupiah, rupiah);
        }

        #[test]
        fn thousands_in_chat_shorthand(ribu in 1i64..1_000_000) {
            prop_assert_eq!(parse_rupiah(&format!("{ribu}rb")).unwrap().rupiah, ribu * 1000);
            prop_assert_eq!(parse_rupiah(&format!("{} jt {} rb", ribu / 1000 + 1, ribu % 1000)).unwrap().rupiah,
                (ribu / 1000 + 1) * 1_000_000 + (ribu % 1000) * 1000);
        }

        #[test]
        fn never_panics(text in "\\PC{0,40}") {
            let _ = parse_rupiah(&text);
        }

        #[test]
        fn never_panics_on_amount_like_text(text in "[-+()RpIDR .,0-9rbjtkKMDBCR]{0,30}") {
            let _ = parse_rupiah(&text);
        }
    }
}
