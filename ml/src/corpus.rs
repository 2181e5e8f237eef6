//! The labelled corpus the starting classifier learns from: the default
//! categories × a lexicon of Indonesian merchants, billers, lenders and
//! phrases × the description shapes of each bank's statement (BCA, BCA
//! Bisnis, Mandiri, BNI, BRI), e-wallets, receipts and WhatsApp messages.
//!
//! The split is by lexicon entry, not by row: every fifth merchant, biller
//! or phrase of a category appears only in the held-out split, so the
//! held-out score is for merchants the model has never seen (a new warung,
//! a biller nobody confirmed yet), not for rows that differ from training
//! rows only in their reference number.

use crate::rng::Rng;

/// One labelled transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Example {
    pub text: String,
    /// Signed rupiah: money in is positive.
    pub amount: i64,
    pub label: &'static str,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Split {
    Train,
    HeldOut,
}

/// Every `HELD_OUT_EVERY`-th lexicon entry is held out.
const HELD_OUT_EVERY: usize = 5;

/// How a category's transactions read.
struct Lexicon {
    label: &'static str,
    income: bool,
    /// Amount range in rupiah, and the step amounts are rounded to.
    amount: (i64, i64, i64),
    /// Merchants, billers, employers, lenders, phrases: `{n}` in a shape.
    names: &'static [&'static str],
    /// Shapes of this category; the placeholders are filled by [`fill`].
    shapes: &'static [&'static str],
    /// Shapes shared with categories paid the same way (cards and QRIS,
    /// bill payments, transfers to and from people).
    common: &'static [&'static str],
}

// Shapes shared by kinds of transaction. `{N}` is the name upper-cased
// (banks print upper case), `{n}` as written, `{P}` a person's name,
// `{ref}`/`{ref5}` references, `{ddmm}`, `{date}`, `{amt}` the amount as
// BCA prints it, `{bank}` a bank code, `{city}`, `{qty}`.
const CARD_SHAPES: &[&str] = &[
    "QRIS {N}",
    "QRIS {N} {city}",
    "KARTU DEBIT {N}",
    "KARTU DEBIT {N} {city}",
    "DEBIT PURCHASE {N}",
    "EDC {ref} {N}",
    "TRX QRIS {ref} {N}",
    "QR {ref5} {N} {city}",
    "PEMBELIAN {N} {ref}",
    "Pembayaran ke {n} via GoPay",
    "OVO {N}",
    "SHOPEEPAY {N}",
    "DANA QRIS {N}",
    "{n}",
    "{N} {city}",
];

const BILLER_SHAPES: &[&str] = &[
    "BYR VIA E-BANKING {N} {ref}",
    "PEMBAYARAN {N} {ref}",
    "PEMB. {N} {ref}",
    "BRIVA {ref} {N}",
    "DB OTOMATIS {N} {ref}",
    "TRANSFER KE {N} {ref}",
    "MCM PAYMENT {N} {ref}",
    "ECHANNEL PAY {N} {ref}",
    "bayar {n}",
    "{N} {ref}",
];

const PERSON_OUT_SHAPES: &[&str] = &[
    "TRSF E-BANKING DB {ddmm}/FTSCY/WS{ref5} {amt} {P}",
    "SWITCHING DB TRANSFER KE {bank} {P}",
    "TRANSFER KE {P} {ref}",
    "BI-FAST DB BIF TRANSFER KE {bank} {P}",
    "NBMB {P} TO {Q}",
    "TRF/PAY/TOP-UP ECHANNEL {P}",
];

const PERSON_IN_SHAPES: &[&str] = &[
    "TRSF E-BANKING CR {ddmm}/FTFVA/WS{ref5} {P}",
    "SWITCHING CR TRANSFER DR {bank} {P}",
    "TRANSFER DARI {P} {ref}",
    "BI-FAST CR BIF TRANSFER DR {bank} {P}",
    "NBMB {Q} TO {P}",
    "KR OTOMATIS {P}",
];

const SALES: Lexicon = Lexicon {
    label: "sales",
    income: true,
    amount: (15_000, 5_000_000, 500),
    names: &[
        "bakso", "mie ayam", "nasi goreng", "es teh", "gorengan", "kue basah", "keripik singkong", "nasi uduk", "soto ayam",
        "jahitan baju", "cucian kiloan", "pulsa", "sembako", "kopi susu", "seblak", "martabak", "pempek", "ayam geprek",
        "jamu", "rujak", "batik", "sepatu rajut", "sambal botol", "kue kering", "tahu bulat", "cilok", "dimsum", "roti bakar",
        "es campur", "lontong sayur", "pecel lele", "telur asin", "tempe", "sayur matang", "kerupuk", "cendol", "bubur ayam",
        "servis motor", "potong rambut", "sablon kaos",
    ],
    shapes: &[
        "jual {n} {qty} porsi",
        "jual {n}",
        "penjualan {n}",
        "penjualan {n} hari ini",
        "laku {n} {qty}",
        "terima bayar {n} dari {p}",
        "omzet {n} hari ini",
        "hasil jualan {n}",
        "QRIS MERCHANT SETTLEMENT {N}",
        "SETTLEMENT QRIS {ref} WARUNG {N}",
        "GOFOOD MERCHANT SETTLEMENT {ref}",
        "GRABFOOD PAYOUT {ref}",
        "SHOPEE PENARIKAN DANA PENJUAL {ref}",
        "TOKOPEDIA PENARIKAN SALDO PENJUAL {ref}",
        "TRANSFER DARI {P} PESANAN {N}",
        "pembayaran pesanan {n} dari {p}",
        "setoran hasil jualan {n}",
        "SETORAN TUNAI HASIL JUALAN",
    ],
    common: &[],
};

