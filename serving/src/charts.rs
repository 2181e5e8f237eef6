//! Charts drawn on the server as SVG (no chart library in the browser):
//! month-by-month cash flow as paired bars and spending per category as
//! horizontal bars. Each has a `<title>` and a `<desc>` that says the
//! figures in words, so a screen reader gets what the picture shows; the
//! amounts are short rupiah (`Rp 1,2 jt`).

use arus_schemas::Lang;

use crate::api::dashboard::{CategoryTotal, MonthFlow};

const INCOME: &str = "#1b7f4b";
const EXPENSE: &str = "#c0392b";

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// `Rp 1,2 jt`, `Rp 850 rb`, `Rp 900`; `Rp 1.2M`, `Rp 850K` in English.
pub fn short_rupiah(amount: i64, lang: Lang) -> String {
    let sign = if amount < 0 { "-" } else { "" };
    let a = amount.unsigned_abs() as f64;
    let (value, unit) = match (a, lang) {
        (a, Lang::Id) if a >= 1e9 => (a / 1e9, " M"),
        (a, Lang::Id) if a >= 1e6 => (a / 1e6, " jt"),
        (a, Lang::Id) if a >= 1e3 => (a / 1e3, " rb"),
        (a, Lang::En) if a >= 1e9 => (a / 1e9, "B"),
        (a, Lang::En) if a >= 1e6 => (a / 1e6, "M"),
        (a, Lang::En) if a >= 1e3 => (a / 1e3, "K"),
        (a, _) => (a, ""),
    };
    let mut text = if unit.is_empty() || value >= 100.0 { format!("{value:.0}") } else { format!("{value:.1}") };
    if text.ends_with(".0") {
        text.truncate(text.len() - 2);
    }
    if lang == Lang::Id {
        text = text.replace('.', ",");
    }
    format!("{sign}Rp {text}{unit}")
}

/// A percentage in the language's decimal mark.
fn percent(p: f64, lang: Lang) -> String {
    let text = format!("{p}");
    if lang == Lang::Id { text.replace('.', ",") } else { text }
}

