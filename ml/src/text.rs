//! Text normalisation for Indonesian bank, receipt and chat strings, and
//! the features the classifier reads from a transaction.
//!
//! Bank descriptions carry noise that says nothing about the category and
//! differs on every row: reference numbers (`2111/FTSCY/WS95031`), amounts
//! (`50000.00`), dates (`21/11`), account and phone numbers. [`tokens`]
//! keeps the words (merchant names, billers, transfer kinds), lower-cased,
//! with bank abbreviations spelt out.
//!
//! [`features`] hashes word unigrams and bigrams, character n-grams of each
//! word (so `gacoan` still matches `gacoannn` or a new `mie` merchant) and
//! the amount's direction and magnitude into a sparse vector of unit length
//! (words and n-grams each contributing half).

/// Words banks abbreviate, spelt out so that `TRSF` and `TRANSFER` meet.
const SYNONYMS: &[(&str, &str)] = &[
    ("trsf", "transfer"),
    ("trf", "transfer"),
    ("tf", "transfer"),
    ("tfr", "transfer"),
    ("byr", "bayar"),
    ("pemb", "pembayaran"),
    ("pembyr", "pembayaran"),
    ("tarikan", "tarik"),
    ("trk", "tarik"),
    ("adm", "admin"),
    ("adm.", "admin"),
    ("administrasi", "admin"),
    ("kr", "kredit"),
    ("cr", "kredit"),
    ("db", "debet"),
    ("dr", "dari"),
    ("ke", "ke"),
    ("sw", "switching"),
    ("brg", "barang"),
    ("pls", "pulsa"),
];

/// The words of `text`: lower case, split on anything not a letter or digit,
/// tokens with digits dropped (references, amounts, dates, numbers), single
/// letters dropped, abbreviations spelt out.
pub fn tokens(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for raw in text.split(|c: char| !c.is_alphanumeric()) {
        if raw.is_empty() || raw.chars().any(|c| c.is_ascii_digit()) {
            continue;
        }
        let lower = raw.to_lowercase();
        if lower.chars().count() < 2 {
            continue;
        }
        let word = SYNONYMS.iter().find(|(short, _)| *short == lower).map_or(lower, |(_, long)| (*long).to_owned());
        out.push(word);
    }
    out
}