const SALARY: Lexicon = Lexicon {
    label: "salary",
    income: true,
    amount: (2_000_000, 15_000_000, 50_000),
    names: &[
        "PT Maju Jaya", "PT Sinar Mas", "PT Astra International", "CV Berkah Abadi", "PT Telkom Indonesia", "PT Indofood",
        "Pemkot Bandung", "PT Unilever", "RS Harapan Kita", "Universitas Gadjah Mada", "PT Gudang Garam", "PT Djarum",
        "Kemenkeu", "PT Pos Indonesia", "PT Bank Rakyat", "Yayasan Al Azhar", "PT Wings", "PT Kalbe Farma", "PT Semen Gresik",
        "Dinas Pendidikan",
    ],
    shapes: &[
        "GAJI {N} {ref}",
        "PAYROLL {N} {ref}",
        "TRSF E-BANKING CR {ddmm}/FTFVA/WS{ref5} GAJI {N}",
        "KR OTOMATIS PAYROLL {N}",
        "gaji bulan ini dari {n}",
        "terima gaji {n}",
        "gajian {n}",
        "THR {N}",
        "TRANSFER DARI {N} GAJI",
        "MCM InhouseTrf GAJI {N}",
        "tunjangan {n}",
    ],
    common: &[],
};

const TRANSFER_IN: Lexicon = Lexicon {
    label: "transfer_in",
    income: true,
    amount: (50_000, 10_000_000, 5_000),
    names: &["kiriman", "transfer", "titipan", "kiriman keluarga", "uang dari suami", "transfer masuk", "kiriman anak", "pindah dana"],
    shapes: &[
        "TRSF E-BANKING CR {ddmm}/FTFVA/WS{ref5} {P}",
        "SWITCHING CR TRANSFER DR {bank} {P}",
        "TRANSFER DARI {P} {ref}",
        "BI-FAST CR BIF TRANSFER DR {bank} {P}",
        "NBMB {Q} TO {P}",
        "terima transfer dari {p}",
        "{n} dari {p}",
        "{n} {p}",
        "SETORAN TUNAI {P}",
        "TOP UP DARI {P}",
    ],
    common: PERSON_IN_SHAPES,
};

const LOAN_DISBURSED: Lexicon = Lexicon {
    label: "loan_disbursed",
    income: true,
    amount: (1_000_000, 50_000_000, 500_000),
    names: &[
        "KUR BRI", "Amartha", "Kupedes", "Mekaar PNM", "KoinWorks", "Modalku", "Koperasi Simpan Pinjam", "Akseleran",
        "BPR Kertaraharja", "Investree", "Kredit Pintar", "Komida", "Koperasi Mitra Dhuafa", "UMi Pegadaian", "Pegadaian",
    ],
    shapes: &[
        "PENCAIRAN KREDIT {N} {ref}",
        "PENCAIRAN PINJAMAN {N}",
        "pencairan pinjaman {n}",
        "dana pinjaman {n} cair",
        "KR PENCAIRAN {N} {ref}",
        "terima pinjaman dari {n}",
        "pinjaman modal {n}",
        "PENCAIRAN DANA {N} {ref}",
    ],
    common: &[],
};

const INTEREST: Lexicon = Lexicon {
    label: "interest_profit_share",
    income: true,
    amount: (100, 900_000, 1),
    names: &[
        "BUNGA", "BUNGA TABUNGAN", "BAGI HASIL", "BAGI HASIL DEPOSITO", "JASA GIRO", "BUNGA DEPOSITO", "NISBAH BAGI HASIL",
        "BONUS WADIAH", "BAGI HASIL MUDHARABAH", "BUNGA REKENING", "IMBAL HASIL SBR", "KUPON ORI",
    ],
    shapes: &["{N}", "{N} {ref}", "KR {N}", "{N} {date}", "terima {n}", "{n} bulan ini"],
    common: &[],
};

const OTHER_INCOME: Lexicon = Lexicon {
    label: "other_income",
    income: true,
    amount: (5_000, 2_000_000, 500),
    names: &[
        "cashback", "refund", "hadiah undian", "komisi", "uang arisan", "bonus", "reimburse", "klaim asuransi",
        "jual barang bekas", "pengembalian dana", "dapat arisan", "uang kaget", "hadiah lomba", "fee makelar", "insentif",
    ],
    shapes: &[
        "{n}",
        "terima {n}",
        "{N} {ref}",
        "{N} SHOPEE {ref}",
        "{N} GOPAY",
        "dapat {n}",
        "{n} dari {p}",
        "KR OTOMATIS {N}",
    ],
    common: &[],
};

