//! The lender's tier rule (DOMAIN.md, "Tier of a customer"), exactly:
//! **GOLD** when DPD = 0 and repayment rate ≥ 98%, **SILVER** when DPD ≤ 7
//! and repayment rate ≥ 90%, **BRONZE** otherwise. The rate is compared in
//! integers (`paid × 100 ≥ billed × 98`), so exactly 98% is Gold and no
//! rounding moves a partner across a line.
//!
//! A customer with no due bills has no repayment rate: nothing shows how
//! they pay, so they are Bronze (reason `no_due_bills`) until a bill falls
//! due — a tier is earned from behaviour, not assumed.

use arus_schemas::lending::Tier;
use serde::{Deserialize, Serialize};

/// A customer's repayment behaviour: the body of the lender's scoring
/// endpoint. Amounts in whole rupiah.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Behaviour {
    /// Paid on the due bills.
    pub total_paid: i64,
    /// Due on the due bills.
    pub total_bill: i64,
    /// Days past due of the worst active loan.
    pub current_dpd: i64,
    /// Due bills paid on or before their date.
    pub on_time_count: i64,
    /// Due bills.
    pub total_bills_count: i64,
}

/// Why a behaviour cannot be scored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct BehaviourError {
    pub field: &'static str,
    /// `negative` or `out_of_range`.
    pub code: &'static str,
    pub message: String,
}

impl Behaviour {
    /// Every reason these figures cannot describe a customer.
    pub fn check(&self) -> Result<(), Vec<BehaviourError>> {
        let mut errors = Vec::new();
        let mut negative = |field: &'static str, value: i64| {
            if value < 0 {
                errors.push(BehaviourError { field, code: "negative", message: format!("must not be negative (got {value})") });
            }
        };
        negative("total_paid", self.total_paid);
        negative("total_bill", self.total_bill);
        negative("current_dpd", self.current_dpd);
        negative("on_time_count", self.on_time_count);
        negative("total_bills_count", self.total_bills_count);
        if self.on_time_count > self.total_bills_count {
            errors.push(BehaviourError { field: "on_time_count", code: "out_of_range", message: "cannot exceed total_bills_count".to_owned() });
        }
        if self.total_bills_count == 0 && self.total_bill > 0 {
            errors.push(BehaviourError { field: "total_bills_count", code: "out_of_range", message: "is 0 but total_bill is not".to_owned() });
        }
        if errors.is_empty() { Ok(()) } else { Err(errors) }
    }

    /// `SUM(paid) / SUM(billed)`; `None` without due bills.
    pub fn repayment_rate(&self) -> Option<f64> {
        (self.total_bill > 0).then(|| self.total_paid as f64 / self.total_bill as f64)
    }

    /// Share of due bills paid on time; `None` without due bills.
    pub fn on_time_rate(&self) -> Option<f64> {
        (self.total_bills_count > 0).then(|| self.on_time_count as f64 / self.total_bills_count as f64)
    }

    /// `repayment rate ≥ percent %`, in integers.
    fn repaid_at_least(&self, percent: i128) -> bool {
        i128::from(self.total_paid) * 100 >= i128::from(self.total_bill) * percent
    }
}

/// A tier and the reasons for it (stable codes, for people and dashboards).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    pub tier: Tier,
    pub reasons: Vec<String>,
}

