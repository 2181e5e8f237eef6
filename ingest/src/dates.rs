//! The one reader of written dates, for every connector: `21/11/2026`,
//! `'21/11/2026` (BCA), `21/11/26`, `2026-11-21`, `25 Des 2023`,
//! `25-Des-23`, `25 Desember 2023`, `Nov 21, 2026`, optionally followed by a
//! time (`14:35`, `14.35.10`), and `21/11` where a reference date (the
//! statement's period) supplies the year. Indonesian and English month
//! names (`Mei`/`May`, `Agu`/`Agt`/`Aug`, `Okt`/`Oct`, `Des`/`Dec`).
//!
//! Numeric dates are day-first unless asked otherwise; a date that is only
//! valid in another order is an error, never silently swapped.

use chrono::{Datelike, NaiveDate, NaiveTime};

/// Order of day and month in numeric dates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DayOrder {
    /// `21/11/2026` (Indonesian banks).
    #[default]
    DayFirst,
    /// `11/21/2026`.
    MonthFirst,
}

/// Options of [`parse_date`].
#[derive(Debug, Clone, Copy, Default)]
pub struct DateOptions {
    pub order: DayOrder,
    /// The date the text was written near (a statement's last day, a
    /// message's arrival): gives `21/11` its year and two-digit years their
    /// century. Without it, a date without a year is refused.
    pub reference: Option<NaiveDate>,
}

/// A parsed date, with the time of day when one was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WrittenDate {
    pub date: NaiveDate,
    pub time: Option<NaiveTime>,
}

/// Why a text is not a date. `code` is stable for i18n and dead letters.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct DateError {
    pub code: &'static str,
    pub reason: String,
}

fn err(code: &'static str, reason: impl Into<String>) -> DateError {
    DateError { code, reason: reason.into() }
}

/// The month a name (Indonesian or English, full or short) stands for.
pub fn month_number(name: &str) -> Option<u32> {
    let lower = name.trim_end_matches('.').to_lowercase();
    let months: [&[&str]; 12] = [
        &["jan", "januari", "january"],
        &["feb", "peb", "februari", "pebruari", "february"],
        &["mar", "maret", "march"],
        &["apr", "april"],
        &["mei", "may"],
        &["jun", "juni", "june"],
        &["jul", "juli", "july"],
        &["agu", "agt", "ags", "agustus", "aug", "august"],
        &["sep", "sept", "september"],
        &["okt", "oktober", "oct", "october"],
        &["nov", "nopember", "november"],
        &["des", "desember", "dec", "december"],
    ];
    months.iter().position(|names| names.contains(&lower.as_str())).map(|i| i as u32 + 1)
}

/// Parses a written date with the default options (day first, no reference).
pub fn parse_date_text(text: &str) -> Result<WrittenDate, DateError> {
    parse_date(text, DateOptions::default())
}