const FOOD: Lexicon = Lexicon {
    label: "food_drink",
    income: false,
    amount: (8_000, 250_000, 500),
    names: &[
        "Mie Gacoan", "RM Padang Sederhana", "Kopi Kenangan", "Janji Jiwa", "Starbucks", "KFC", "McDonalds", "Solaria",
        "Warteg Bahari", "Bakso Pak Kumis", "Sate Khas Senayan", "HokBen", "Richeese Factory", "Pizza Hut", "JCO Donuts",
        "Chatime", "Mixue", "Es Teh Indonesia", "GoFood", "GrabFood", "ShopeeFood", "Warung Kopi", "Ayam Geprek Bensu",
        "Bebek Kaleyo", "Soto Betawi", "Pecel Lele Lela", "Nasi Goreng Kambing", "Burger King", "Fore Coffee", "Point Coffee",
        "Roti O", "Holland Bakery", "Martabak Bangka", "Geprek Bensu", "Sop Buntut", "Waroeng Steak", "Yoshinoya",
        "Marugame Udon", "Bakmi GM", "Gultik", "Tomoro Coffee", "Kedai Kopi", "Rumah Makan", "Depot Soto", "Warung Nasi",
    ],
    shapes: &[
        "QRIS {N}",
        "QRIS {N} {city}",
        "KARTU DEBIT {N}",
        "DEBIT PURCHASE {N}",
        "TRX QRIS {ref} {N}",
        "Pembayaran ke {n} via GoPay",
        "OVO {N}",
        "SHOPEEPAY {N}",
        "{n}",
        "makan di {n}",
        "makan siang {n}",
        "beli kopi {n}",
        "jajan {n}",
        "beli makan {n}",
        "ngopi di {n}",
        "{N} {city}",
    ],
    common: CARD_SHAPES,
};

const GROCERIES: Lexicon = Lexicon {
    label: "groceries",
    income: false,
    amount: (10_000, 800_000, 100),
    names: &[
        "Indomaret", "Alfamart", "Alfamidi", "Superindo", "Hypermart", "Transmart", "Lottemart", "Giant", "Hero Supermarket",
        "Ranch Market", "Pasar Induk", "Toko Kelontong", "Lawson", "FamilyMart", "Circle K", "Yogya", "Borma", "Tip Top",
        "Sayurbox", "Astro", "Hari Hari", "Grand Lucky", "Foodhall", "Griya", "Super Indo",
    ],
    shapes: &[
        "QRIS {N}",
        "KARTU DEBIT {N}",
        "KARTU DEBIT {N} {city}",
        "DEBIT PURCHASE {N} {city}",
        "EDC {ref} {N}",
        "{N} {city}",
        "belanja {n}",
        "belanja bulanan {n}",
        "belanja harian di {n}",
        "beli beras minyak di {n}",
        "beli sabun sampo di {n}",
        "belanja sayur di {n}",
        "beli susu popok di {n}",
        "beli gas 3kg di {n}",
        "beli galon di {n}",
        "belanja dapur {n}",
    ],
    common: CARD_SHAPES,
};

const TRANSPORT: Lexicon = Lexicon {
    label: "transport",
    income: false,
    amount: (5_000, 400_000, 500),
    names: &[
        "SPBU Pertamina", "Shell", "BP AKR", "Vivo Energy", "GoRide", "GrabBike", "GrabCar", "GoCar", "Maxim", "inDrive",
        "KRL Commuter Line", "TransJakarta", "MRT Jakarta", "E-Toll Mandiri", "Parkir", "Jasa Marga", "KAI Access",
        "Tiket Kereta", "Damri", "Bluebird", "LRT Jabodebek", "Traveloka Pesawat", "Citilink", "Lion Air", "Brizzi Topup",
        "Flazz Topup", "Pertamina", "Ojek Pangkalan", "Angkot", "Bengkel Motor",
    ],
    shapes: &[
        "QRIS {N}",
        "KARTU DEBIT {N}",
        "DEBIT PURCHASE {N} {city}",
        "{N} {ref}",
        "{n}",
        "Pembayaran ke {n} via GoPay",
        "OVO {N}",
        "bensin {n}",
        "isi bensin pertalite {n}",
        "isi pertamax di {n}",
        "ongkos {n}",
        "naik {n}",
        "bayar {n}",
        "top up {n}",
        "BYR VIA E-BANKING {N} {ref}",
        "bayar tol {n}",
    ],
    common: CARD_SHAPES,
};

