//! What arus says on WhatsApp, in Indonesian and English: short, personal,
//! in the brief's tone (*"Terima kasih Ibu Rini! Catatan hari ini sudah
//! rapi. Arus kas positif Rp200.000. Pertahankan ya! (Status: Silver)"*).
//! Pure text; the router and the OCR job fill in the figures.

use arus_schemas::media::{MediaKind, MediaRecord, MediaStatus};
use arus_schemas::Lang;
use chrono::{DateTime, NaiveDate, Utc};

use crate::money::format_rupiah;
use crate::ocr::booking::local_zone;
use crate::photos::PhotoTransaction;
use crate::whatsapp::intent::{Period, Unclear};

/// Money in and out over some days.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Flow {
    /// Sum of money in (positive).
    pub income: i64,
    /// Sum of money out (positive).
    pub expense: i64,
    pub count: i64,
}

impl Flow {
    pub fn net(&self) -> i64 {
        self.income - self.expense
    }

    /// `self` with one more transaction of `amount`.
    pub fn with(mut self, amount: i64) -> Flow {
        if amount >= 0 {
            self.income += amount;
        } else {
            self.expense += -amount;
        }
        self.count += 1;
        self
    }

    /// `self` with a reversal of `amount` (the opposite of what it cancels):
    /// the cancelled money comes off its side and the transaction off the count.
    pub fn with_reversal(mut self, amount: i64) -> Flow {
        if amount >= 0 {
            self.expense -= amount;
        } else {
            self.income -= -amount;
        }
        self.count -= 1;
        self
    }

    /// [`Flow::with`] or [`Flow::with_reversal`].
    pub fn add(self, amount: i64, reversal: bool) -> Flow {
        if reversal { self.with_reversal(amount) } else { self.with(amount) }
    }
}

/// `Rp 200.000` with its sign spelled out: `+Rp 200.000`, `-Rp 50.000`.
fn signed(rupiah: i64) -> String {
    if rupiah > 0 { format!("+{}", format_rupiah(rupiah)) } else { format_rupiah(rupiah) }
}

fn pick(lang: Lang, id: String, en: String) -> String {
    match lang {
        Lang::Id => id,
        Lang::En => en,
    }
}

/// ` (Status: Silver)` when the person has a tier.
fn status_suffix(tier: Option<&str>) -> String {
    tier.map(|t| format!(" (Status: {t})")).unwrap_or_default()
}

/// Today's cash flow in one sentence, with a word of encouragement.
pub fn today_line(flow: Flow, lang: Lang) -> String {
    let net = flow.net();
    let (income, expense) = (format_rupiah(flow.income), format_rupiah(flow.expense));
    match (lang, net.signum()) {
        (Lang::Id, 1) => format!("Arus kas hari ini positif {} (masuk {income}, keluar {expense}). Pertahankan ya!", format_rupiah(net)),
        (Lang::Id, 0) => format!("Arus kas hari ini impas (masuk {income}, keluar {expense})."),
        (Lang::Id, _) => format!("Arus kas hari ini negatif {} (masuk {income}, keluar {expense}). Yuk catat juga pemasukannya.", format_rupiah(-net)),
        (Lang::En, 1) => format!("Today's cash flow is positive {} (in {income}, out {expense}). Keep it up!", format_rupiah(net)),
        (Lang::En, 0) => format!("Today's cash flow breaks even (in {income}, out {expense})."),
        (Lang::En, _) => format!("Today's cash flow is negative {} (in {income}, out {expense}). Don't forget to record your income too.", format_rupiah(-net)),
    }
}

/// A transaction recorded from a message.
pub fn recorded(name: &str, description: &str, amount: i64, yesterday: bool, today: Flow, tier: Option<&str>, lang: Lang) -> String {
    let what = if description.is_empty() { String::new() } else { format!("{description} — ") };
    let when_id = if yesterday { " (kemarin)" } else { "" };
    let when_en = if yesterday { " (yesterday)" } else { "" };
    let money_id = if amount >= 0 { "uang masuk" } else { "uang keluar" };
    let money_en = if amount >= 0 { "money in" } else { "money out" };
    let abs = format_rupiah(amount.abs());
    pick(
        lang,
        format!("Terima kasih {name}! Tercatat: {what}{money_id} {abs}{when_id}. {}{}", today_line(today, lang), status_suffix(tier)),
        format!("Thank you {name}! Recorded: {what}{money_en} {abs}{when_en}. {}{}", today_line(today, lang), status_suffix(tier)),
    )
}

