//! The languages arus speaks to people (Indonesian and English) and the one
//! table per language of validation messages, keyed by
//! [`ValidationError::code`]. English messages are written where the error
//! is made; this module renders them in the language a request asks for.

use crate::ValidationError;

/// A language of the user interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    #[default]
    En,
    Id,
}

impl Lang {
    /// The best language for an `Accept-Language` header value: the
    /// supported language with the highest weight (`id`/`in` for
    /// Indonesian, `en` for English); English when none is acceptable.
    pub fn from_accept_language(header: Option<&str>) -> Lang {
        let Some(header) = header else { return Lang::En };
        let mut best: Option<(Lang, f32)> = None;
        for item in header.split(',') {
            let mut parts = item.split(';');
            let tag = parts.next().unwrap_or("").trim().to_ascii_lowercase();
            let weight = parts
                .find_map(|p| p.trim().strip_prefix("q=").and_then(|q| q.trim().parse::<f32>().ok()))
                .unwrap_or(1.0);
            let primary = tag.split('-').next().unwrap_or("");
            let lang = match primary {
                "id" | "in" => Lang::Id,
                "en" => Lang::En,
                _ => continue,
            };
            if weight > 0.0 && best.is_none_or(|(_, w)| weight > w) {
                best = Some((lang, weight));
            }
        }
        best.map_or(Lang::En, |(lang, _)| lang)
    }

    /// BCP 47 tag, for `Content-Language`.
    pub fn tag(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Id => "id",
        }
    }
}

/// The name of month `month0` (0 = January) in `lang`.
pub fn month_name(month0: u32, lang: Lang) -> &'static str {
    const ID: [&str; 12] = ["Januari", "Februari", "Maret", "April", "Mei", "Juni", "Juli", "Agustus", "September", "Oktober", "November", "Desember"];
    const EN: [&str; 12] = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"];
    let names = if lang == Lang::Id { &ID } else { &EN };
    names[month0 as usize % 12]
}

/// The field as a person reads it in Indonesian.
fn field_id(field: &str) -> &str {
    match field {
        "amount" => "jumlah",
        "occurred_at" => "tanggal transaksi",
        "description" => "keterangan",
        "currency" => "mata uang",
        "account_id" => "akun",
        "counterparty" => "pihak lawan",
        "idempotency_key" => "kunci idempotensi",
        "user_id" => "pengguna",
        "password" => "kata sandi",
        "email" => "email",
        "phone" => "nomor HP",
        "name" => "nama",
        "display_name" => "nama",
        "kind" => "jenis",
        "institution" => "bank atau dompet digital",
        "number_last4" => "4 digit terakhir nomor rekening",
        "opening_balance" => "saldo awal",
        "role" => "peran",
        "officer_id" => "petugas",
        "body" => "isi permintaan",
        "category_id" | "category" => "kategori",
        "target" => "target",
        "deadline" => "tenggat",
        "from_month" => "bulan mulai",
        "goal_id" => "id target",
        "month" => "bulan",
        "from" => "tanggal awal",
        "to" => "tanggal akhir",
        "period" => "periode",
        "months" => "jumlah bulan",
        "by" => "pengelompokan",
        "format" => "format",
        other => other,
    }
}

/// `error`'s message in `lang`.
pub fn message(error: &ValidationError, lang: Lang) -> String {
    match lang {
        Lang::En => error.message.clone(),
        Lang::Id => message_id(error).unwrap_or_else(|| error.message.clone()),
    }
}