const BILLS: Lexicon = Lexicon {
    label: "bills_utilities",
    income: false,
    amount: (10_000, 2_000_000, 500),
    names: &[
        "PLN Prepaid", "PLN Postpaid", "Token Listrik", "PDAM Tirta", "IndiHome", "Biznet", "First Media", "MyRepublic",
        "Telkomsel", "XL Axiata", "Indosat Ooredoo", "Tri", "Smartfren", "Pulsa", "Paket Data", "Telkomsel Halo", "PGN Gas",
        "Iconnet", "CBN", "Tagihan Air", "Listrik PLN", "By.U", "Axis", "Kuota Internet", "Telepon Rumah",
    ],
    shapes: &[
        "BYR VIA E-BANKING {N} {ref}",
        "PEMBAYARAN {N} {ref}",
        "PEMB. {N} {ref}",
        "BRIVA {ref} {N}",
        "DB OTOMATIS {N} {ref}",
        "TRANSFER KE {N} {ref}",
        "MCM PAYMENT {N} {ref}",
        "ECHANNEL PAY {N} {ref}",
        "bayar {n}",
        "{N} {ref}",
        "beli {n}",
        "isi {n} {ref}",
        "bayar tagihan {n}",
        "top up {n}",
    ],
    common: BILLER_SHAPES,
};

const EDUCATION: Lexicon = Lexicon {
    label: "education",
    income: false,
    amount: (25_000, 8_000_000, 5_000),
    names: &[
        "SPP Sekolah", "Uang Sekolah", "Biaya Kuliah", "UKT Universitas", "Ruangguru", "Zenius", "Les Privat", "Bimbel Primagama",
        "Buku Pelajaran", "Gramedia", "SD Negeri", "SMP Islam Terpadu", "Pondok Pesantren", "TK Pertiwi", "Kursus Bahasa Inggris",
        "Uang Gedung", "Study Tour", "Les Mengaji", "Udemy", "Coursera",
    ],
    shapes: &[
        "bayar {n}",
        "{N} {ref}",
        "PEMBAYARAN {N} {ref}",
        "BRIVA {ref} {N}",
        "TRANSFER KE {N} {ref}",
        "KARTU DEBIT {N}",
        "QRIS {N}",
        "{n} anak",
        "bayar {n} bulan ini",
        "{n}",
    ],
    common: BILLER_SHAPES,
};

const HEALTH: Lexicon = Lexicon {
    label: "health",
    income: false,
    amount: (10_000, 3_000_000, 500),
    names: &[
        "Apotek Kimia Farma", "Apotek Century", "Guardian", "Apotek K24", "Halodoc", "RS Siloam", "RS Mitra Keluarga",
        "Klinik Pratama", "Dokter Gigi", "BPJS Kesehatan", "Puskesmas", "Bidan Desa", "Apotek Roxy", "Prodia", "RS Hermina",
        "Alodokter", "Klinik Kecantikan", "Optik Tunggal", "Apotek Viva", "Watsons", "Laboratorium Klinik", "RSUD",
    ],
    shapes: &[
        "QRIS {N}",
        "KARTU DEBIT {N}",
        "DEBIT PURCHASE {N} {city}",
        "BYR VIA E-BANKING {N} {ref}",
        "PEMBAYARAN {N} {ref}",
        "{n}",
        "beli obat di {n}",
        "berobat ke {n}",
        "periksa di {n}",
        "bayar {n}",
        "iuran {n}",
        "{N} {ref}",
    ],
    common: CARD_SHAPES,
};

const ENTERTAINMENT: Lexicon = Lexicon {
    label: "entertainment",
    income: false,
    amount: (15_000, 1_000_000, 500),
    names: &[
        "Netflix", "Spotify", "Disney Hotstar", "Vidio", "YouTube Premium", "XXI", "CGV", "Cinepolis", "Steam", "Google Play",
        "Mobile Legends Diamond", "Timezone", "Karaoke Inul Vizta", "Tiket Konser", "Dufan", "Taman Safari", "Kebun Raya",
        "Free Fire Diamond", "PlayStation Store", "WeTV", "Loket Tiket", "Trans Studio", "Kolam Renang", "Viu",
    ],
    shapes: &[
        "{N} {ref}",
        "{N}",
        "KARTU DEBIT {N}",
        "QRIS {N}",
        "Pembayaran ke {n} via GoPay",
        "langganan {n}",
        "nonton di {n}",
        "top up {n}",
        "beli tiket {n}",
        "main ke {n}",
        "DANA {N}",
    ],
    common: CARD_SHAPES,
};

const RENT: Lexicon = Lexicon {
    label: "rent",
    income: false,
    amount: (400_000, 5_000_000, 50_000),
    names: &["kontrakan", "kos", "sewa rumah", "uang kos", "kontrakan rumah", "sewa kamar", "kost putri", "sewa apartemen", "uang sewa rumah", "kontrakan petak"],
    shapes: &[
        "bayar {n}",
        "bayar {n} bulan ini",
        "{n} bulan ini",
        "TRSF E-BANKING DB {ddmm}/FTSCY/WS{ref5} {amt} {P} {N}",
        "TRANSFER KE {P} {N}",
        "SWITCHING DB TRANSFER KE {bank} {P} {N}",
        "{N} {ref}",
        "transfer {n} ke {p}",
        "{n}",
    ],
    common: &[],
};