/// The balance of everything recorded.
pub fn balance(name: &str, total: i64, count: i64, lang: Lang) -> String {
    if count == 0 {
        return pick(
            lang,
            format!("{name}, belum ada transaksi tercatat. Coba kirim misalnya: jual bakso 300rb"),
            format!("{name}, nothing is recorded yet. Try sending, for example: sold meatballs 300k"),
        );
    }
    pick(
        lang,
        format!("Saldo dari catatan {name}: {} ({count} transaksi).", signed(total)),
        format!("{name}'s balance from the records: {} ({count} transactions).", signed(total)),
    )
}

/// The words of a period, and its first and last day.
pub fn period_words(period: Period, lang: Lang) -> &'static str {
    match (period, lang) {
        (Period::Today, Lang::Id) => "hari ini",
        (Period::Yesterday, Lang::Id) => "kemarin",
        (Period::Week, Lang::Id) => "minggu ini",
        (Period::Month, Lang::Id) => "bulan ini",
        (Period::Today, Lang::En) => "today",
        (Period::Yesterday, Lang::En) => "yesterday",
        (Period::Week, Lang::En) => "this week",
        (Period::Month, Lang::En) => "this month",
    }
}

/// A report: money in and out, net, and where most money went.
pub fn report(name: &str, period: Period, from: NaiveDate, to: NaiveDate, flow: Flow, top: &[(String, i64)], lang: Lang) -> String {
    let days = if from == to { from.format("%d/%m").to_string() } else { format!("{}–{}", from.format("%d/%m"), to.format("%d/%m")) };
    let words = period_words(period, lang);
    if flow.count == 0 {
        return pick(lang, format!("{name}, belum ada transaksi {words} ({days})."), format!("{name}, no transactions {words} ({days})."));
    }
    let spent = top.iter().map(|(c, a)| format!("{c} {}", format_rupiah(*a))).collect::<Vec<_>>().join(", ");
    let (income, expense, net) = (format_rupiah(flow.income), format_rupiah(flow.expense), signed(flow.net()));
    let mut text = pick(
        lang,
        format!("Laporan {words} ({days}) untuk {name}: masuk {income}, keluar {expense}, arus kas {net}; {} transaksi.", flow.count),
        format!("Report {words} ({days}) for {name}: in {income}, out {expense}, cash flow {net}; {} transactions.", flow.count),
    );
    if !spent.is_empty() {
        text.push_str(&pick(lang, format!(" Pengeluaran terbesar: {spent}."), format!(" Biggest spending: {spent}.")));
    }
    text
}

/// The tier, or why there is none yet.
pub fn status(name: &str, tier: Option<&str>, lang: Lang) -> String {
    match tier {
        Some(tier) => pick(
            lang,
            format!("{name}, status Anda saat ini: {tier}. Bayar angsuran tepat waktu untuk mempertahankannya ya!"),
            format!("{name}, your current status: {tier}. Pay your instalments on time to keep it!"),
        ),
        None => pick(
            lang,
            format!("{name}, status tier Anda belum tersedia: data pinjaman Anda belum tercatat di arus."),
            format!("{name}, your tier is not available yet: your loan data is not in arus."),
        ),
    }
}

/// Budgets or goals, when none is set.
pub fn no_plans(name: &str, goals: bool, lang: Lang) -> String {
    match (goals, lang) {
        (false, Lang::Id) => format!("{name}, belum ada budget. Atur dengan pesan seperti: budget makan 1,5jt — nanti arus mengingatkan sebelum kebablasan."),
        (false, Lang::En) => format!("{name}, no budget is set. Set one with a message like: budget food 1.5m — arus will warn you before you overspend."),
        (true, Lang::Id) => format!("{name}, belum ada target tabungan. Buat dengan pesan seperti: target dana darurat 5jt Desember — nanti arus kabari perkembangannya."),
        (true, Lang::En) => format!("{name}, no savings goal is set. Create one with a message like: goal emergency fund 5m December — arus will keep you posted."),
    }
}

