//! From what was read to what is booked: the transactions a photo stands
//! for, and whether they count at once (`parsed`) or wait for the person
//! (`needs_review`, with the reasons). A receipt is money out of its total
//! on its date; a cash-book page is one transaction per entry. A field a
//! booking needs that is missing or below the confidence threshold, a
//! currency other than rupiah, a date in the future: the person decides.

use chrono::{DateTime, Duration, FixedOffset, NaiveDate, NaiveTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};

use super::cashbook::{CashBook, Flow};
use super::receipt::Receipt;

/// Receipts and cash books are written in local time; arus's people are in
/// Western Indonesia (WIB, UTC+7).
pub fn local_zone() -> FixedOffset {
    FixedOffset::east_opt(7 * 3600).expect("UTC+7")
}

/// One transaction a photo stands for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Proposed {
    /// Position on the page (0 for a receipt): part of the idempotency key.
    pub index: u32,
    pub occurred_at: DateTime<Utc>,
    /// Signed whole rupiah: negative is money out.
    pub amount: i64,
    pub description: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub counterparty: Option<String>,
}

/// The decision on a photo.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Booking {
    /// Whether the transactions count without the person looking.
    pub confident: bool,
    /// Why not: stable codes (`no_total`, `total_unsure`, `no_date`,
    /// `date_unsure`, `date_in_future`, `currency_myr`, `no_entries`,
    /// `entries_unsure`).
    pub reasons: Vec<String>,
    pub transactions: Vec<Proposed>,
    /// The least confidence among the fields the booking rests on.
    pub confidence: f32,
}

/// The idempotency key of a photo's `index`th transaction: booking the same
/// photo again (a retry, a confirmation after a crash) yields the same rows.
pub fn idempotency_key(media_id: &str, index: u32) -> String {
    format!("ocr:{media_id}:{index}")
}

/// `date` at `time` (noon when unknown) in WIB, as UTC.
pub(crate) fn at_local(date: NaiveDate, time: Option<NaiveTime>) -> DateTime<Utc> {
    let time = time.unwrap_or_else(|| NaiveTime::from_hms_opt(12, 0, 0).expect("noon"));
    local_zone().from_local_datetime(&date.and_time(time)).single().map_or_else(|| date.and_time(time).and_utc(), |t| t.with_timezone(&Utc))
}

/// A receipt: one payment of its total.
pub fn receipt(r: &Receipt, threshold: f32, uploaded_at: DateTime<Utc>) -> Booking {
    let mut reasons = Vec::new();
    let mut confidence: f32 = 1.0;
    let today = uploaded_at.with_timezone(&local_zone()).date_naive();
    match r.currency.as_ref().map(|c| c.value.as_str()) {
        Some("IDR") | None => {}
        Some("$") => reasons.push("currency_unknown".to_owned()),
        Some(code) => reasons.push(format!("currency_{}", code.to_lowercase())),
    }
    let amount = match &r.total {
        None => {
            reasons.push("no_total".to_owned());
            None
        }
        Some(total) => {
            confidence = confidence.min(total.confidence);
            if total.confidence < threshold {
                reasons.push("total_unsure".to_owned());
            }
            Some(total.value.whole_units())
        }
    };
    let date = match &r.date {
        None => {
            reasons.push("no_date".to_owned());
            today
        }
        Some(d) => {
            confidence = confidence.min(d.confidence);
            if d.confidence < threshold {
                reasons.push("date_unsure".to_owned());
            }
            if d.value > today + Duration::days(1) {
                reasons.push("date_in_future".to_owned());
            }
            d.value
        }
    };
    let merchant = r.merchant.as_ref().map(|m| m.value.clone());
    let transactions = match amount {
        Some(a) if a > 0 => vec![Proposed {
            index: 0,
            occurred_at: at_local(date, r.time.as_ref().map(|t| t.value)),
            amount: -a,
            description: merchant.clone().unwrap_or_else(|| "Struk belanja".to_owned()),
            counterparty: merchant,
        }],
        _ => {
            if amount.is_some() {
                reasons.push("no_total".to_owned());
            }
            Vec::new()
        }
    };
    Booking { confident: reasons.is_empty(), reasons, transactions, confidence }
}