const CLOTHING: Lexicon = Lexicon {
    label: "clothing",
    income: false,
    amount: (30_000, 1_500_000, 1_000),
    names: &[
        "Uniqlo", "H&M", "Zara", "Matahari Dept Store", "Ramayana", "Erigo", "3Second", "Eiger", "Planet Sports", "Sepatu Bata",
        "Toko Baju", "Butik Hijab", "Elzatta", "Rabbani", "Pasar Tanah Abang", "Zalora", "Converse", "Nike", "Adidas", "Batik Keris",
    ],
    shapes: &[
        "KARTU DEBIT {N}",
        "KARTU DEBIT {N} {city}",
        "QRIS {N}",
        "DEBIT PURCHASE {N} {city}",
        "{n}",
        "beli baju di {n}",
        "beli celana {n}",
        "beli sepatu {n}",
        "beli jilbab {n}",
        "baju lebaran {n}",
        "seragam {n}",
        "{N} {city}",
    ],
    common: CARD_SHAPES,
};

const ZAKAT: Lexicon = Lexicon {
    label: "zakat_donation",
    income: false,
    amount: (2_000, 3_000_000, 1_000),
    names: &[
        "Baznas", "Dompet Dhuafa", "Kitabisa", "Rumah Zakat", "LAZISMU", "NU Care LAZISNU", "Masjid Al Ikhlas", "Panti Asuhan",
        "Yatim Mandiri", "ACT", "Benih Baik", "Wakaf Quran", "Kotak Amal", "Infaq Masjid", "Gereja", "Zakat Fitrah",
    ],
    shapes: &[
        "{N} {ref}",
        "TRANSFER KE {N} {ref}",
        "donasi {n}",
        "sedekah {n}",
        "infaq {n}",
        "zakat {n}",
        "zakat mal {n}",
        "QRIS {N}",
        "BYR VIA E-BANKING {N} {ref}",
        "sumbangan {n}",
        "{n}",
    ],
    common: BILLER_SHAPES,
};

const INSTALLMENT: Lexicon = Lexicon {
    label: "installment",
    income: false,
    amount: (100_000, 5_000_000, 1_000),
    names: &[
        "Adira Finance", "FIF Group", "WOM Finance", "BAF", "Kredivo", "Akulaku", "Home Credit", "Shopee PayLater",
        "Angsuran KUR", "Cicilan Motor", "Cicilan KPR", "Angsuran Amartha", "Mandiri Tunas Finance", "Mega Finance",
        "OTO Finance", "GoPayLater", "Indodana", "Kartu Kredit", "Angsuran Koperasi", "Cicilan HP", "Mekaar PNM", "Angsuran Kupedes",
    ],
    shapes: &[
        "BYR VIA E-BANKING {N} {ref}",
        "PEMBAYARAN {N} {ref}",
        "BRIVA {ref} {N}",
        "DB OTOMATIS {N} {ref}",
        "TRANSFER KE {N} {ref}",
        "bayar {n}",
        "angsuran {n}",
        "cicilan {n}",
        "bayar angsuran {n} minggu ini",
        "setor {n}",
        "{N} {ref}",
    ],
    common: BILLER_SHAPES,
};

const BANK_FEES: Lexicon = Lexicon {
    label: "bank_fees",
    income: false,
    amount: (1_000, 50_000, 500),
    names: &[
        "BIAYA ADM", "BIAYA ADMINISTRASI", "BIAYA TRANSFER", "BIAYA KARTU", "PAJAK BUNGA", "BIAYA SMS BANKING", "ADM BULANAN",
        "BIAYA MATERAI", "BIAYA TARIK TUNAI", "BIAYA GANTI KARTU", "ADMIN FEE", "BIAYA BI-FAST", "PAJAK", "BIAYA RTGS",
        "BIAYA CETAK REKENING KORAN", "BIAYA PROVISI",
    ],
    shapes: &["{N}", "{N} {ref}", "{N} {date}", "DB {N}", "{n}", "potongan {n}", "{N} BULAN {date}"],
    common: &[],
};

const CASH: Lexicon = Lexicon {
    label: "cash_withdrawal",
    income: false,
    amount: (50_000, 5_000_000, 50_000),
    names: &[
        "TARIKAN ATM", "TARIK TUNAI", "TARIK TUNAI ATM BERSAMA", "PENARIKAN TUNAI TELLER", "TARIKAN ATM PRIMA", "CASH WITHDRAWAL",
        "TARIK TUNAI INDOMARET", "TARIK TUNAI ALFAMART", "AGEN BRILINK TARIK", "TARIK TUNAI TANPA KARTU",
    ],
    shapes: &["{N} {date}", "{N} {ref}", "{N}", "{n} di atm", "ambil uang {n}", "{N} {city}"],
    common: &[],
};

const TRANSFER_OUT: Lexicon = Lexicon {
    label: "transfer_out",
    income: false,
    amount: (20_000, 10_000_000, 5_000),
    names: &["transfer", "kirim uang", "kiriman", "pindah dana", "titip uang", "transfer keluarga", "kirim ke orang tua", "uang jajan anak"],
    shapes: &[
        "TRSF E-BANKING DB {ddmm}/FTSCY/WS{ref5} {amt} {P}",
        "SWITCHING DB TRANSFER KE {bank} {P}",
        "TRANSFER KE {P} {ref}",
        "BI-FAST DB BIF TRANSFER KE {bank} {P}",
        "NBMB {P} TO {Q}",
        "TRF/PAY/TOP-UP ECHANNEL {P}",
        "{n} ke {p}",
        "{n} {p}",
        "transfer ke {p}",
        "TOP UP GOPAY {ref}",
        "TOPUP OVO {ref}",
    ],
    common: PERSON_OUT_SHAPES,
};