/// Parses a written date; see the module documentation.
pub fn parse_date(text: &str, options: DateOptions) -> Result<WrittenDate, DateError> {
    let trimmed = text.trim().trim_start_matches('\'').trim();
    if trimmed.is_empty() {
        return Err(err("empty", "no date given"));
    }
    if trimmed.chars().count() > 40 {
        return Err(err("too_long", "a date is at most 40 characters"));
    }
    // Split off a trailing time (`14:35`, `14.35.10`, `T14:35:00`).
    let (date_part, time) = split_time(trimmed)?;
    let parts: Vec<&str> = date_part.split(['/', '-', ' ', ',']).filter(|p| !p.is_empty()).collect();
    let numeric = |p: &str| p.bytes().all(|b| b.is_ascii_digit()) && !p.is_empty() && p.len() <= 4;
    let bad = || err("not_a_date", format!("{text:?} is not a date"));
    let (year, month, day): (Option<&str>, u32, &str) = match parts.as_slice() {
        // ISO: 2026-11-21.
        [y, m, d] if y.len() == 4 && numeric(y) && numeric(m) && numeric(d) => (Some(*y), m.parse().map_err(|_| bad())?, d),
        // Numeric with year: 21/11/2026 or 11/21/2026.
        [a, b, y] if numeric(a) && numeric(b) && numeric(y) => {
            let (d, m) = match options.order {
                DayOrder::DayFirst => (*a, *b),
                DayOrder::MonthFirst => (*b, *a),
            };
            (Some(*y), m.parse().map_err(|_| bad())?, d)
        }
        // Month by name: 25 Des 2023, 25-Des-23, 25 Desember 2023.
        [d, name, y] if numeric(d) && numeric(y) && month_number(name).is_some() => (Some(*y), month_number(name).unwrap_or(0), d),
        // English: Nov 21 2026 (the comma was a separator).
        [name, d, y] if numeric(d) && numeric(y) && month_number(name).is_some() => (Some(*y), month_number(name).unwrap_or(0), d),
        // No year: 21/11, 25 Des.
        [a, b] if numeric(a) && numeric(b) => {
            let (d, m) = match options.order {
                DayOrder::DayFirst => (*a, *b),
                DayOrder::MonthFirst => (*b, *a),
            };
            (None, m.parse().map_err(|_| bad())?, d)
        }
        [d, name] if numeric(d) && month_number(name).is_some() => (None, month_number(name).unwrap_or(0), d),
        _ => return Err(bad()),
    };
    let day: u32 = day.parse().map_err(|_| bad())?;
    if !(1..=12).contains(&month) {
        let hint = if options.order == DayOrder::DayFirst && day <= 12 { " (day first: is it month-first?)" } else { "" };
        return Err(err("invalid_date", format!("{text:?}: there is no month {month}{hint}")));
    }
    let year = match year {
        Some(y) if y.len() == 4 => y.parse::<i32>().map_err(|_| bad())?,
        Some(y) if y.len() == 2 => century(y.parse::<i32>().map_err(|_| bad())?, options.reference),
        Some(_) => return Err(err("invalid_date", format!("{text:?}: a year has two or four digits"))),
        None => {
            let Some(reference) = options.reference else {
                return Err(err("no_year", format!("{text:?} has no year and nothing tells which")));
            };
            // The latest such day not after the reference date.
            let this_year = NaiveDate::from_ymd_opt(reference.year(), month, day);
            match this_year {
                Some(d) if d <= reference => reference.year(),
                _ => reference.year() - 1,
            }
        }
    };
    let date = NaiveDate::from_ymd_opt(year, month, day).ok_or_else(|| err("invalid_date", format!("{text:?}: {year}-{month:02}-{day:02} does not exist")))?;
    Ok(WrittenDate { date, time })
}

/// `yy` in the century that puts it at most one year after the reference
/// year (today's when none is given): `26` → 2026, `99` → 1999.
fn century(yy: i32, reference: Option<NaiveDate>) -> i32 {
    let reference_year = reference.map_or_else(|| chrono::Utc::now().year(), |d| d.year());
    let candidate = reference_year / 100 * 100 + yy;
    if candidate > reference_year + 1 { candidate - 100 } else { candidate }
}

