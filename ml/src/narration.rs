//! The guard on narrated insights: a language model may reword an
//! insight, but every number in its text must be one of the insight's
//! facts. [`numbers`] reads the numbers of Indonesian or English text
//! (`Rp 1.500.000`, `1,5 juta`, `Rp1.5m`, `25%`, `300rb`, `12.5`);
//! [`invented`] lists those that match no fact.

/// The numbers written in `text`, with `ribu`/`rb`/`k`, `juta`/`jt`/`m`
/// and `miliar`/`M`/`bn` multipliers applied.
pub fn numbers(text: &str) -> Vec<f64> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if !chars[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        // A run of digits and separators.
        let start = i;
        while i < chars.len() && (chars[i].is_ascii_digit() || ((chars[i] == '.' || chars[i] == ',') && chars.get(i + 1).is_some_and(|c| c.is_ascii_digit()))) {
            i += 1;
        }
        let token: String = chars[start..i].iter().collect();
        let Some(mut value) = parse(&token) else { continue };
        // A multiplier word right after (spaces allowed).
        let mut j = i;
        while j < chars.len() && chars[j] == ' ' {
            j += 1;
        }
        let word: String = chars[j..].iter().take_while(|c| c.is_alphabetic()).collect::<String>();
        let factor = match word.to_lowercase().as_str() {
            "rb" | "ribu" | "k" | "thousand" => 1e3,
            "jt" | "juta" | "million" => 1e6,
            "m" if word == "m" => 1e6,
            "miliar" | "milyar" | "bn" | "billion" => 1e9,
            _ => 1.0,
        };
        if factor != 1.0 {
            value *= factor;
            i = j + word.len();
        }
        out.push(value);
    }
    out
}

/// One numeric token: `.` or `,` followed by exactly three digits (and
/// only such groups) separate thousands; otherwise the last one is the
/// decimal point.
fn parse(token: &str) -> Option<f64> {
    let seps: Vec<(usize, char)> = token.char_indices().filter(|(_, c)| *c == '.' || *c == ',').collect();
    if seps.is_empty() {
        return token.parse().ok();
    }
    let groups: Vec<&str> = token.split(['.', ',']).collect();
    let all_thousands = groups[1..].iter().all(|g| g.len() == 3) && (seps.len() > 1 || groups[0].len() <= 3);
    let same_kind = seps.iter().all(|(_, c)| *c == seps[0].1);
    if all_thousands && same_kind && !(seps.len() == 1 && groups[0] == "0") {
        return groups.concat().parse().ok();
    }
    // The last separator is the decimal point; the others group thousands.
    let (at, _) = *seps.last().expect("not empty");
    let whole: String = token[..at].chars().filter(char::is_ascii_digit).collect();
    format!("{whole}.{}", &token[at + 1..]).parse().ok()
}

/// The numbers of `text` that match none of `facts` (within 0.5%, or 0.05
/// for small figures, so `Rp 1,5 juta` matches 1,500,000 and `33%` a fact
/// of 33.3).
pub fn invented(text: &str, facts: &[f64]) -> Vec<f64> {
    numbers(text)
        .into_iter()
        .filter(|n| !facts.iter().any(|f| matches(*n, *f)))
        .collect()
}

/// `n` written for the fact `f`: equal within 0.5% (0.05 for small
/// figures), or a small fact (a percentage, a count) rounded to a whole number.
fn matches(n: f64, f: f64) -> bool {
    let close = (n - f).abs() <= (f.abs() * 0.005).max(0.05);
    let rounded = f.abs() < 1_000.0 && n.fract() == 0.0 && n == f.round();
    close || rounded
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_read_as_people_write_them() {
        assert_eq!(numbers("Pengeluaran Rp 1.500.000 bulan ini"), vec![1_500_000.0]);
        assert_eq!(numbers("naik 1,5 juta (25%) dari 300rb"), vec![1_500_000.0, 25.0, 300_000.0]);
        assert_eq!(numbers("spent Rp1,500,000 or 1.5m, 12.5% more"), vec![1_500_000.0, 1_500_000.0, 12.5]);
        assert_eq!(numbers("Rp 25.000,50"), vec![25_000.5]);
        assert_eq!(numbers("3 kategori, 30 hari"), vec![3.0, 30.0]);
        assert!(numbers("tidak ada angka.").is_empty());
    }

    #[test]
    fn a_number_not_in_the_facts_is_caught() {
        let facts = [1_500_000.0, 25.0, 300_000.0, 3.0];
        assert!(invented("Belanja makan Rp 1,5 juta, 25% di atas rata-rata 300 ribu.", &facts).is_empty());
        assert_eq!(invented("Belanja makan Rp 1,5 juta, naik 40%.", &facts), vec![40.0]);
        assert_eq!(invented("Hemat Rp 2.000.000 lagi.", &facts), vec![2_000_000.0]);
        assert!(invented("Ada 3 kategori.", &facts).is_empty());
        assert!(invented("naik 33%", &[33.3]).is_empty(), "a percentage rounded");
        assert_eq!(invented("naik 34%", &[33.3]), vec![34.0]);
    }
}