const OTHER: Lexicon = Lexicon {
    label: "other",
    income: false,
    amount: (2_000, 1_000_000, 500),
    names: &[
        "lain-lain", "pengeluaran lain", "biaya tak terduga", "fotokopi", "laundry", "potong rambut", "jasa tukang", "kado",
        "iuran RT", "uang keamanan", "sampah", "tilang", "hilang", "cuci motor", "servis HP", "pijat", "arisan",
    ],
    shapes: &["{n}", "bayar {n}", "{N} {ref}", "QRIS {N}", "{n} {p}", "untuk {n}"],
    common: &[],
};

const RAW_MATERIALS: Lexicon = Lexicon {
    label: "raw_materials",
    income: false,
    amount: (50_000, 15_000_000, 1_000),
    names: &[
        "tepung terigu", "daging sapi", "ayam potong", "telur peti", "minyak goreng jeriken", "gula pasir karung", "bawang merah",
        "cabai rawit", "kain katun", "benang jahit", "plastik kemasan", "stok rokok", "beras karung", "bahan bakso", "susu UHT karton",
        "kulakan sembako", "stok pulsa", "biji kopi", "ikan segar", "sayur grosir", "kardus packing", "tepung tapioka", "bumbu dapur",
        "mie kuning", "keju mozarella", "Toko Grosir Sumber Rejeki", "Supplier Tepung", "Makro", "Lotte Grosir", "Pasar Grosir",
    ],
    shapes: &[
        "beli {n}",
        "beli {n} {qty} kg",
        "belanja {n} untuk jualan",
        "kulakan {n}",
        "stok {n}",
        "bahan baku {n}",
        "belanja bahan {n}",
        "TRSF E-BANKING DB {ddmm}/FTSCY/WS{ref5} {amt} SUPPLIER {N}",
        "TRANSFER KE {N} {ref}",
        "KARTU DEBIT {N}",
        "QRIS {N}",
        "restock {n}",
        "grosir {n}",
    ],
    common: CARD_SHAPES,
};

const WAGES: Lexicon = Lexicon {
    label: "employee_wages",
    income: false,
    amount: (300_000, 6_000_000, 50_000),
    names: &["gaji karyawan", "upah pegawai", "gaji pegawai toko", "upah harian tukang", "gaji kasir", "upah karyawan", "honor pegawai", "bonus karyawan", "lembur karyawan", "upah buruh"],
    shapes: &[
        "bayar {n}",
        "{n}",
        "{n} {p}",
        "bayar {n} minggu ini",
        "TRSF E-BANKING DB {ddmm}/FTSCY/WS{ref5} {amt} {P} {N}",
        "TRANSFER KE {P} {N}",
        "MCM InhouseTrf {N} {P}",
        "{N} {ref}",
    ],
    common: &[],
};

const EQUIPMENT: Lexicon = Lexicon {
    label: "equipment",
    income: false,
    amount: (100_000, 20_000_000, 5_000),
    names: &[
        "etalase", "kompor gas", "freezer", "blender", "gerobak", "timbangan digital", "mesin jahit", "printer kasir", "Ace Hardware",
        "Informa", "Mitra10", "panci besar", "rice cooker", "mesin cuci", "kulkas", "meja kursi warung", "rak besi", "mesin kopi",
        "oven", "dandang", "Electronic City", "Toko Bangunan", "genset", "mixer roti",
    ],
    shapes: &[
        "beli {n}",
        "beli {n} baru",
        "beli {n} untuk usaha",
        "KARTU DEBIT {N}",
        "QRIS {N}",
        "DEBIT PURCHASE {N} {city}",
        "{N} {city}",
        "servis {n}",
        "ganti {n}",
        "TOKOPEDIA {N} {ref}",
        "SHOPEE {N} {ref}",
    ],
    common: CARD_SHAPES,
};

const BUSINESS_RENT: Lexicon = Lexicon {
    label: "business_rent",
    income: false,
    amount: (100_000, 10_000_000, 50_000),
    names: &["sewa lapak", "sewa kios", "sewa ruko", "retribusi pasar", "sewa tempat usaha", "sewa booth", "sewa tenda bazar", "sewa gudang", "sewa toko", "sewa stan"],
    shapes: &[
        "bayar {n}",
        "{n}",
        "{n} bulan ini",
        "{n} pasar",
        "TRANSFER KE {P} {N}",
        "TRSF E-BANKING DB {ddmm}/FTSCY/WS{ref5} {amt} {P} {N}",
        "{N} {ref}",
        "bayar {n} ke {p}",
    ],
    common: &[],
};