fn split_time(text: &str) -> Result<(&str, Option<NaiveTime>), DateError> {
    let (date, time) = match text.rsplit_once([' ', 'T']) {
        Some((date, time)) if time.contains([':', '.']) && time.starts_with(|c: char| c.is_ascii_digit()) && date.chars().any(|c| c.is_ascii_digit()) => (date, time),
        _ => return Ok((text, None)),
    };
    let fields: Vec<&str> = time.split([':', '.']).collect();
    let number = |s: &str| if s.len() == 2 && s.bytes().all(|b| b.is_ascii_digit()) { s.parse::<u32>().ok() } else { None };
    let parsed = match fields.as_slice() {
        [h, m] => number(h).zip(number(m)).and_then(|(h, m)| NaiveTime::from_hms_opt(h, m, 0)),
        [h, m, s] => number(h).zip(number(m)).zip(number(s)).and_then(|((h, m), s)| NaiveTime::from_hms_opt(h, m, s)),
        _ => None,
    };
    match parsed {
        Some(t) => Ok((date.trim_end(), Some(t))),
        None => Err(err("invalid_time", format!("{text:?}: {time:?} is not a time of day"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ymd(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn date(text: &str) -> NaiveDate {
        parse_date_text(text).unwrap_or_else(|e| panic!("{text:?}: {e}")).date
    }

    #[test]
    fn every_layout_of_the_domain_notes() {
        for text in ["21/11/2026", "'21/11/2026", "21-11-2026", "2026-11-21", "21 Nov 2026", "21-Nov-26", "21 November 2026", "21 Nopember 2026", "Nov 21, 2026", "21/11/26"] {
            assert_eq!(date(text), ymd(2026, 11, 21), "{text}");
        }
        assert_eq!(date("25 Des 2023"), ymd(2023, 12, 25));
        assert_eq!(date("17 Agt 2025"), ymd(2025, 8, 17));
        assert_eq!(date("17 Agu 2025"), ymd(2025, 8, 17));
        assert_eq!(date("1 Mei 2024"), ymd(2024, 5, 1));
        assert_eq!(date("5 Okt 2024"), ymd(2024, 10, 5));
        let with_time = parse_date_text("21/11/2026 14:35").unwrap();
        assert_eq!(with_time.time, NaiveTime::from_hms_opt(14, 35, 0));
        assert_eq!(parse_date_text("2026-11-21T08:00:05").unwrap().time, NaiveTime::from_hms_opt(8, 0, 5));
        assert_eq!(parse_date_text("21/11/2026 14.35.10").unwrap().time, NaiveTime::from_hms_opt(14, 35, 10));
        let us = DateOptions { order: DayOrder::MonthFirst, reference: None };
        assert_eq!(parse_date("11/21/2026", us).unwrap().date, ymd(2026, 11, 21));
    }

    #[test]
    fn a_reference_date_gives_the_year() {
        let reference = Some(ymd(2026, 1, 10));
        let options = DateOptions { reference, ..DateOptions::default() };
        assert_eq!(parse_date("05/01", options).unwrap().date, ymd(2026, 1, 5));
        assert_eq!(parse_date("28/12", options).unwrap().date, ymd(2025, 12, 28), "last December, not next");
        assert_eq!(parse_date("29 Feb", DateOptions { reference: Some(ymd(2025, 3, 1)), ..options }).unwrap().date, ymd(2024, 2, 29));
        assert_eq!(parse_date("1/1/99", options).unwrap().date, ymd(1999, 1, 1));
        assert_eq!(parse_date("1/1/27", options).unwrap().date, ymd(2027, 1, 1));
    }

    #[test]
    fn wrong_and_ambiguous_dates_are_refused_with_a_reason() {
        let code = |t: &str| parse_date_text(t).unwrap_err().code;
        assert_eq!(code("11/21/2026"), "invalid_date", "day first; not silently swapped");
        assert_eq!(code("31/02/2026"), "invalid_date");
        assert_eq!(code("21/11"), "no_year");
        assert_eq!(code("PEND"), "not_a_date");
        assert_eq!(code(""), "empty");
        assert_eq!(code("21/11/202"), "invalid_date");
        assert_eq!(code("21 Nob 2026"), "not_a_date");
        assert_eq!(code("21/11/2026 25:00"), "invalid_time");
        assert!(parse_date_text("21/11/2026").unwrap().time.is_none());
    }

    proptest! {
        #[test]
        fn written_dates_read_back(days in 0i64..40_000, names in any::<bool>()) {
            let d = ymd(1990, 1, 1) + chrono::Duration::days(days);
            let months = ["Jan", "Feb", "Mar", "Apr", "Mei", "Jun", "Jul", "Agu", "Sep", "Okt", "Nov", "Des"];
            let text = if names {
                format!("{} {} {}", d.day(), months[d.month0() as usize], d.year())
            } else {
                d.format("%d/%m/%Y").to_string()
            };
            prop_assert_eq!(parse_date_text(&text).unwrap().date, d);
            prop_assert_eq!(parse_date_text(&d.format("%Y-%m-%d").to_string()).unwrap().date, d);
        }

        #[test]
        fn never_panics(text in "\\PC{0,40}") {
            let _ = parse_date(&text, DateOptions { reference: Some(ymd(2026, 11, 21)), ..DateOptions::default() });
        }

        #[test]
        fn never_panics_on_date_like_text(text in "['0-9/ .:T,-]{0,20}(Des|Mei|Agt|Nov)?[0-9 /]{0,6}") {
            let _ = parse_date(&text, DateOptions { reference: Some(ymd(2026, 11, 21)), ..DateOptions::default() });
        }
    }
}
