//! Personal rules: what one person has taught about one merchant. After two
//! consistent corrections for the same merchant, that person's next
//! transactions with it follow them, whatever the global model thinks; other
//! people are not affected.

use std::collections::HashMap;

use crate::text::tokens;

/// Words that say how money moved, not with whom: dropped from the
/// merchant key so `QRIS MIE GACOAN` and `KARTU DEBIT MIE GACOAN` meet.
const CHANNEL_WORDS: &[&str] = &[
    "qris", "qr", "kartu", "debit", "debet", "kredit", "edc", "trx", "purchase", "pembelian", "pembayaran", "payment", "pay",
    "bayar", "via", "ke", "dari", "di", "transfer", "banking", "switching", "ftscy", "ftfva", "bif", "fast", "bi", "echannel",
    "mcm", "inhousetrf", "otomatis", "top", "up", "topup", "gopay", "ovo", "shopeepay", "nbmb", "to", "briva", "ws",
];

/// Consistent corrections needed before a rule applies.
pub const CORRECTIONS_FOR_A_RULE: usize = 2;

/// The merchant a transaction is with and the direction of the money, as a
/// key (`out:mie gacoan`): the counterparty's words when it has one, else
/// the description's words without channel words. Money in from Budi and
/// money out to Budi are different keys. Empty when no word identifies the
/// merchant (then no rule can apply).
pub fn merchant_key(description: &str, counterparty: Option<&str>, amount: i64) -> String {
    let from = |text: &str| -> Vec<String> { tokens(text).into_iter().filter(|w| !CHANNEL_WORDS.contains(&w.as_str())).collect() };
    let words = counterparty.map(from).filter(|w| !w.is_empty()).unwrap_or_else(|| from(description));
    if words.is_empty() {
        return String::new();
    }
    format!("{}:{}", if amount >= 0 { "in" } else { "out" }, words.join(" "))
}

/// What a person taught about a merchant: the category they gave each
/// transaction, in the order of their latest word on it.
#[derive(Debug, Default, Clone)]
struct Taught {
    /// `(transaction id, category)`; one entry per transaction.
    given: Vec<(String, String)>,
}

/// A rule that applies: the category and the share of this merchant's
/// corrections that chose it.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule<'a> {
    pub category: &'a str,
    pub agreement: f32,
}

/// The personal rules of everyone, learnt from corrections as they arrive.
#[derive(Debug, Default, Clone)]
pub struct PersonalRules {
    /// Person → merchant key → what they taught (nested, so a lookup
    /// borrows its keys instead of building them).
    taught: HashMap<String, HashMap<String, Taught>>,
}

impl PersonalRules {
    pub fn new() -> Self {
        Self::default()
    }

    /// `user` said `transaction`, with merchant `key`, is `category`. A
    /// second word on the same transaction replaces the first: a rule needs
    /// corrections of different transactions.
    pub fn learn(&mut self, user: &str, key: &str, transaction: &str, category: &str) {
        if key.is_empty() {
            return;
        }
        let given = &mut self.taught.entry(user.to_owned()).or_default().entry(key.to_owned()).or_default().given;
        given.retain(|(t, _)| t != transaction);
        given.push((transaction.to_owned(), category.to_owned()));
    }

    /// The rule for `user` and merchant `key`: when the last
    /// [`CORRECTIONS_FOR_A_RULE`] transactions corrected agree.
    pub fn lookup(&self, user: &str, key: &str) -> Option<Rule<'_>> {
        if key.is_empty() {
            return None;
        }
        let given = &self.taught.get(user)?.get(key)?.given;
        let last = given.len().checked_sub(CORRECTIONS_FOR_A_RULE)?;
        let category = given[last].1.as_str();
        if !given[last..].iter().all(|(_, c)| c == category) {
            return None;
        }
        let agreeing = given.iter().filter(|(_, c)| c == category).count();
        Some(Rule { category, agreement: agreeing as f32 / given.len() as f32 })
    }

    /// True when `user` has corrected anything: else no rule can apply and
    /// the merchant key need not be worked out.
    pub fn knows(&self, user: &str) -> bool {
        self.taught.contains_key(user)
    }

    /// People × merchants with at least one correction.
    pub fn len(&self) -> usize {
        self.taught.values().map(HashMap::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.taught.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_merchant_is_the_same_whatever_the_channel_and_reference() {
        let key = merchant_key("QRIS MIE GACOAN 8812", None, -45_000);
        assert_eq!(key, "out:mie gacoan");
        assert_eq!(merchant_key("KARTU DEBIT MIE GACOAN", None, -10_000), key);
        assert_eq!(merchant_key("Pembayaran ke Mie Gacoan via GoPay", None, -1), key);
        assert_eq!(merchant_key("TRSF E-BANKING DB 0211/FTSCY/WS95031 50000.00 BUDI SANTOSO", None, -50_000), "out:budi santoso");
        assert_eq!(merchant_key("SWITCHING CR TRANSFER DR 014 BUDI SANTOSO", None, 50_000), "in:budi santoso");
        assert_eq!(merchant_key("anything", Some("Toko Sumber Rejeki"), -5), "out:toko sumber rejeki");
        assert_eq!(merchant_key("21/11 5000", None, -5), "");
    }

    #[test]
    fn two_consistent_corrections_make_a_rule_for_that_person_only() {
        let mut rules = PersonalRules::new();
        rules.learn("rini", "out:mie gacoan", "t1", "raw_materials");
        assert_eq!(rules.lookup("rini", "out:mie gacoan"), None, "one correction is not a rule yet");
        rules.learn("rini", "out:mie gacoan", "t1", "raw_materials");
        assert_eq!(rules.lookup("rini", "out:mie gacoan"), None, "the same transaction twice is still one");
        rules.learn("rini", "out:mie gacoan", "t2", "raw_materials");
        assert_eq!(rules.lookup("rini", "out:mie gacoan"), Some(Rule { category: "raw_materials", agreement: 1.0 }));
        assert_eq!(rules.lookup("budi", "out:mie gacoan"), None);
        assert_eq!(rules.lookup("rini", "out:kopi kenangan"), None);
        // A change of mind: the rule goes until two agree again.
        rules.learn("rini", "out:mie gacoan", "t3", "food_drink");
        assert_eq!(rules.lookup("rini", "out:mie gacoan"), None);
        rules.learn("rini", "out:mie gacoan", "t4", "food_drink");
        assert_eq!(rules.lookup("rini", "out:mie gacoan"), Some(Rule { category: "food_drink", agreement: 0.5 }));
        rules.learn("rini", "", "t5", "food_drink");
        assert_eq!(rules.len(), 1);
    }
}