/// One budget as a reply line reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BudgetLine {
    pub category: String,
    pub limit: i64,
    pub spent: i64,
}

/// One goal as a reply line reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GoalLine {
    pub name: String,
    pub target: i64,
    pub saved: i64,
    pub deadline: NaiveDate,
    pub needed_per_month: i64,
    pub on_track: bool,
}

fn percent_of(part: i64, whole: i64) -> i64 {
    if whole <= 0 { 0 } else { (i128::from(part.max(0)) * 100 / i128::from(whole)) as i64 }
}

/// A budget just set, with this month's spending in its category.
pub fn budget_set(name: &str, line: &BudgetLine, thresholds: &[u32], lang: Lang) -> String {
    let marks = thresholds.iter().map(|t| format!("{t}%")).collect::<Vec<_>>().join(pick(lang, " dan ".into(), " and ".into()).as_str());
    pick(
        lang,
        format!(
            "Siap {name}! Budget {} {}/bulan tersimpan. Bulan ini sudah terpakai {} ({}%). arus akan mengingatkan di {marks}.",
            line.category,
            format_rupiah(line.limit),
            format_rupiah(line.spent),
            percent_of(line.spent, line.limit)
        ),
        format!(
            "Done {name}! Budget for {}: {} a month. Spent this month so far: {} ({}%). arus will warn you at {marks}.",
            line.category,
            format_rupiah(line.limit),
            format_rupiah(line.spent),
            percent_of(line.spent, line.limit)
        ),
    )
}

/// A budget for an income category: refused.
pub fn budget_for_income(category: &str, lang: Lang) -> String {
    pick(
        lang,
        format!("{category} adalah kategori pemasukan; budget hanya untuk pengeluaran. Contoh: budget makan 1,5jt"),
        format!("{category} is an income category; budgets are for spending. For example: budget food 1.5m"),
    )
}

fn date_words(d: NaiveDate, lang: Lang) -> String {
    use chrono::Datelike;
    format!("{} {} {}", d.day(), arus_schemas::i18n::month_name(d.month0(), lang), d.year())
}

/// A goal just set.
pub fn goal_set(name: &str, goal: &GoalLine, lang: Lang) -> String {
    pick(
        lang,
        format!(
            "Siap {name}! Target {} {} sampai {} tersimpan. Sudah terkumpul {} ({}%); perlu sekitar {} per bulan. Semangat!",
            goal.name,
            format_rupiah(goal.target),
            date_words(goal.deadline, lang),
            format_rupiah(goal.saved.max(0)),
            percent_of(goal.saved, goal.target),
            format_rupiah(goal.needed_per_month)
        ),
        format!(
            "Done {name}! Goal {}: {} by {}. Saved so far {} ({}%); about {} a month is needed. You can do it!",
            goal.name,
            format_rupiah(goal.target),
            date_words(goal.deadline, lang),
            format_rupiah(goal.saved.max(0)),
            percent_of(goal.saved, goal.target),
            format_rupiah(goal.needed_per_month)
        ),
    )
}

/// A goal without a month: asked, not guessed.
pub fn goal_needs_month(goal: &str, lang: Lang) -> String {
    pick(
        lang,
        format!("Target {goal} sampai kapan? Tulis bulannya, contoh: target {goal} 5jt Desember"),
        format!("By when is the goal {goal}? Write the month, for example: goal {goal} 5m December"),
    )
}

/// The budgets and this month's spending against them.
pub fn budgets(name: &str, lines: &[BudgetLine], lang: Lang) -> String {
    if lines.is_empty() {
        return no_plans(name, false, lang);
    }
    let mut text = pick(lang, format!("{name}, budget bulan ini:"), format!("{name}, this month's budgets:"));
    for l in lines {
        let pct = percent_of(l.spent, l.limit);
        let mark = if pct >= 100 { " ⚠️" } else if pct >= 80 { " ⚠" } else { "" };
        text.push_str(&format!("\n• {}: {} / {} ({pct}%){mark}", l.category, format_rupiah(l.spent), format_rupiah(l.limit)));
    }
    text
}