fn message_id(e: &ValidationError) -> Option<String> {
    let field = field_id(&e.field);
    let param = e.param.as_deref().unwrap_or("");
    Some(match e.code.as_str() {
        "required" => format!("{field} wajib diisi"),
        "too_long" => format!("{field} lebih dari {param} karakter"),
        "too_short" => format!("{field} minimal {param} karakter"),
        "control_characters" => format!("{field} berisi karakter kontrol"),
        "zero" => format!("{field} tidak boleh nol"),
        "too_large" => format!("{field} melebihi {param} rupiah"),
        "negative" => format!("{field} tidak boleh negatif"),
        "invalid_currency" => format!("{field} harus berupa kode ISO 4217 seperti IDR"),
        "before_1970" => format!("{field} sebelum tahun 1970"),
        "in_future" => format!("{field} lebih dari satu hari ke depan"),
        "unsupported_version" => format!("versi skema {param} tidak didukung"),
        "invalid_type" => format!("{field} berformat salah: {param}"),
        "unknown_field" => format!("kolom {field} tidak dikenal"),
        "not_one_of" => format!("{field} harus salah satu dari: {param}"),
        "invalid_email" => format!("{field} bukan alamat email yang sah"),
        "invalid_phone" => format!("{field} bukan nomor HP Indonesia yang sah (contoh 0812…)"),
        "email_or_phone" => "isi email atau nomor HP".to_owned(),
        "taken" => format!("{field} sudah terdaftar"),
        "not_found" => format!("{field} tidak ditemukan"),
        "forbidden" => format!("{field} tidak boleh diubah oleh Anda"),
        "invalid_date" => format!("{field} bukan tanggal yang sah (YYYY-MM-DD)"),
        "invalid_cursor" => format!("{field} tidak sah; mulai lagi dari halaman pertama"),
        "out_of_range" => format!("{field} di luar rentang yang diizinkan ({param})"),
        "empty_update" => "tidak ada yang diubah".to_owned(),
        "not_positive" => format!("{field} harus lebih dari 0 rupiah"),
        "unknown_category" => format!("{field} tidak dikenal"),
        "income_category" => format!("{field} adalah kategori pemasukan; anggaran hanya untuk pengeluaran"),
        "invalid_month" => format!("{field} harus berformat YYYY-MM"),
        "invalid_period" => format!("{field} harus berformat YYYY-MM (bulan) atau YYYY-Qn (kuartal)"),
        "before_start" => format!("{field} tidak boleh sebelum tanggal mulai"),
        "invalid_id" => format!("{field} hanya huruf kecil dan angka yang dipisah -"),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_language_picks_the_highest_weighted_supported_language() {
        assert_eq!(Lang::from_accept_language(None), Lang::En);
        assert_eq!(Lang::from_accept_language(Some("id")), Lang::Id);
        assert_eq!(Lang::from_accept_language(Some("id-ID,id;q=0.9,en;q=0.8")), Lang::Id);
        assert_eq!(Lang::from_accept_language(Some("fr, en;q=0.5, id;q=0.7")), Lang::Id);
        assert_eq!(Lang::from_accept_language(Some("en-US,en;q=0.9,id;q=0.8")), Lang::En);
        assert_eq!(Lang::from_accept_language(Some("id;q=0, en;q=0.1")), Lang::En);
        assert_eq!(Lang::from_accept_language(Some("fr, de")), Lang::En);
        assert_eq!(Lang::from_accept_language(Some(";;;q=abc,,")), Lang::En);
    }

    #[test]
    fn every_code_the_schemas_emit_has_an_indonesian_message() {
        let raw = crate::TxnRaw {
            schema_version: 99,
            user_id: String::new(),
            idempotency_key: "k\u{7}".into(),
            source: crate::TxnSource::Manual,
            account_id: Some("x".repeat(200)),
            occurred_at: chrono::Utc::now() + chrono::Duration::days(3),
            amount: 0,
            currency: "rp".into(),
            description: "d".repeat(1001),
            counterparty: None,
            media_ref: None,
            category_id: None,
            reverses: None,
            captured_at: chrono::Utc::now(),
        };
        let errors = raw.validate(chrono::Utc::now()).unwrap_err();
        assert!(errors.len() >= 7, "{errors:?}");
        for e in &errors {
            let id = message(e, Lang::Id);
            assert_ne!(id, e.message, "no Indonesian message for code {}", e.code);
            assert_eq!(message(e, Lang::En), e.message);
        }
        let long = errors.iter().find(|e| e.field == "description").unwrap();
        assert_eq!(message(long, Lang::Id), "keterangan lebih dari 1000 karakter");
    }
}
