//! The lender's book in the stream: the five tables materialised from
//! `arus.lending.v1` ([`tables`]) and customers' tiers ([`tiering`]); and
//! the brief's features computed in SQL over those tables
//! ([`behaviours`]), what `arus lending segments` trains k-means on.

pub mod tables;
pub mod tiering;

use arus_lakehouse::{LakeError, LakeSession};
use arus_ml::tiering::Behaviour;
use serde::Deserialize;

/// The brief's feature engineering over the tables, one row per customer:
/// paid and billed over due bills (scheduled on or before the row's
/// `as_of`), bills paid on or before their date, and the worst DPD of the
/// loans still owing. Customers without due bills get zeros.
pub const BEHAVIOUR_SQL: &str = "
WITH due AS (
  SELECT customer_number,
         SUM(paid_amount) AS total_paid,
         SUM(amount) AS total_bill,
         SUM(CASE WHEN bill_paid_date IS NOT NULL AND bill_paid_date <= bill_scheduled_date THEN 1 ELSE 0 END) AS on_time_count,
         COUNT(*) AS total_bills_count
  FROM bills WHERE bill_scheduled_date <= as_of AND customer_number IS NOT NULL
  GROUP BY customer_number),
owing AS (
  SELECT customer_number, MAX(dpd) AS current_dpd FROM loans WHERE outstanding_amount > 0 GROUP BY customer_number),
everyone AS (
  SELECT customer_number FROM customers UNION SELECT customer_number FROM loans)
SELECT e.customer_number,
       CAST(COALESCE(d.total_paid, 0) AS BIGINT) AS total_paid,
       CAST(COALESCE(d.total_bill, 0) AS BIGINT) AS total_bill,
       CAST(COALESCE(o.current_dpd, 0) AS BIGINT) AS current_dpd,
       CAST(COALESCE(d.on_time_count, 0) AS BIGINT) AS on_time_count,
       CAST(COALESCE(d.total_bills_count, 0) AS BIGINT) AS total_bills_count
FROM everyone e LEFT JOIN due d ON d.customer_number = e.customer_number
               LEFT JOIN owing o ON o.customer_number = e.customer_number
ORDER BY e.customer_number";

#[derive(Deserialize)]
struct BehaviourRow {
    customer_number: String,
    total_paid: i64,
    total_bill: i64,
    current_dpd: i64,
    on_time_count: i64,
    total_bills_count: i64,
}

/// Every customer's behaviour as the tables have it now, by customer number.
pub async fn behaviours(session: &LakeSession) -> Result<Vec<(String, Behaviour)>, LakeError> {
    let mut out = Vec::new();
    for batch in session.sql(BEHAVIOUR_SQL).await? {
        let rows: Vec<BehaviourRow> = serde_arrow::from_record_batch(&batch).map_err(|e| LakeError::Rows { table: "bills", reason: e.to_string() })?;
        out.extend(rows.into_iter().map(|r| {
            let b = Behaviour { total_paid: r.total_paid, total_bill: r.total_bill, current_dpd: r.current_dpd, on_time_count: r.on_time_count, total_bills_count: r.total_bills_count };
            (r.customer_number, b)
        }));
    }
    Ok(out)
}