/// A cash-book page: one transaction per entry; the page counts when every
/// entry is sure (one unsure row holds the page, so the book stays whole).
pub fn cashbook(book: &CashBook, threshold: f32, uploaded_at: DateTime<Utc>) -> Booking {
    let mut reasons = Vec::new();
    let today = uploaded_at.with_timezone(&local_zone()).date_naive();
    if book.entries.is_empty() {
        reasons.push("no_entries".to_owned());
    }
    if book.entries.iter().any(|e| e.confidence < threshold) {
        reasons.push("entries_unsure".to_owned());
    }
    if book.entries.iter().any(|e| e.date.is_none()) {
        reasons.push("no_date".to_owned());
    }
    if book.entries.iter().any(|e| e.date.as_ref().is_some_and(|d| d.value > today + Duration::days(1))) {
        reasons.push("date_in_future".to_owned());
    }
    let confidence = book.entries.iter().map(|e| e.confidence).fold(if book.entries.is_empty() { 0.0 } else { 1.0 }, f32::min);
    let transactions = book
        .entries
        .iter()
        .enumerate()
        .map(|(i, e)| Proposed {
            index: i as u32,
            occurred_at: at_local(e.date.as_ref().map_or(today, |d| d.value), None),
            amount: match e.flow {
                Flow::In => e.amount.value,
                Flow::Out => -e.amount.value,
            },
            description: e.description.clone(),
            counterparty: None,
        })
        .collect();
    Booking { confident: reasons.is_empty(), reasons, transactions, confidence }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ocr::{cashbook as cb, receipt as rc, Page};

    fn uploaded() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 21, 8, 0, 0).unwrap()
    }

    #[test]
    fn a_clear_receipt_books_its_total_as_money_out_at_local_time() {
        let r = rc::parse(&Page::from_text("TOKO MAJU JAYA\n21/11/2026 14:35\nGula 1kg   15.000\nTOTAL   15.000\nTUNAI   20.000\nKEMBALI   5.000"));
        let b = receipt(&r, 0.7, uploaded());
        assert!(b.confident, "{:?} {:?}", b.reasons, r);
        assert_eq!(b.transactions.len(), 1);
        let t = &b.transactions[0];
        assert_eq!(t.amount, -15_000);
        assert_eq!(t.description, "TOKO MAJU JAYA");
        // 14:35 WIB is 07:35 UTC.
        assert_eq!(t.occurred_at, Utc.with_ymd_and_hms(2026, 11, 21, 7, 35, 0).unwrap());
    }

    #[test]
    fn unsure_missing_or_foreign_fields_wait_for_the_person() {
        let r = rc::parse(&Page::from_text("KEDAI\nNasi 9.00\nTOTAL RM9.00"));
        let b = receipt(&r, 0.7, uploaded());
        assert!(!b.confident);
        assert!(b.reasons.contains(&"currency_myr".to_owned()), "{:?}", b.reasons);
        assert!(b.reasons.contains(&"no_date".to_owned()));
        let mut r = rc::parse(&Page::from_text("TOKO\n21/11/2026\nTOTAL 15.000"));
        r.total.as_mut().unwrap().confidence = 0.3;
        let b = receipt(&r, 0.7, uploaded());
        assert_eq!(b.reasons, vec!["total_unsure".to_owned()]);
        assert_eq!(b.transactions[0].amount, -15_000, "the proposal is still made, for the person to confirm");
        let b = receipt(&rc::parse(&Page::from_text("TOKO\n21/12/2026\nTOTAL 15.000")), 0.7, uploaded());
        assert_eq!(b.reasons, vec!["date_in_future".to_owned()]);
        let b = receipt(&rc::parse(&Page::from_text("nothing here")), 0.7, uploaded());
        assert!(b.transactions.is_empty() && b.reasons.contains(&"no_total".to_owned()));
    }

    #[test]
    fn a_cash_book_page_books_each_entry_signed() {
        let page = Page::from_text("Tanggal Uraian Masuk Keluar\n20/11 Jual bakso 300.000 0\n20/11 Beli daging 0 120.000");
        let book = cb::parse(&page, NaiveDate::from_ymd_opt(2026, 11, 21).unwrap());
        let b = cashbook(&book, 0.6, uploaded());
        assert!(b.confident, "{:?} {:?}", b.reasons, book);
        let amounts: Vec<i64> = b.transactions.iter().map(|t| t.amount).collect();
        assert_eq!(amounts, vec![300_000, -120_000]);
        assert_eq!(b.transactions[1].index, 1);
        // The same page against a stricter threshold waits as a whole.
        let b = cashbook(&book, 0.9, uploaded());
        assert!(!b.confident && b.reasons == vec!["entries_unsure".to_owned()]);
        assert_eq!(b.transactions.len(), 2);
    }
}
