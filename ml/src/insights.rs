//! The insight rules: figures about a person's period in, findings out.
//! Each finding is a rule name, a severity, the facts (the figures it
//! rests on, as JSON) and its text in Indonesian and English from fixed
//! templates: the facts are computed, the words only present them. An LLM
//! may reword the text later, from the facts only (see [`crate::narration`]).

use serde_json::{json, Map, Value};

use crate::budget::percent;

/// Spending in one category this period and the one before.
#[derive(Debug, Clone, PartialEq)]
pub struct CategorySpend {
    pub category_id: String,
    pub name_id: String,
    pub name_en: String,
    pub spent: i64,
    pub previous: i64,
}

/// A budget's use in the period (monthly runs).
#[derive(Debug, Clone, PartialEq)]
pub struct BudgetUse {
    pub category_id: String,
    pub name_id: String,
    pub name_en: String,
    pub limit: i64,
    pub spent: i64,
}

/// A goal as it stands at the end of the period.
#[derive(Debug, Clone, PartialEq)]
pub struct GoalUse {
    pub goal_id: String,
    pub name: String,
    pub target: i64,
    pub saved: i64,
    pub percent: i64,
    pub on_track: bool,
    pub needed_per_month: i64,
    /// `YYYY-MM-DD`.
    pub deadline: String,
}

/// What the latest forecast says.
#[derive(Debug, Clone, PartialEq)]
pub struct ForecastUse {
    pub balance: i64,
    /// The lowest balance the point forecast reaches in its horizon, and when.
    pub lowest: i64,
    pub lowest_on: String,
    pub horizon_days: i64,
}

/// A person's figures for one period.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Metrics {
    pub income: i64,
    pub expense: i64,
    pub previous_income: i64,
    pub previous_expense: i64,
    pub categories: Vec<CategorySpend>,
    pub budgets: Vec<BudgetUse>,
    pub goals: Vec<GoalUse>,
    pub anomalies: i64,
    pub forecast: Option<ForecastUse>,
}

/// One finding.
#[derive(Debug, Clone, PartialEq)]
pub struct Insight {
    pub rule: &'static str,
    /// What it is about within the rule (a category, a goal), for its id.
    pub subject: Option<String>,
    /// `info`, `warning`, `critical`.
    pub severity: &'static str,
    pub facts: Map<String, Value>,
    pub text_id: String,
    pub text_en: String,
}

pub use arus_schemas::money::format_rupiah as rupiah;