/// The goals and how they stand.
pub fn goals(name: &str, lines: &[GoalLine], lang: Lang) -> String {
    if lines.is_empty() {
        return no_plans(name, true, lang);
    }
    let mut text = pick(lang, format!("{name}, target tabungan Anda:"), format!("{name}, your savings goals:"));
    for g in lines {
        let pace = match (g.on_track, lang) {
            (true, Lang::Id) => "sesuai jalur".to_owned(),
            (true, Lang::En) => "on track".to_owned(),
            (false, Lang::Id) => format!("perlu {} per bulan", format_rupiah(g.needed_per_month)),
            (false, Lang::En) => format!("needs {} a month", format_rupiah(g.needed_per_month)),
        };
        text.push_str(&format!(
            "\n• {}: {} / {} ({}%), {} {} — {pace}",
            g.name,
            format_rupiah(g.saved.max(0)),
            format_rupiah(g.target),
            percent_of(g.saved, g.target),
            pick(lang, "sampai".into(), "by".into()),
            date_words(g.deadline, lang)
        ));
    }
    text
}

/// What arus understands.
pub fn help(lang: Lang) -> String {
    pick(
        lang,
        "Cara pakai arus:\n• Catat: jual bakso 20 porsi 300rb / beli gas 22.000 / bayar listrik 150rb / terima transfer 1,5jt dari Budi\n• Foto struk atau buku kas → balas YA untuk simpan\n• Tanya: saldo, laporan hari ini / minggu ini / bulan ini, status, budget, target\n• Rencana: budget makan 1,5jt / target dana darurat 5jt Desember\n• Koreksi: ubah kategori terakhir jadi Bahan Baku, hapus terakhir".to_owned(),
        "How to use arus:\n• Record: sold meatballs 300k / bought gas 22,000 / paid electricity 150k / received transfer 1.5m from Budi\n• Send a photo of a receipt or cash book → reply YES to save\n• Ask: balance, report today / this week / this month, my tier, budget, goal\n• Plan: budget food 1.5m / goal emergency fund 5m December\n• Correct: change last category to Raw materials, undo".to_owned(),
    )
}

pub fn greeting(name: &str, lang: Lang) -> String {
    pick(lang, format!("Halo {name}! 👋 {}", help(lang)), format!("Hello {name}! 👋 {}", help(lang)))
}

/// A number arus does not know.
pub fn onboarding(phone: Option<&str>, lang: Lang) -> String {
    let number = phone.map(|p| format!(" ({p})")).unwrap_or_default();
    pick(
        lang,
        format!("Halo! Nomor ini{number} belum terhubung ke arus. Minta petugas lapangan Anda menghubungkannya, atau daftar di aplikasi arus dengan nomor ini. Setelah itu Anda bisa mencatat, misalnya: jual bakso 300rb."),
        format!("Hello! This number{number} is not linked to arus yet. Ask your field officer to link it, or sign up in the arus app with this number. Then you can record, for example: sold meatballs 300k."),
    )
}

/// A message that looked like a transaction but cannot be recorded as is.
pub fn unclear(why: &Unclear, lang: Lang) -> String {
    match why {
        Unclear::NoDirection { amount, description } => pick(
            lang,
            format!("{} {} — uang masuk atau keluar? Kirim lagi dengan kata jual/terima (masuk) atau beli/bayar (keluar), misalnya: jual {}", description, format_rupiah(*amount), short(description, *amount)),
            format!("{} {} — money in or out? Send it again with sold/received (in) or bought/paid (out), for example: sold {}", description, format_rupiah(*amount), short(description, *amount)),
        ),
        Unclear::NoAmount { description } => pick(
            lang,
            format!("Berapa jumlahnya untuk \"{description}\"? Kirim lagi dengan jumlahnya, misalnya: {description} 300rb"),
            format!("How much was \"{description}\"? Send it again with the amount, for example: {description} 300k"),
        ),
        Unclear::TwoAmounts { amounts } => {
            let list = amounts.iter().map(|a| format_rupiah(*a)).collect::<Vec<_>>().join(", ");
            pick(
                lang,
                format!("Ada beberapa jumlah ({list}). Kirim satu transaksi per pesan ya, misalnya: beli gas 22rb"),
                format!("There are several amounts ({list}). Please send one transaction per message, for example: bought gas 22k"),
            )
        }
        Unclear::BadAmount { text, reason } => pick(
            lang,
            format!("Jumlah \"{text}\" kurang jelas ({reason}). Tulis misalnya 1,5jt atau 1.500.000."),
            format!("The amount \"{text}\" is unclear ({reason}). Write for example 1.5jt or 1,500,000."),
        ),
        Unclear::Unknown => pick(lang, format!("Maaf, arus belum paham pesan itu. {}", help(lang)), format!("Sorry, arus did not understand that. {}", help(lang))),
    }
}