/// Paired bars of money in and out per month.
pub fn cashflow(months: &[MonthFlow], lang: Lang) -> String {
    let (w, h, left, bottom, top) = (640.0_f64, 260.0_f64, 64.0, 32.0, 16.0);
    let max = months.iter().map(|m| m.income.max(m.expense)).max().unwrap_or(0).max(1) as f64;
    let plot_h = h - bottom - top;
    let slot = (w - left - 8.0) / months.len().max(1) as f64;
    let bar = (slot * 0.36).min(28.0);
    let (title, inc, exp) = match lang {
        Lang::Id => ("Arus kas per bulan", "Pemasukan", "Pengeluaran"),
        Lang::En => ("Cash flow by month", "Income", "Spending"),
    };
    let desc: Vec<String> =
        months.iter().map(|m| format!("{}: {} {}, {} {}", m.month, inc.to_lowercase(), short_rupiah(m.income, lang), exp.to_lowercase(), short_rupiah(m.expense, lang))).collect();
    let mut svg = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" role="img" aria-labelledby="cf-title cf-desc" class="chart"><title id="cf-title">{title}</title><desc id="cf-desc">{}</desc>"#,
        esc(&desc.join("; "))
    );
    for i in 0..=4 {
        let v = max * f64::from(i) / 4.0;
        let y = top + plot_h - plot_h * f64::from(i) / 4.0;
        svg += &format!(r##"<line x1="{left}" x2="{}" y1="{y:.1}" y2="{y:.1}" stroke="#ddd"/><text x="{}" y="{:.1}" font-size="11" text-anchor="end" fill="#555">{}</text>"##, w - 8.0, left - 6.0, y + 4.0, esc(&short_rupiah(v as i64, lang)));
    }
    for (i, m) in months.iter().enumerate() {
        let x = left + slot * i as f64 + (slot - 2.0 * bar) / 2.0;
        for (j, (value, color, what)) in [(m.income, INCOME, inc), (m.expense, EXPENSE, exp)].into_iter().enumerate() {
            let bh = plot_h * value.max(0) as f64 / max;
            svg += &format!(
                r#"<rect x="{:.1}" y="{:.1}" width="{bar:.1}" height="{bh:.1}" fill="{color}"><title>{} {}: {}</title></rect>"#,
                x + bar * j as f64,
                top + plot_h - bh,
                esc(what),
                m.month,
                esc(&short_rupiah(value, lang))
            );
        }
        svg += &format!(r##"<text x="{:.1}" y="{:.1}" font-size="11" text-anchor="middle" fill="#333">{}</text>"##, x + bar, h - bottom + 16.0, &m.month[2..]);
    }
    svg += &format!(
        r##"<rect x="{left}" y="{}" width="10" height="10" fill="{INCOME}"/><text x="{}" y="{}" font-size="11" fill="#333">{inc}</text><rect x="{}" y="{}" width="10" height="10" fill="{EXPENSE}"/><text x="{}" y="{}" font-size="11" fill="#333">{exp}</text></svg>"##,
        h - 12.0,
        left + 14.0,
        h - 3.0,
        left + 110.0,
        h - 12.0,
        left + 124.0,
        h - 3.0
    );
    svg
}

/// Horizontal bars of the largest spending categories (at most eight).
pub fn categories(totals: &[CategoryTotal], lang: Lang) -> String {
    let spending: Vec<&CategoryTotal> = totals.iter().filter(|c| c.expense > 0).take(8).collect();
    let (w, row, left) = (640.0_f64, 30.0_f64, 190.0_f64);
    let h = (spending.len().max(1) as f64) * row + 16.0;
    let max = spending.iter().map(|c| c.expense).max().unwrap_or(1).max(1) as f64;
    let title = match lang {
        Lang::Id => "Pengeluaran per kategori",
        Lang::En => "Spending by category",
    };
    let desc: Vec<String> = spending.iter().map(|c| format!("{}: {} ({}%)", c.name, short_rupiah(c.expense, lang), percent(c.share_pct, lang))).collect();
    let mut svg = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" role="img" aria-labelledby="cat-title cat-desc" class="chart"><title id="cat-title">{title}</title><desc id="cat-desc">{}</desc>"#,
        esc(&desc.join("; "))
    );
    if spending.is_empty() {
        let none = if lang == Lang::Id { "Belum ada pengeluaran" } else { "No spending yet" };
        svg += &format!(r##"<text x="8" y="20" font-size="13" fill="#555">{none}</text>"##);
    }
    for (i, c) in spending.iter().enumerate() {
        let y = 8.0 + row * i as f64;
        let bw = (w - left - 110.0) * c.expense as f64 / max;
        svg += &format!(
            r##"<text x="{:.1}" y="{:.1}" font-size="12" text-anchor="end" fill="#333">{}</text><rect x="{left}" y="{y:.1}" width="{bw:.1}" height="{:.1}" fill="{EXPENSE}" rx="2"/><text x="{:.1}" y="{:.1}" font-size="12" fill="#333">{} · {}%</text>"##,
            left - 8.0,
            y + row * 0.55,
            esc(&c.name),
            row * 0.7,
            left + bw + 6.0,
            y + row * 0.55,
            esc(&short_rupiah(c.expense, lang)),
            percent(c.share_pct, lang)
        );
    }
    svg + "</svg>"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_amounts_in_both_languages() {
        assert_eq!(short_rupiah(1_260_000, Lang::Id), "Rp 1,3 jt");
        assert_eq!(short_rupiah(1_000_000, Lang::Id), "Rp 1 jt");
        assert_eq!(short_rupiah(850_000, Lang::Id), "Rp 850 rb");
        assert_eq!(short_rupiah(-45_500, Lang::En), "-Rp 45.5K");
        assert_eq!(short_rupiah(900, Lang::En), "Rp 900");
    }

    #[test]
    fn charts_say_their_figures_in_words() {
        let months = vec![MonthFlow { month: "2026-11".into(), income: 3_000_000, expense: 1_200_000, net: 1_800_000, transactions: 4 }];
        let svg = cashflow(&months, Lang::Id);
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert!(svg.contains("<desc id=\"cf-desc\">2026-11: pemasukan Rp 3 jt, pengeluaran Rp 1,2 jt</desc>"), "{svg}");
        let cats = vec![CategoryTotal {
            category_id: "food_drink".into(),
            name: "Makanan & Minuman".into(),
            group: "household".into(),
            income: 0,
            expense: 45_000,
            transactions: 1,
            share_pct: 100.0,
        }];
        let svg = categories(&cats, Lang::Id);
        assert!(svg.contains("Makanan &amp; Minuman: Rp 45 rb (100%)"), "{svg}");
        assert!(categories(&[], Lang::En).contains("No spending yet"));
    }
}