fn facts(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// Every number in `facts` (for checking a rewording against).
pub fn fact_numbers(facts: &Map<String, Value>) -> Vec<f64> {
    fn walk(v: &Value, out: &mut Vec<f64>) {
        match v {
            // A negative figure is written with its sign apart (`-Rp 250.000`).
            Value::Number(n) => out.extend(n.as_f64().into_iter().flat_map(|v| [v, v.abs()])),
            Value::Array(a) => a.iter().for_each(|v| walk(v, out)),
            Value::Object(o) => o.values().for_each(|v| walk(v, out)),
            Value::String(s) => out.extend(crate::narration::numbers(s)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    facts.values().for_each(|v| walk(v, &mut out));
    out
}

/// The findings for `m`; `period` names the period in each language
/// (`minggu lalu`/`last week`, `bulan Oktober`/`October`).
pub fn insights(m: &Metrics, period: (&str, &str)) -> Vec<Insight> {
    let (pid, pen) = period;
    let mut out = Vec::new();
    if m.income > 0 || m.expense > 0 {
        let net = m.income - m.expense;
        let ratio = if m.income > 0 { percent(m.expense, m.income) } else { 0 };
        let severity = if m.income == 0 || m.expense > m.income { "warning" } else { "info" };
        let (text_id, text_en) = if m.income == 0 {
            (
                format!("Pada {pid} tidak ada pemasukan tercatat, pengeluaran {}.", rupiah(m.expense)),
                format!("No income was recorded {pen}; spending was {}.", rupiah(m.expense)),
            )
        } else if m.expense > m.income {
            (
                format!("Pada {pid} pengeluaran {} lebih besar dari pemasukan {} ({ratio}% dari pemasukan). Arus kas minus {}.", rupiah(m.expense), rupiah(m.income), rupiah(-net)),
                format!("{}, spending of {} exceeded income of {} ({ratio}% of income). Cash flow was {} short.", capital(pen), rupiah(m.expense), rupiah(m.income), rupiah(-net)),
            )
        } else {
            (
                format!("Pada {pid} pengeluaran {} atau {ratio}% dari pemasukan {}. Arus kas positif {}.", rupiah(m.expense), rupiah(m.income), rupiah(net)),
                format!("{}, spending was {} or {ratio}% of income of {}. Cash flow was {} positive.", capital(pen), rupiah(m.expense), rupiah(m.income), rupiah(net)),
            )
        };
        out.push(Insight {
            rule: "income_expense",
            subject: None,
            severity,
            facts: facts(json!({"income": m.income, "expense": m.expense, "net": net, "expense_pct_of_income": ratio})),
            text_id,
            text_en,
        });
    }
    if m.income > 0 {
        let saved = m.income - m.expense;
        let rate = (saved as f64 * 100.0 / m.income as f64).round() as i64;
        let previous_rate = (m.previous_income > 0).then(|| ((m.previous_income - m.previous_expense) as f64 * 100.0 / m.previous_income as f64).round() as i64);
        let severity = if rate < 0 { "critical" } else if rate < 10 { "warning" } else { "info" };
        let advice_id = if rate < 10 { " Usahakan menyisihkan minimal 10% dari pemasukan." } else { " Bagus, pertahankan!" };
        let advice_en = if rate < 10 { " Try to set aside at least 10% of income." } else { " Well done, keep it up!" };
        let before_id = previous_rate.map(|p| format!(" (sebelumnya {p}%)")).unwrap_or_default();
        let before_en = previous_rate.map(|p| format!(" (previously {p}%)")).unwrap_or_default();
        let mut f = json!({"income": m.income, "saved": saved, "savings_rate_pct": rate});
        if let Some(p) = previous_rate {
            f["previous_savings_rate_pct"] = json!(p);
        }
        out.push(Insight {
            rule: "savings_rate",
            subject: None,
            severity,
            facts: facts(f),
            text_id: format!("Tingkat tabungan {pid}: {rate}%{before_id}.{advice_id}"),
            text_en: format!("Savings rate {pen}: {rate}%{before_en}.{advice_en}"),
        });
    }
    let mut top: Vec<&CategorySpend> = m.categories.iter().filter(|c| c.spent > 0).collect();
    top.sort_by(|a, b| b.spent.cmp(&a.spent).then(a.category_id.cmp(&b.category_id)));
    for c in top.into_iter().take(3) {
        let change = (c.previous > 0).then(|| ((c.spent - c.previous) as f64 * 100.0 / c.previous as f64).round() as i64);
        let severity = if change.is_some_and(|ch| ch >= 30) { "warning" } else { "info" };
        let (vs_id, vs_en) = match change {
            Some(ch) if ch > 0 => (format!(", naik {ch}% dari sebelumnya {}", rupiah(c.previous)), format!(", up {ch}% from {} before", rupiah(c.previous))),
            Some(ch) if ch < 0 => (format!(", turun {}% dari sebelumnya {}", -ch, rupiah(c.previous)), format!(", down {}% from {} before", -ch, rupiah(c.previous))),
            Some(_) => (", sama dengan sebelumnya".to_owned(), ", the same as before".to_owned()),
            None => (String::new(), String::new()),
        };
        let mut f = json!({"category_id": c.category_id, "spent": c.spent, "previous": c.previous});
        if let Some(ch) = change {
            f["change_pct"] = json!(ch);
        }
        out.push(Insight {
            rule: "top_category",
            subject: Some(c.category_id.clone()),
            severity,
            facts: facts(f),
            text_id: format!("Pengeluaran {} {pid}: {}{vs_id}.", c.name_id, rupiah(c.spent)),
            text_en: format!("{} spending {pen}: {}{vs_en}.", c.name_en, rupiah(c.spent)),
        });
    }
    for b in &m.budgets {
        let pct = percent(b.spent, b.limit);
        if pct < 80 {
            continue;
        }
        let severity = if pct >= 100 { "critical" } else { "warning" };
        out.push(Insight {
            rule: "overspending",
            subject: Some(b.category_id.clone()),
            severity,
            facts: facts(json!({"category_id": b.category_id, "limit": b.limit, "spent": b.spent, "used_pct": pct})),
            text_id: format!("Budget {} {pid} terpakai {pct}%: {} dari {}.", b.name_id, rupiah(b.spent), rupiah(b.limit)),
            text_en: format!("The {} budget {pen} was {pct}% used: {} of {}.", b.name_en, rupiah(b.spent), rupiah(b.limit)),
        });
    }
    for g in &m.goals {
        let severity = if g.on_track { "info" } else { "warning" };
        let (pace_id, pace_en) = if g.on_track || g.needed_per_month == 0 {
            (" Sesuai jalur.".to_owned(), " On track.".to_owned())
        } else {
            (format!(" Perlu sekitar {} per bulan untuk sampai tepat waktu.", rupiah(g.needed_per_month)), format!(" About {} a month is needed to make it in time.", rupiah(g.needed_per_month)))
        };
        out.push(Insight {
            rule: "goal_progress",
            subject: Some(g.goal_id.clone()),
            severity,
            facts: facts(json!({"goal": g.name, "target": g.target, "saved": g.saved, "progress_pct": g.percent, "needed_per_month": g.needed_per_month, "deadline": g.deadline})),
            text_id: format!("Target {}: terkumpul {} dari {} ({}%), tenggat {}.{pace_id}", g.name, rupiah(g.saved.max(0)), rupiah(g.target), g.percent, g.deadline),
            text_en: format!("Goal {}: {} of {} saved ({}%), due {}.{pace_en}", g.name, rupiah(g.saved.max(0)), rupiah(g.target), g.percent, g.deadline),
        });
    }
    if m.anomalies > 0 {
        out.push(Insight {
            rule: "anomalies",
            subject: None,
            severity: "warning",
            facts: facts(json!({"anomalies": m.anomalies})),
            text_id: format!("Ada {} pengeluaran tidak biasa {pid}. Cek kembali apakah semuanya benar.", m.anomalies),
            text_en: format!("There were {} unusual expenses {pen}. Check that they are all correct.", m.anomalies),
        });
    }
    if let Some(f) = &m.forecast {
        let severity = if f.lowest < 0 { "critical" } else { "info" };
        let (text_id, text_en) = if f.lowest < 0 {
            (
                format!("Perkiraan {} hari ke depan: saldo bisa turun sampai {} sekitar {}. Kurangi pengeluaran atau siapkan dana.", f.horizon_days, rupiah(f.lowest), f.lowest_on),
                format!("Forecast for the next {} days: the balance may fall to {} around {}. Cut spending or set money aside.", f.horizon_days, rupiah(f.lowest), f.lowest_on),
            )
        } else {
            (
                format!("Perkiraan {} hari ke depan: saldo tetap positif, terendah sekitar {}.", f.horizon_days, rupiah(f.lowest)),
                format!("Forecast for the next {} days: the balance stays positive, lowest around {}.", f.horizon_days, rupiah(f.lowest)),
            )
        };
        out.push(Insight {
            rule: "forecast",
            subject: None,
            severity,
            facts: facts(json!({"balance": f.balance, "lowest_balance": f.lowest, "lowest_on": f.lowest_on, "horizon_days": f.horizon_days})),
            text_id,
            text_en,
        });
    }
    out
}

/// `pen` with a capital first letter (a sentence start).
fn capital(pen: &str) -> String {
    let mut c = pen.chars();
    c.next().map(|f| f.to_uppercase().chain(c).collect()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::narration::invented;

    fn metrics() -> Metrics {
        Metrics {
            income: 4_000_000,
            expense: 3_500_000,
            previous_income: 4_000_000,
            previous_expense: 3_000_000,
            categories: vec![
                CategorySpend { category_id: "food_drink".into(), name_id: "Makanan & Minuman".into(), name_en: "Food and drink".into(), spent: 1_300_000, previous: 1_000_000 },
                CategorySpend { category_id: "transport".into(), name_id: "Transportasi".into(), name_en: "Transport".into(), spent: 400_000, previous: 0 },
            ],
            budgets: vec![BudgetUse { category_id: "food_drink".into(), name_id: "Makanan & Minuman".into(), name_en: "Food and drink".into(), limit: 1_200_000, spent: 1_300_000 }],
            goals: vec![GoalUse { goal_id: "dana-darurat".into(), name: "Dana Darurat".into(), target: 5_000_000, saved: 1_000_000, percent: 20, on_track: false, needed_per_month: 2_000_000, deadline: "2026-12-31".into() }],
            anomalies: 1,
            forecast: Some(ForecastUse { balance: 500_000, lowest: -250_000, lowest_on: "2026-12-10".into(), horizon_days: 30 }),
        }
    }

    #[test]
    fn rules_find_what_the_figures_say() {
        let found = insights(&metrics(), ("bulan Oktober", "in October"));
        let rules: Vec<(&str, &str)> = found.iter().map(|i| (i.rule, i.severity)).collect();
        assert_eq!(
            rules,
            [
                ("income_expense", "info"),
                ("savings_rate", "info"),
                ("top_category", "warning"),
                ("top_category", "info"),
                ("overspending", "critical"),
                ("goal_progress", "warning"),
                ("anomalies", "warning"),
                ("forecast", "critical"),
            ]
        );
        assert_eq!(found[0].text_id, "Pada bulan Oktober pengeluaran Rp 3.500.000 atau 87% dari pemasukan Rp 4.000.000. Arus kas positif Rp 500.000.");
        assert_eq!(found[0].text_en, "In October, spending was Rp 3.500.000 or 87% of income of Rp 4.000.000. Cash flow was Rp 500.000 positive.");
        assert_eq!(found[1].text_id, "Tingkat tabungan bulan Oktober: 13% (sebelumnya 25%). Bagus, pertahankan!");
        assert_eq!(found[2].text_id, "Pengeluaran Makanan & Minuman bulan Oktober: Rp 1.300.000, naik 30% dari sebelumnya Rp 1.000.000.");
        assert_eq!(found[4].text_en, "The Food and drink budget in October was 108% used: Rp 1.300.000 of Rp 1.200.000.");
        // Every template mentions only numbers of its facts.
        for i in &found {
            for text in [&i.text_id, &i.text_en] {
                assert!(invented(text, &fact_numbers(&i.facts)).is_empty(), "{}: {text} mentions {:?}", i.rule, invented(text, &fact_numbers(&i.facts)));
            }
        }
        let short = Metrics { income: 1_000_000, expense: 1_500_000, ..Metrics::default() };
        let found = insights(&short, ("minggu lalu", "last week"));
        assert_eq!(found[0].text_en, "Last week, spending of Rp 1.500.000 exceeded income of Rp 1.000.000 (150% of income). Cash flow was Rp 500.000 short.");
        assert_eq!((found[1].rule, found[1].severity), ("savings_rate", "critical"));
        assert!(insights(&Metrics::default(), ("", "")).is_empty());
    }
}
