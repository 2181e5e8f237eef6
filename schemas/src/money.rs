//! How amounts are written for people.

/// Writes `rupiah` the Indonesian way: `Rp 1.234.567`, `-Rp 25.000`.
pub fn format_rupiah(rupiah: i64) -> String {
    let digits = rupiah.unsigned_abs().to_string();
    let mut grouped = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            grouped.push('.');
        }
        grouped.push(c);
    }
    if rupiah < 0 { format!("-Rp {grouped}") } else { format!("Rp {grouped}") }
}
