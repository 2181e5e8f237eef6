//! The default categories of DOMAIN.md. Ids are English snake case (the API
//! speaks them); names are Indonesian first, English second (the UI shows
//! the person's language).

use serde::Serialize;

/// Whether a category is money in, household money out, or business money out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CategoryGroup {
    Income,
    Household,
    Business,
}

/// One category.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Category {
    pub id: &'static str,
    pub group: CategoryGroup,
    /// The name in Bahasa Indonesia.
    pub name_id: &'static str,
    /// The name in English.
    pub name_en: &'static str,
}

const fn c(id: &'static str, group: CategoryGroup, name_id: &'static str, name_en: &'static str) -> Category {
    Category { id, group, name_id, name_en }
}

use CategoryGroup::{Business, Household, Income};

/// Every default category, income first.
pub static DEFAULT: &[Category] = &[
    c("sales", Income, "Penjualan", "Sales"),
    c("salary", Income, "Gaji", "Salary"),
    c("transfer_in", Income, "Transfer Masuk", "Transfer in"),
    c("loan_disbursed", Income, "Pencairan Pinjaman", "Loan disbursed"),
    c("interest_profit_share", Income, "Bunga & Bagi Hasil", "Interest and profit share"),
    c("other_income", Income, "Pendapatan Lain", "Other income"),
    c("food_drink", Household, "Makanan & Minuman", "Food and drink"),
    c("groceries", Household, "Belanja Harian", "Groceries"),
    c("transport", Household, "Transportasi", "Transport"),
    c("bills_utilities", Household, "Tagihan & Utilitas", "Bills and utilities"),
    c("education", Household, "Pendidikan", "Education"),
    c("health", Household, "Kesehatan", "Health"),
    c("entertainment", Household, "Hiburan", "Entertainment"),
    c("rent", Household, "Sewa/Kontrakan", "Rent"),
    c("clothing", Household, "Pakaian", "Clothing"),
    c("zakat_donation", Household, "Zakat & Donasi", "Zakat and donations"),
    c("installment", Household, "Angsuran/Cicilan", "Loan instalments"),
    c("bank_fees", Household, "Biaya Bank", "Bank fees"),
    c("cash_withdrawal", Household, "Tarik Tunai", "Cash withdrawal"),
    c("transfer_out", Household, "Transfer Keluar", "Transfer out"),
    c("other", Household, "Lainnya", "Other"),
    c("raw_materials", Business, "Bahan Baku & Stok", "Raw materials and stock"),
    c("employee_wages", Business, "Gaji Karyawan", "Employee wages"),
    c("equipment", Business, "Peralatan", "Equipment"),
    c("business_rent", Business, "Sewa Tempat Usaha", "Business premises rent"),
    c("marketing", Business, "Pemasaran", "Marketing"),
    c("shipping", Business, "Ongkos Kirim", "Shipping"),
];

/// The default category with id `id`.
pub fn by_id(id: &str) -> Option<&'static Category> {
    DEFAULT.iter().find(|c| c.id == id)
}

/// The default category a person means by `text`: its id, or its
/// Indonesian or English name, in any case (`Bahan Baku & Stok`, `bahan
/// baku`, `raw_materials`). A name matches when it starts with `text`'s
/// words, so `Bahan Baku` finds `Bahan Baku & Stok`; more than one match is
/// no match.
pub fn find(text: &str) -> Option<&'static Category> {
    let wanted = normalise(text);
    if wanted.is_empty() {
        return None;
    }
    if let Some((_, id)) = ALIASES.iter().find(|(alias, _)| *alias == wanted) {
        return by_id(id);
    }
    if let Some(exact) = DEFAULT.iter().find(|c| c.id == wanted.replace(' ', "_") || normalise(c.name_id) == wanted || normalise(c.name_en) == wanted) {
        return Some(exact);
    }
    let mut prefixed = DEFAULT.iter().filter(|c| normalise(c.name_id).starts_with(&wanted) || normalise(c.name_en).starts_with(&wanted));
    match (prefixed.next(), prefixed.next()) {
        (Some(only), None) => Some(only),
        _ => None,
    }
}

/// Everyday words people budget with (`budget jajan 300rb`).
const ALIASES: &[(&str, &str)] = &[
    ("jajan", "food_drink"),
    ("food", "food_drink"),
    ("bensin", "transport"),
    ("ongkos", "transport"),
    ("listrik", "bills_utilities"),
    ("pulsa", "bills_utilities"),
    ("internet", "bills_utilities"),
    ("air", "bills_utilities"),
    ("belanja", "groceries"),
    ("dapur", "groceries"),
    ("sekolah", "education"),
    ("obat", "health"),
    ("kontrakan", "rent"),
    ("kos", "rent"),
    ("stok", "raw_materials"),
    ("bahan", "raw_materials"),
    ("sedekah", "zakat_donation"),
    ("cicilan", "installment"),
    ("angsuran", "installment"),
    ("karyawan", "employee_wages"),
    ("iklan", "marketing"),
    ("ongkir", "shipping"),
];

/// Lower case words separated by one space; `&`, `/` and punctuation dropped.
fn normalise(text: &str) -> String {
    text.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(str::to_lowercase).collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_names_are_found_in_either_language() {
        let mut ids: Vec<_> = DEFAULT.iter().map(|c| c.id).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), DEFAULT.len());
        assert_eq!(find("Bahan Baku").map(|c| c.id), Some("raw_materials"));
        assert_eq!(find("bahan baku & stok").map(|c| c.id), Some("raw_materials"));
        assert_eq!(find("Groceries").map(|c| c.id), Some("groceries"));
        assert_eq!(find("transfer_out").map(|c| c.id), Some("transfer_out"));
        assert_eq!(find("Sewa/Kontrakan").map(|c| c.id), Some("rent"));
        // `Gaji` is a name by itself; `Transfer` starts two names.
        assert_eq!(find("gaji").map(|c| c.id), Some("salary"));
        assert_eq!(find("Transfer"), None);
        assert_eq!(find(" "), None);
        // `makan` starts one name; everyday words through the aliases.
        assert_eq!(find("makan").map(|c| c.id), Some("food_drink"));
        assert_eq!(find("Bensin").map(|c| c.id), Some("transport"));
        assert!(ALIASES.iter().all(|(_, id)| by_id(id).is_some()));
    }
}