fn short(description: &str, amount: i64) -> String {
    let rb = amount / 1000;
    if amount % 1000 == 0 && rb > 0 { format!("{} {rb}rb", description.to_lowercase()) } else { format!("{} {amount}", description.to_lowercase()) }
}

/// A photo arrived and is being read.
pub fn photo_received(lang: Lang) -> String {
    pick(lang, "Foto diterima, sedang dibaca… Sebentar ya.".to_owned(), "Photo received, reading it… One moment.".to_owned())
}

fn day(at: DateTime<Utc>) -> String {
    at.with_timezone(&local_zone()).format("%d/%m/%Y").to_string()
}

/// What reading a WhatsApp photo came to, with the question to confirm it.
pub fn photo_read(record: &MediaRecord, lang: Lang) -> String {
    let reasons: Vec<String> = record.review_reasons.as_deref().and_then(|r| serde_json::from_str(r).ok()).unwrap_or_default();
    let transactions: Vec<PhotoTransaction> = record.transactions.as_deref().and_then(|t| serde_json::from_str(t).ok()).unwrap_or_default();
    if record.status == MediaStatus::Failed {
        return photo_failed(record.error_code.as_deref().unwrap_or("failed"), lang);
    }
    if transactions.is_empty() {
        return pick(
            lang,
            "Maaf, tidak ada jumlah yang terbaca dari foto ini. Coba foto lebih dekat dan terang, atau ketik saja transaksinya, misalnya: beli bahan 38rb".to_owned(),
            "Sorry, no amount could be read from this photo. Try a closer, brighter photo, or type the transaction, for example: bought supplies 38k".to_owned(),
        );
    }
    let unsure: Vec<&str> = reasons
        .iter()
        .filter_map(|r| match (r.as_str(), lang) {
            ("total_unsure" | "no_total", Lang::Id) => Some("total"),
            ("date_unsure" | "no_date" | "date_in_future", Lang::Id) => Some("tanggal"),
            ("entries_unsure", Lang::Id) => Some("beberapa baris"),
            ("total_unsure" | "no_total", Lang::En) => Some("the total"),
            ("date_unsure" | "no_date" | "date_in_future", Lang::En) => Some("the date"),
            ("entries_unsure", Lang::En) => Some("some rows"),
            _ => None,
        })
        .collect();
    let check = if unsure.is_empty() {
        String::new()
    } else {
        pick(lang, format!(" Mohon periksa {} (kurang jelas).", unsure.join(" dan ")), format!(" Please check {} (unclear).", unsure.join(" and ")))
    };
    let question = pick(
        lang,
        " Balas YA untuk simpan, atau TIDAK jika salah (lalu ketik transaksinya, misalnya: beli bahan 38rb).".to_owned(),
        " Reply YES to save, or NO if it is wrong (then type the transaction, for example: bought supplies 38k).".to_owned(),
    );
    let is_cashbook = record.detected_kind == Some(MediaKind::Cashbook);
    if is_cashbook || transactions.len() > 1 {
        let lines: Vec<String> = transactions.iter().take(10).map(|t| format!("• {} {} {}", day(t.occurred_at), t.description, signed(t.amount))).collect();
        let more = transactions.len().saturating_sub(10);
        let more = if more > 0 { pick(lang, format!("\n…dan {more} baris lagi"), format!("\n…and {more} more rows")) } else { String::new() };
        let net: i64 = transactions.iter().map(|t| t.amount).sum();
        let ask = format!("{check}{question}");
        let ask = ask.trim_start();
        return pick(
            lang,
            format!("Buku kas terbaca, {} baris (arus kas {}):\n{}{more}\n{ask}", transactions.len(), signed(net), lines.join("\n")),
            format!("Cash book read, {} rows (cash flow {}):\n{}{more}\n{ask}", transactions.len(), signed(net), lines.join("\n")),
        );
    }
    let t = &transactions[0];
    let direction = if t.amount < 0 { pick(lang, "uang keluar".into(), "money out".into()) } else { pick(lang, "uang masuk".into(), "money in".into()) };
    pick(
        lang,
        format!("Struk terbaca: {}, tanggal {}, total {} ({direction}).{check}{question}", t.description, day(t.occurred_at), format_rupiah(t.amount.abs())),
        format!("Receipt read: {}, dated {}, total {} ({direction}).{check}{question}", t.description, day(t.occurred_at), format_rupiah(t.amount.abs())),
    )
}