const MARKETING: Lexicon = Lexicon {
    label: "marketing",
    income: false,
    amount: (20_000, 5_000_000, 1_000),
    names: &[
        "FACEBK ADS", "Google Ads", "Instagram Ads", "TikTok Ads", "cetak brosur", "spanduk", "banner", "endorse selebgram",
        "promosi", "cetak stiker label", "Shopee Iklan", "Tokopedia TopAds", "baliho", "kartu nama", "neon box", "papan nama",
        "Meta Ads", "iklan koran",
    ],
    shapes: &[
        "{N} {ref}",
        "{N}",
        "bayar {n}",
        "KARTU DEBIT {N}",
        "DEBIT PURCHASE {N}",
        "pasang {n}",
        "cetak {n}",
        "biaya {n}",
        "{n} untuk jualan",
        "QRIS {N}",
    ],
    common: &[],
};

const SHIPPING: Lexicon = Lexicon {
    label: "shipping",
    income: false,
    amount: (7_000, 800_000, 500),
    names: &[
        "JNE", "J&T Express", "SiCepat", "Anteraja", "Pos Indonesia", "Ninja Xpress", "Lalamove", "GoSend", "GrabExpress",
        "Paxel", "Wahana", "Lion Parcel", "TIKI", "Deliveree", "ID Express", "Indah Cargo",
    ],
    shapes: &[
        "ongkir {n}",
        "ongkos kirim {n}",
        "kirim paket {n}",
        "kirim barang via {n}",
        "QRIS {N}",
        "{N} {ref}",
        "KARTU DEBIT {N}",
        "Pembayaran ke {n} via GoPay",
        "{n}",
        "resi {n} {ref}",
    ],
    common: CARD_SHAPES,
};

static LEXICONS: &[Lexicon] = &[
    SALES, SALARY, TRANSFER_IN, LOAN_DISBURSED, INTEREST, OTHER_INCOME, FOOD, GROCERIES, TRANSPORT, BILLS, EDUCATION, HEALTH,
    ENTERTAINMENT, RENT, CLOTHING, ZAKAT, INSTALLMENT, BANK_FEES, CASH, TRANSFER_OUT, OTHER, RAW_MATERIALS, WAGES, EQUIPMENT,
    BUSINESS_RENT, MARKETING, SHIPPING,
];

const PEOPLE: &[&str] = &[
    "BUDI SANTOSO", "SITI AMINAH", "AGUS SETIAWAN", "DEWI LESTARI", "RINI WULANDARI", "ANDI PRATAMA", "NUR HASANAH", "JOKO SUSILO",
    "SRI MULYANI", "WAHYU HIDAYAT", "RATNA SARI", "EKO PRASETYO", "YULIANA", "BAMBANG", "FITRI HANDAYANI", "HENDRA GUNAWAN",
    "IKA PUSPITA", "SLAMET RIYADI", "MUHAMMAD RIZKI", "PUTRI AMELIA", "DIAN PERMATA", "TAUFIK", "LINDA KUSUMA", "ARIF RAHMAN",
];
const BANKS: &[&str] = &["014", "008", "009", "002", "022", "451", "BCA", "MANDIRI", "BNI", "BRI", "BSI", "CIMB"];
const CITIES: &[&str] = &["JAKARTA", "BANDUNG", "SURABAYA", "MEDAN", "YOGYAKARTA", "SEMARANG", "MAKASSAR", "DENPASAR", "MALANG", "BEKASI", "DEPOK", "BOGOR", "ID"];

/// The labels of the corpus, in the order of DOMAIN.md.
pub fn labels() -> Vec<&'static str> {
    LEXICONS.iter().map(|l| l.label).collect()
}

/// `per_label` examples of every label for `split`, deterministic for `seed`.
pub fn generate(split: Split, per_label: usize, seed: u64) -> Vec<Example> {
    let mut rng = Rng::new(seed ^ if split == Split::Train { 0 } else { 0x5eed });
    let mut out = Vec::with_capacity(per_label * LEXICONS.len());
    for lexicon in LEXICONS {
        let names: Vec<&str> = lexicon
            .names
            .iter()
            .enumerate()
            .filter(|(i, _)| (i % HELD_OUT_EVERY == HELD_OUT_EVERY - 1) == (split == Split::HeldOut))
            .map(|(_, n)| *n)
            .collect();
        for _ in 0..per_label {
            let name = *rng.pick(&names);
            let shape = {
                let i = rng.below(lexicon.shapes.len() + lexicon.common.len());
                lexicon.shapes.get(i).unwrap_or_else(|| &lexicon.common[i - lexicon.shapes.len()])
            };
            let (lo, hi, step) = lexicon.amount;
            let magnitude = (rng.range(lo, hi) / step).max(1) * step;
            let amount = if lexicon.income { magnitude } else { -magnitude };
            let text = noise(&fill(shape, name, magnitude, &mut rng), &mut rng);
            out.push(Example { text, amount, label: lexicon.label });
        }
    }
    rng.shuffle(&mut out);
    out
}