/// The brief's rule.
pub fn rule_tier(b: &Behaviour) -> Decision {
    let mut reasons = Vec::new();
    if b.total_bill == 0 {
        reasons.push("no_due_bills".to_owned());
        if b.current_dpd > 0 {
            reasons.push(format!("dpd_{}", b.current_dpd));
        }
        return Decision { tier: Tier::Bronze, reasons };
    }
    let tier = if b.current_dpd == 0 && b.repaid_at_least(98) {
        reasons.extend(["dpd_0".to_owned(), "repayment_at_least_98".to_owned()]);
        Tier::Gold
    } else if b.current_dpd <= 7 && b.repaid_at_least(90) {
        reasons.push(if b.current_dpd == 0 { "repayment_below_98".to_owned() } else { format!("dpd_{}_within_7", b.current_dpd) });
        reasons.push("repayment_at_least_90".to_owned());
        Tier::Silver
    } else {
        if b.current_dpd > 7 {
            reasons.push(format!("dpd_{}_over_7", b.current_dpd));
        }
        if !b.repaid_at_least(90) {
            reasons.push("repayment_below_90".to_owned());
        }
        Tier::Bronze
    };
    Decision { tier, reasons }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tier(paid: i64, billed: i64, dpd: i64) -> Tier {
        rule_tier(&Behaviour { total_paid: paid, total_bill: billed, current_dpd: dpd, on_time_count: 0, total_bills_count: 1 }).tier
    }

    #[test]
    fn the_lines_fall_exactly_where_the_brief_draws_them() {
        // Repayment exactly 98% and 90%, and a rupiah under each.
        assert_eq!(tier(980_000, 1_000_000, 0), Tier::Gold);
        assert_eq!(tier(979_999, 1_000_000, 0), Tier::Silver);
        assert_eq!(tier(900_000, 1_000_000, 0), Tier::Silver);
        assert_eq!(tier(899_999, 1_000_000, 0), Tier::Bronze);
        // DPD 0, 7 and 8.
        assert_eq!(tier(1_000_000, 1_000_000, 0), Tier::Gold);
        assert_eq!(tier(1_000_000, 1_000_000, 1), Tier::Silver);
        assert_eq!(tier(1_000_000, 1_000_000, 7), Tier::Silver);
        assert_eq!(tier(1_000_000, 1_000_000, 8), Tier::Bronze);
        assert_eq!(tier(900_000, 1_000_000, 7), Tier::Silver);
        assert_eq!(tier(899_999, 1_000_000, 7), Tier::Bronze);
        // Paying more than billed is still paying.
        assert_eq!(tier(1_200_000, 1_000_000, 0), Tier::Gold);
        // Rupiah amounts large enough to overflow a naive i64 product.
        assert_eq!(tier(i64::MAX / 50, i64::MAX / 50, 0), Tier::Gold);
    }

    #[test]
    fn no_due_bills_earn_no_tier_above_bronze() {
        let d = rule_tier(&Behaviour::default());
        assert_eq!((d.tier, d.reasons), (Tier::Bronze, vec!["no_due_bills".to_owned()]));
        assert_eq!(Behaviour::default().repayment_rate(), None);
        assert_eq!(Behaviour::default().on_time_rate(), None);
    }

    #[test]
    fn reasons_say_which_line_was_crossed() {
        let d = rule_tier(&Behaviour { total_paid: 850_000, total_bill: 1_000_000, current_dpd: 14, on_time_count: 3, total_bills_count: 10 });
        assert_eq!((d.tier, d.reasons), (Tier::Bronze, vec!["dpd_14_over_7".to_owned(), "repayment_below_90".to_owned()]));
        let d = rule_tier(&Behaviour { total_paid: 5_000_000, total_bill: 5_000_000, current_dpd: 0, on_time_count: 10, total_bills_count: 10 });
        assert_eq!((d.tier, d.reasons), (Tier::Gold, vec!["dpd_0".to_owned(), "repayment_at_least_98".to_owned()]));
    }

    #[test]
    fn impossible_figures_are_refused_by_field() {
        let bad = Behaviour { total_paid: -1, total_bill: 100, current_dpd: 0, on_time_count: 5, total_bills_count: 3 };
        let fields: Vec<_> = bad.check().unwrap_err().into_iter().map(|e| e.field).collect();
        assert_eq!(fields, ["total_paid", "on_time_count"]);
        assert!(Behaviour { total_paid: 0, total_bill: 10, current_dpd: 0, on_time_count: 0, total_bills_count: 0 }.check().is_err());
        assert!(Behaviour::default().check().is_ok());
    }
}