/// FNV-1a, 64 bits: a stable hash (the same across builds and machines, so a
/// stored model keeps meaning the same features).
pub fn fnv1a(parts: &[&[u8]]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for &b in *part {
            hash ^= u64::from(b);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
        // A separator, so ("ab","c") and ("a","bc") differ.
        hash ^= 0xff;
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

/// A sparse feature vector: `(index, value)`, indices ascending and unique.
pub type Sparse = Vec<(u32, f32)>;

/// How features are made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FeatureConfig {
    /// Features are hashed into `2^bits` slots.
    pub bits: u8,
    /// Character n-grams of each word, from `char_min` to `char_max` letters (0: none).
    pub char_min: u8,
    pub char_max: u8,
    /// Word bigrams too.
    pub bigrams: bool,
    /// Direction and magnitude of the amount.
    pub amount: bool,
}

impl Default for FeatureConfig {
    fn default() -> Self {
        FeatureConfig { bits: 18, char_min: 3, char_max: 5, bigrams: true, amount: true }
    }
}

impl FeatureConfig {
    pub fn dimensions(&self) -> usize {
        1 << self.bits
    }
}

/// The features of a transaction: its description and, when known, its
/// signed amount in rupiah.
pub fn features(text: &str, amount: Option<i64>, config: &FeatureConfig) -> Sparse {
    let words = tokens(text);
    let mask = (1u64 << config.bits) - 1;
    // Hash into a list, then sort and merge repeats: cheaper than a map for
    // the hundred-odd features of a bank line.
    // `(slot, count, is a character n-gram)`.
    let mut hashed: Vec<(u32, f32, bool)> = Vec::with_capacity(words.len() * 12 + 4);
    let mut add = |hash: u64, weight: f32, is_char: bool| hashed.push(((hash & mask) as u32, weight, is_char));
    let mut padded: Vec<u8> = Vec::with_capacity(64);
    let mut bounds: Vec<usize> = Vec::with_capacity(64);
    for (i, word) in words.iter().enumerate() {
        add(fnv1a(&[b"w", word.as_bytes()]), 1.0, false);
        if config.bigrams {
            if let Some(next) = words.get(i + 1) {
                add(fnv1a(&[b"b", word.as_bytes(), next.as_bytes()]), 1.0, false);
            }
        }
        if config.char_min > 0 {
            // `^word$`, cut at character (not byte) boundaries.
            padded.clear();
            padded.push(b'^');
            padded.extend_from_slice(word.as_bytes());
            padded.push(b'$');
            bounds.clear();
            bounds.push(0);
            bounds.extend(word.char_indices().map(|(at, _)| at + 1));
            bounds.push(padded.len() - 1);
            bounds.push(padded.len());
            let chars = bounds.len() - 1;
            for n in usize::from(config.char_min)..=usize::from(config.char_max) {
                for start in 0..chars.saturating_sub(n - 1) {
                    add(fnv1a(&[b"c", &padded[bounds[start]..bounds[start + n]]]), 1.0, true);
                }
            }
        }
    }
    if words.is_empty() {
        add(fnv1a(&[b"empty"]), 1.0, false);
    }
    if config.amount {
        if let Some(amount) = amount {
            let direction: &[u8] = if amount >= 0 { b"in" } else { b"out" };
            // Orders of magnitude: 10^3 (ribuan) … 10^9 (miliar).
            let magnitude = (amount.unsigned_abs().max(1) as f64).log10().floor() as u8;
            add(fnv1a(&[b"dir", direction]), 1.0, false);
            add(fnv1a(&[b"mag", direction, &[magnitude]]), 1.0, false);
        }
    }
    // Words (and the amount) and character n-grams are two blocks, each
    // scaled to unit length, as a union of two TF-IDF vectorisers would:
    // the many n-grams of a line must not drown its few words.
    let (mut words_block, mut chars_block) = (0.0f32, 0.0f32);
    let mut merged: Vec<(u32, f32, bool)> = Vec::with_capacity(hashed.len());
    hashed.sort_unstable_by_key(|(i, _, _)| *i);
    for (i, v, is_char) in hashed {
        match merged.last_mut() {
            Some((last, total, _)) if *last == i => *total += v,
            _ => merged.push((i, v, is_char)),
        }
    }
    for (_, v, is_char) in &mut merged {
        *v = (1.0 + *v).ln();
        if *is_char { chars_block += *v * *v } else { words_block += *v * *v }
    }
    let (words_norm, chars_norm) = (words_block.sqrt(), chars_block.sqrt());
    let blocks = if words_norm > 0.0 && chars_norm > 0.0 { std::f32::consts::FRAC_1_SQRT_2 } else { 1.0 };
    merged
        .into_iter()
        .map(|(i, v, is_char)| {
            let norm = if is_char { chars_norm } else { words_norm };
            (i, if norm > 0.0 { v / norm * blocks } else { v })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_amounts_and_dates_are_noise() {
        assert_eq!(tokens("TRSF E-BANKING DB 2111/FTSCY/WS95031 50000.00 BUDI SANTOSO"), ["transfer", "banking", "debet", "ftscy", "budi", "santoso"]);
        assert_eq!(tokens("TARIKAN ATM 21/11"), ["tarik", "atm"]);
        assert_eq!(tokens("PLN PREPAID 5123456789"), ["pln", "prepaid"]);
        assert_eq!(tokens("QRIS  Mie-Gacoan"), ["qris", "mie", "gacoan"]);
        assert_eq!(tokens("SWITCHING CR TRANSFER DR 014 SITI"), ["switching", "kredit", "transfer", "dari", "siti"]);
        assert!(tokens("2111/08 50.000,00").is_empty());
    }

    #[test]
    fn two_rows_of_one_merchant_share_their_features_whatever_the_reference() {
        let config = FeatureConfig::default();
        let a = features("QRIS MIE GACOAN 0811", Some(-68_000), &config);
        let b = features("QRIS MIE GACOAN 9377", Some(-68_000), &config);
        assert_eq!(a, b);
        let c = features("QRIS MIE GACOAN", Some(68_000), &config);
        assert_ne!(a, c, "money in and money out differ");
        let norm: f32 = a.iter().map(|(_, v)| v * v).sum();
        assert!((norm - 1.0).abs() < 1e-5);
        assert!(a.windows(2).all(|w| w[0].0 < w[1].0), "indices ascending and unique");
        assert!(a.iter().all(|(i, _)| (*i as usize) < config.dimensions()));
    }

    #[test]
    fn character_grams_are_cut_at_characters_not_bytes() {
        // `é` is two bytes; a byte cut would hash half a letter.
        let config = FeatureConfig { bigrams: false, amount: false, ..FeatureConfig::default() };
        let x = features("café", None, &config);
        let expected: std::collections::BTreeSet<u32> = ["^ca", "caf", "afé", "fé$", "^caf", "café", "afé$", "^café", "café$"]
            .iter()
            .map(|g| (fnv1a(&[b"c", g.as_bytes()]) & ((1 << config.bits) - 1)) as u32)
            .chain([(fnv1a(&[b"w", "café".as_bytes()]) & ((1 << config.bits) - 1)) as u32])
            .collect();
        assert_eq!(x.iter().map(|(i, _)| *i).collect::<std::collections::BTreeSet<u32>>(), expected);
    }

    #[test]
    fn the_hash_is_stable() {
        // A stored model depends on these values never changing (the value
        // was computed independently, in Python, from the FNV-1a definition).
        assert_eq!(fnv1a(&[b"w", b"gacoan"]), 0x6b6d_b600_2bc5_3e0f);
        assert_ne!(fnv1a(&[b"ab", b"c"]), fnv1a(&[b"a", b"bc"]));
        assert_eq!(fnv1a(&[]), 0xcbf2_9ce4_8422_2325);
    }
}