/// `shape` with its placeholders filled.
fn fill(shape: &str, name: &str, amount: i64, rng: &mut Rng) -> String {
    let mut out = String::with_capacity(shape.len() + 32);
    let mut rest = shape;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let end = rest[start..].find('}').map_or(rest.len(), |e| start + e);
        let key = &rest[start + 1..end];
        match key {
            "n" => out.push_str(name),
            "N" => out.push_str(&name.to_uppercase()),
            "P" | "Q" => out.push_str(*rng.pick(PEOPLE)),
            "p" => out.push_str(&title_case(*rng.pick(PEOPLE))),
            "ref" => out.push_str(&format!("{}", rng.range(100_000, 99_999_999_999))),
            "ref5" => out.push_str(&format!("{:05}", rng.range(0, 99_999))),
            "ddmm" => out.push_str(&format!("{:02}{:02}", rng.range(1, 28), rng.range(1, 12))),
            "date" => out.push_str(&format!("{:02}/{:02}", rng.range(1, 28), rng.range(1, 12))),
            "amt" => out.push_str(&format!("{amount}.00")),
            "bank" => out.push_str(*rng.pick(BANKS)),
            "city" => out.push_str(*rng.pick(CITIES)),
            "qty" => out.push_str(&rng.range(2, 60).to_string()),
            other => out.push_str(other),
        }
        rest = &rest[(end + 1).min(rest.len())..];
    }
    out.push_str(rest);
    out
}

fn title_case(text: &str) -> String {
    text.split(' ')
        .map(|w| {
            let mut chars = w.chars();
            chars.next().map_or_else(String::new, |first| first.to_string() + &chars.as_str().to_lowercase())
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// What people and banks do to text: everything upper or lower case, a
/// dropped letter, doubled spaces.
fn noise(text: &str, rng: &mut Rng) -> String {
    let mut text = if rng.chance(0.15) {
        text.to_uppercase()
    } else if rng.chance(0.15) {
        text.to_lowercase()
    } else {
        text.to_owned()
    };
    if rng.chance(0.1) {
        // A typo: one letter of a long word dropped.
        let words: Vec<&str> = text.split(' ').collect();
        let long: Vec<usize> = (0..words.len()).filter(|&i| words[i].chars().count() > 5 && words[i].chars().all(char::is_alphabetic)).collect();
        if !long.is_empty() {
            let i = *rng.pick(&long);
            let chars: Vec<char> = words[i].chars().collect();
            let drop = 1 + rng.below(chars.len() - 2);
            let typo: String = chars.iter().enumerate().filter(|(j, _)| *j != drop).map(|(_, c)| c).collect();
            text = words.iter().enumerate().map(|(j, w)| if j == i { typo.as_str() } else { w }).collect::<Vec<_>>().join(" ");
        }
    }
    if rng.chance(0.05) {
        text = text.replacen(' ', "  ", 1);
    }
    text
}

/// `examples` as CSV (`text,amount,label`), quoted where needed.
pub fn to_csv(examples: &[Example]) -> String {
    let mut out = String::from("text,amount,label\n");
    for e in examples {
        let text = if e.text.contains([',', '"', '\n']) { format!("\"{}\"", e.text.replace('"', "\"\"")) } else { e.text.clone() };
        out.push_str(&format!("{text},{},{}\n", e.amount, e.label));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_corpus_covers_every_default_category_and_is_deterministic() {
        let ids: Vec<&str> = arus_schemas::categories::DEFAULT.iter().map(|c| c.id).collect();
        assert_eq!(labels(), ids);
        let a = generate(Split::Train, 20, 7);
        assert_eq!(a, generate(Split::Train, 20, 7));
        assert_ne!(a, generate(Split::Train, 20, 8));
        assert_eq!(a.len(), 20 * ids.len());
        for e in &a {
            assert!(!e.text.contains('{'), "unfilled shape: {}", e.text);
            let income = arus_schemas::categories::by_id(e.label).unwrap().group == arus_schemas::categories::CategoryGroup::Income;
            assert_eq!(e.amount > 0, income, "{e:?}");
        }
    }

    #[test]
    fn held_out_merchants_never_appear_in_training() {
        for lexicon in LEXICONS {
            assert!(lexicon.names.len() >= HELD_OUT_EVERY, "{} needs at least {HELD_OUT_EVERY} names", lexicon.label);
        }
        let train = generate(Split::Train, 200, 1);
        // "Mie Gacoan" is entry 0 of food (train); "JCO Donuts" is entry 14 (held out).
        assert!(train.iter().any(|e| e.text.to_lowercase().contains("gacoan")));
        assert!(!train.iter().any(|e| e.text.to_lowercase().contains("jco donuts")));
        let held_out = generate(Split::HeldOut, 200, 1);
        assert!(held_out.iter().any(|e| e.text.to_lowercase().contains("jco donuts")));
        assert!(!held_out.iter().any(|e| e.text.to_lowercase().contains("gacoan")));
    }

    #[test]
    fn csv_quotes_what_needs_quoting() {
        let e = Example { text: "beli \"kopi\", gula".into(), amount: -5000, label: "food_drink" };
        assert_eq!(to_csv(&[e]), "text,amount,label\n\"beli \"\"kopi\"\", gula\",-5000,food_drink\n");
    }
}