/// A photo that could not be read, by its error code.
pub fn photo_failed(code: &str, lang: Lang) -> String {
    let (id, en) = match code {
        "not_an_image" | "unsupported_type" => ("File ini bukan foto yang bisa dibaca arus (JPG, PNG atau WebP).", "This file is not a photo arus can read (JPG, PNG or WebP)."),
        "corrupt_image" => ("Foto ini rusak atau terpotong. Coba kirim lagi.", "This photo is damaged or cut off. Please send it again."),
        "too_large" | "too_many_pixels" => ("Foto ini terlalu besar. Kirim foto biasa (bukan dokumen asli) ya.", "This photo is too large. Please send a normal photo."),
        "blank_image" | "empty_image" | "no_text" => ("Tidak ada tulisan yang terbaca di foto ini. Coba foto lebih dekat dan terang.", "No writing could be read in this photo. Try a closer, brighter photo."),
        "download_failed" | "no_media" => ("Maaf, foto Anda tidak bisa diambil dari WhatsApp. Coba kirim lagi ya.", "Sorry, your photo could not be fetched from WhatsApp. Please send it again."),
        _ => ("Maaf, foto ini tidak bisa dibaca. Coba kirim lagi, atau ketik transaksinya, misalnya: beli bahan 38rb", "Sorry, this photo could not be read. Send it again, or type the transaction, for example: bought supplies 38k"),
    };
    pick(lang, id.to_owned(), en.to_owned())
}

/// A photo confirmed with `YA`: booked.
pub fn photo_booked(name: &str, transactions: &[PhotoTransaction], today: Flow, tier: Option<&str>, lang: Lang) -> String {
    let net: i64 = transactions.iter().map(|t| t.amount).sum();
    let what = match transactions {
        [one] => format!("{} {}", one.description, signed(one.amount)),
        many => pick(lang, format!("{} transaksi, total {}", many.len(), signed(net)), format!("{} transactions, total {}", many.len(), signed(net))),
    };
    pick(
        lang,
        format!("Tersimpan, terima kasih {name}! {what}. {}{}", today_line(today, lang), status_suffix(tier)),
        format!("Saved, thank you {name}! {what}. {}{}", today_line(today, lang), status_suffix(tier)),
    )
}

pub fn photo_declined(lang: Lang) -> String {
    pick(
        lang,
        "Baik, foto itu tidak disimpan. Ketik saja transaksinya kalau perlu, misalnya: beli bahan 38rb".to_owned(),
        "OK, that photo is not saved. Type the transaction if you like, for example: bought supplies 38k".to_owned(),
    )
}

pub fn nothing_to_confirm(lang: Lang) -> String {
    pick(
        lang,
        "Tidak ada foto yang menunggu jawaban. Kirim foto struk atau buku kas, atau ketik transaksinya.".to_owned(),
        "No photo is waiting for an answer. Send a photo of a receipt or cash book, or type the transaction.".to_owned(),
    )
}

/// The last transaction's category changed.
pub fn category_changed(description: &str, amount: i64, category: &str, lang: Lang) -> String {
    pick(
        lang,
        format!("Kategori \"{description}\" ({}) diubah jadi {category}. arus akan mengingatnya.", signed(amount)),
        format!("The category of \"{description}\" ({}) is now {category}. arus will remember.", signed(amount)),
    )
}

pub fn unknown_category(wanted: &str, names: &[&str], lang: Lang) -> String {
    pick(
        lang,
        format!("Kategori \"{wanted}\" tidak dikenal. Pilihan: {}.", names.join(", ")),
        format!("\"{wanted}\" is not a category. Choose from: {}.", names.join(", ")),
    )
}

pub fn nothing_recorded(lang: Lang) -> String {
    pick(lang, "Belum ada transaksi yang bisa diubah.".to_owned(), "There is no transaction to change yet.".to_owned())
}

/// The last transaction reversed.
pub fn reversed(description: &str, amount: i64, lang: Lang) -> String {
    pick(
        lang,
        format!("Dibatalkan: \"{description}\" ({}). Dicatat sebagai pembatalan, jadi riwayatnya tetap utuh.", signed(amount)),
        format!("Cancelled: \"{description}\" ({}). It is recorded as a reversal, so the history stays complete.", signed(amount)),
    )
}

/// The person is known but asked before their last message was stored.
pub fn try_again_shortly(lang: Lang) -> String {
    pick(
        lang,
        "Transaksi terakhir masih diproses. Coba lagi sebentar lagi ya.".to_owned(),
        "The last transaction is still being processed. Please try again in a moment.".to_owned(),
    )
}

/// Something on arus's side failed; the message is kept and looked at.
pub fn sorry(lang: Lang) -> String {
    pick(
        lang,
        "Maaf, ada gangguan di arus. Pesan Anda tersimpan dan akan kami periksa.".to_owned(),
        "Sorry, something went wrong at arus. Your message is kept and will be looked at.".to_owned(),
    )
}

/// A file that is not a photo arus reads.
pub fn unsupported_file(name: &str, mime: &str, lang: Lang) -> String {
    pick(
        lang,
        format!("Maaf, arus baru bisa membaca foto (JPG, PNG, WebP). File {name} ({mime}) tidak diproses."),
        format!("Sorry, arus can only read photos (JPG, PNG, WebP) for now. The file {name} ({mime}) was not processed."),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_recorded_sale_reads_like_the_brief() {
        let today = Flow::default().with(300_000).with(-100_000).with(-22_000).with_reversal(22_000);
        assert_eq!((today.income, today.expense, today.count), (300_000, 100_000, 2), "a cancelled expense is no expense");
        let text = recorded("Ibu Rini", "Jual bakso 20 porsi", 300_000, false, today, Some("Silver"), Lang::Id);
        assert_eq!(
            text,
            "Terima kasih Ibu Rini! Tercatat: Jual bakso 20 porsi — uang masuk Rp 300.000. Arus kas hari ini positif Rp 200.000 (masuk Rp 300.000, keluar Rp 100.000). Pertahankan ya! (Status: Silver)"
        );
        let text = recorded("Rini", "Paid electricity", -150_000, true, Flow::default().with(-150_000), None, Lang::En);
        assert!(text.starts_with("Thank you Rini! Recorded: Paid electricity — money out Rp 150.000 (yesterday). Today's cash flow is negative Rp 150.000"), "{text}");
    }

    #[test]
    fn reports_name_the_days_and_the_biggest_spending() {
        let d = |day| NaiveDate::from_ymd_opt(2026, 11, day).unwrap();
        let flow = Flow { income: 2_100_000, expense: 1_350_000, count: 14 };
        let text = report("Rini", Period::Week, d(16), d(21), flow, &[("Bahan Baku & Stok".into(), 800_000)], Lang::Id);
        assert_eq!(text, "Laporan minggu ini (16/11–21/11) untuk Rini: masuk Rp 2.100.000, keluar Rp 1.350.000, arus kas +Rp 750.000; 14 transaksi. Pengeluaran terbesar: Bahan Baku & Stok Rp 800.000.");
        assert!(report("Rini", Period::Today, d(21), d(21), Flow::default(), &[], Lang::Id).contains("belum ada transaksi hari ini (21/11)"));
    }
}
