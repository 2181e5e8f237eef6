//! Dashboards with the broker: the `daily-totals` and `monthly-totals`
//! jobs keep the aggregates as transactions and corrections stream in, and every dashboard figure
//! and report read from it equals what the `transactions` table itself
//! adds up to — per person, never across people.

use std::collections::BTreeMap;

use arus_schemas::events::jakarta;
use arus_schemas::{tables, topics};
use chrono::{Datelike, NaiveDate, Utc};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::common::{scalar, start_job, strings, wait_committed};
use crate::serving::{book, first_admin, person, Api};


fn i(v: &Value) -> i64 {
    v.as_i64().unwrap_or_else(|| panic!("not an integer: {v}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboard_figures_come_from_the_stream_aggregate_and_equal_the_transactions_with_broker() {
    // The partner list reads the lake again at the first request after a change.
    let api = Api::start_with("dashboard", &["enrich", "audit", "dlq"], |c| c.partners_refresh_ms = 0).await;
    let config = api.env.config.clone();
    let totals = start_job(&config, "daily-totals");
    let monthly = start_job(&config, "monthly-totals");
    let admin = first_admin(&api).await;
    let (sari_id, sari) = person(&api, &admin, "sari@example.id", "user").await;
    let (budi_id, budi) = person(&api, &admin, "budi@example.id", "user").await;
    let (officer_id, officer) = person(&api, &admin, "petugas@example.id", "officer").await;
    let (status, body) = api.send(Method::PATCH, &format!("/api/v1/users/{sari_id}"), &admin, json!({"officer_id": officer_id})).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // Three months of Sari's money, and some of Budi's.
    let mut booked = 0;
    for (amount, what, category, days_ago) in [
        (3_000_000, "Jual bakso minggu ini", "sales", 0),
        (-120_000, "Beli daging sapi", "raw_materials", 0),
        (-45_000, "Makan siang", "food_drink", 1),
        (-60_000, "Bensin motor", "transport", 3),
        (2_500_000, "Jual bakso", "sales", 33),
        (-900_000, "Bahan baku bulanan", "raw_materials", 34),
        (-75_000, "Pulsa dan data", "bills_utilities", 40),
        (1_750_000, "Jual bakso", "sales", 50),
        (-400_000, "Listrik toko", "bills_utilities", 52),
    ] {
        book(&api, &sari, amount, what, category, days_ago).await;
        booked += 1;
    }
    let misfiled = book(&api, &sari, -300_000, "Servis gerobak", "food_drink", 2).await;
    booked += 1;
    for (amount, what, category, days_ago) in [(5_000_000, "Gaji", "salary", 0), (-1_000_000, "Kos", "rent", 1)] {
        book(&api, &budi, amount, what, category, days_ago).await;
        booked += 1;
    }
    // Dewi, the officer's too, has been quiet for longer than the 60 days a partner card reads first.
    let (dewi_id, dewi) = person(&api, &admin, "dewi@example.id", "user").await;
    let (status, body) = api.send(Method::PATCH, &format!("/api/v1/users/{dewi_id}"), &admin, json!({"officer_id": officer_id})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    book(&api, &dewi, -80_000, "Beli gas", "groceries", 200).await;
    booked += 1;
    wait_committed(&config, "daily-totals", &tables::DAILY_TOTALS, &[topics::TXN], booked).await;
    // A correction moves the amount between categories (the day's row of each).
    let (status, body) = api.send(Method::PATCH, &format!("/api/v1/transactions/{misfiled}"), &sari, json!({"category": "equipment"})).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    wait_committed(&config, "daily-totals", &tables::DAILY_TOTALS, &[topics::TXN, topics::TXN_FEEDBACK], booked + 1).await;
    wait_committed(&config, "monthly-totals", &tables::MONTHLY_TOTALS, &[topics::TXN], booked).await;
    totals.stop().await;
    monthly.stop().await;

    // What the transactions themselves add up to.
    let session = api.env.session().await;
    let today = Utc::now().with_timezone(&jakarta()).date_naive();
    let first = NaiveDate::from_ymd_opt(today.year(), today.month(), 1).unwrap();
    let three_months_ago = {
        let m = today.year() * 12 + today.month0() as i32 - 2;
        NaiveDate::from_ymd_opt(m.div_euclid(12), m.rem_euclid(12) as u32 + 1, 1).unwrap()
    };
    let sum = |user: &str, what: &str, month_from: &str| {
        format!("SELECT COALESCE(SUM({what}), 0) FROM transactions WHERE user_id = '{user}' AND month >= '{month_from}'")
    };
    let m0 = three_months_ago.format("%Y-%m").to_string();
    let income = scalar(&session, &sum(&sari_id, "CASE WHEN amount > 0 THEN amount ELSE 0 END", &m0)).await;
    let expense = scalar(&session, &sum(&sari_id, "CASE WHEN amount < 0 THEN -amount ELSE 0 END", &m0)).await;
    assert_eq!((income, expense), (7_250_000, 1_900_000), "the booked amounts are in the table");
    assert_eq!(scalar(&session, "SELECT count(*) FROM daily_totals WHERE category_id = 'food_drink' AND expense = 300000").await, 0, "moved out");

    // The summary of the three months, and the period before (empty).
    let path = format!("/api/v1/dashboard/summary?from={three_months_ago}&to={today}");
    let (status, s) = api.get(&path, &sari).await;
    assert_eq!(status, StatusCode::OK, "{s}");
    let c = &s["current"];
    assert_eq!((i(&c["income"]), i(&c["expense"]), i(&c["net"]), i(&c["transactions"])), (income, expense, income - expense, 10), "{s}");
    let rate = ((income - expense) as f64 * 1000.0 / income as f64).round() / 10.0;
    assert_eq!(c["savings_rate_pct"].as_f64(), Some(rate));
    assert_eq!((i(&s["previous"]["income"]), s["previous"]["savings_rate_pct"].clone()), (0, Value::Null));
    // This month by default.
    let (_, this_month) = api.get("/api/v1/dashboard/summary", &sari).await;
    assert_eq!(this_month["current"]["from"], first.to_string());
    let this_month_income = scalar(&session, &format!("SELECT COALESCE(SUM(amount), 0) FROM transactions WHERE user_id = '{sari_id}' AND amount > 0 AND month = '{}'", first.format("%Y-%m"))).await;
    assert_eq!(i(&this_month["current"]["income"]), this_month_income);

    // Month by month, the same as grouping the table by its month column.
    let (status, flow) = api.get("/api/v1/dashboard/cashflow?months=3", &sari).await;
    assert_eq!(status, StatusCode::OK, "{flow}");
    let flow = flow.as_array().unwrap();
    assert_eq!(flow.len(), 3);
    let by_month = session
        .sql(&format!(
            "SELECT month, CAST(SUM(CASE WHEN amount > 0 THEN amount ELSE 0 END) AS VARCHAR), CAST(SUM(CASE WHEN amount < 0 THEN -amount ELSE 0 END) AS VARCHAR) \
             FROM transactions WHERE user_id = '{sari_id}' GROUP BY month ORDER BY month"
        ))
        .await
        .unwrap();
    let expected: BTreeMap<String, (i64, i64)> = strings(&by_month, 0)
        .into_iter()
        .zip(strings(&by_month, 1).into_iter().zip(strings(&by_month, 2)))
        .map(|(m, (a, b))| (m, (a.parse().unwrap(), b.parse().unwrap())))
        .collect();
    for m in flow {
        let want = expected.get(m["month"].as_str().unwrap()).copied().unwrap_or_default();
        assert_eq!((i(&m["income"]), i(&m["expense"]), i(&m["net"])), (want.0, want.1, want.0 - want.1), "{m}");
    }
    assert_eq!(flow.iter().map(|m| i(&m["income"])).sum::<i64>(), income);
    // Thirteen months span two years (two partitions of monthly_totals):
    // Dewi's one purchase, 200 days ago, in its month and nowhere else.
    let (status, dewi_flow) = api.get("/api/v1/dashboard/cashflow?months=13", &dewi).await;
    assert_eq!(status, StatusCode::OK, "{dewi_flow}");
    let dewi_flow = dewi_flow.as_array().unwrap();
    let dewi_month = (Utc::now() - chrono::Duration::days(200)).with_timezone(&jakarta()).format("%Y-%m").to_string();
    assert_eq!(dewi_flow.len(), 13);
    assert_eq!(dewi_flow.first().unwrap()["month"].as_str().unwrap()[..4].parse::<i32>().unwrap(), today.year() - 1, "{dewi_flow:?}");
    for m in dewi_flow {
        let want = if m["month"] == dewi_month.as_str() { (80_000, 1) } else { (0, 0) };
        assert_eq!((i(&m["expense"]), i(&m["transactions"])), want, "{m}");
    }

    // Per category, the correction counted where it was moved to.
    let (_, cats) = api.get(&format!("/api/v1/dashboard/categories?from={three_months_ago}&to={today}"), &sari).await;
    let cats = cats.as_array().unwrap();
    let find = |id: &str| cats.iter().find(|c| c["category_id"] == id).cloned().unwrap_or(Value::Null);
    assert_eq!(cats[0]["category_id"], "raw_materials", "most spending first: {cats:?}");
    assert_eq!(i(&find("raw_materials")["expense"]), 1_020_000);
    assert_eq!(i(&find("equipment")["expense"]), 300_000);
    assert_eq!(i(&find("food_drink")["expense"]), 45_000);
    assert_eq!(find("sales")["share_pct"].as_f64(), Some(100.0));
    assert_eq!(cats.iter().map(|c| i(&c["expense"])).sum::<i64>(), expense);
    assert_eq!(find("raw_materials")["name"], "Raw materials and stock");
    let r = api.client.get(api.url(&format!("/api/v1/dashboard/categories?from={three_months_ago}&to={today}"))).bearer_auth(&sari).header("accept-language", "id").send().await.unwrap();
    let cats_id: Value = r.json().await.unwrap();
    assert_eq!(cats_id[0]["name"], "Bahan Baku & Stok");

    // Income against spending by ISO week, empty weeks included, same totals.
    let (_, weeks) = api.get(&format!("/api/v1/dashboard/income-expense?from={three_months_ago}&to={today}&by=week"), &sari).await;
    let weeks = weeks.as_array().unwrap();
    // Every ISO week the period touches, from the Monday of its first day's week.
    let monday = |d: NaiveDate| d - chrono::Duration::days(i64::from(d.weekday().num_days_from_monday()));
    let iso_weeks = (monday(today) - monday(three_months_ago)).num_days() / 7 + 1;
    assert!(weeks.len() as i64 == iso_weeks && weeks.iter().all(|w| w["period"].as_str().unwrap().contains("-W")), "{iso_weeks} weeks: {weeks:?}");
    assert_eq!((weeks.iter().map(|w| i(&w["income"])).sum::<i64>(), weeks.iter().map(|w| i(&w["expense"])).sum::<i64>()), (income, expense));

    // Nobody else's rows: Budi sees his, Sari asking for Budi's sees nothing.
    let (_, theirs) = api.get(&format!("/api/v1/dashboard/summary?from={three_months_ago}&to={today}&user_id={budi_id}"), &sari).await;
    assert_eq!((i(&theirs["current"]["income"]), i(&theirs["current"]["transactions"])), (0, 0), "{theirs}");
    let (_, his) = api.get(&format!("/api/v1/dashboard/summary?from={three_months_ago}&to={today}"), &budi).await;
    assert_eq!((i(&his["current"]["income"]), i(&his["current"]["expense"])), (5_000_000, 1_000_000));
    // An analyst's (admin's) view of everyone adds both up.
    let (_, all) = api.get(&format!("/api/v1/dashboard/summary?from={three_months_ago}&to={today}"), &admin).await;
    assert_eq!(i(&all["current"]["income"]), income + 5_000_000);

    // Bad input: the field and the reason, in Indonesian too.
    for (path, field, code) in [
        ("/api/v1/dashboard/summary?from=2026-13-01", "from", "invalid_date"),
        ("/api/v1/dashboard/summary?from=2026-11-02&to=2026-11-01", "to", "before_start"),
        ("/api/v1/dashboard/cashflow?months=0", "months", "out_of_range"),
        ("/api/v1/dashboard/income-expense?by=hour", "by", "not_one_of"),
        ("/api/v1/reports/2026-Q5", "period", "invalid_period"),
        ("/api/v1/reports/2026-10?format=pdf", "format", "not_one_of"),
    ] {
        let (status, b) = api.get(path, &sari).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{path}: {b}");
        assert_eq!((b["error"]["fields"][0]["field"].as_str(), b["error"]["fields"][0]["code"].as_str()), (Some(field), Some(code)), "{path}: {b}");
    }

    // The quarter's report, as CSV and as XLSX, with the same figures.
    let month = today.format("%Y-%m").to_string();
    let r = api.client.get(api.url(&format!("/api/v1/reports/{month}"))).bearer_auth(&sari).header("accept-language", "id").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/csv"));
    assert!(r.headers()["content-disposition"].to_str().unwrap().contains(&format!("arus-laporan-{month}.csv")));
    let csv = r.text().await.unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "bagian,periode,kategori_id,kategori,pemasukan,pengeluaran,selisih,transaksi");
    let month_income = i(&this_month["current"]["income"]);
    assert!(lines[1].starts_with(&format!("total,{month},,,{month_income},")), "{csv}");
    let r = api.client.get(api.url(&format!("/api/v1/reports/{month}?format=xlsx"))).bearer_auth(&sari).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let bytes = r.bytes().await.unwrap().to_vec();
    use calamine::{Reader, Xlsx};
    let mut workbook: Xlsx<_> = calamine::open_workbook_from_rs(std::io::Cursor::new(bytes)).unwrap();
    assert_eq!(workbook.sheet_names(), ["Summary", "Categories"]);
    let sheet = workbook.worksheet_range("Summary").unwrap();
    assert_eq!(sheet.get_value((4, 0)).map(|v| v.to_string()), Some(month.clone()));
    assert_eq!(sheet.get_value((4, 1)).and_then(|v| calamine::DataType::as_f64(v)), Some(month_income as f64));
    let categories = workbook.worksheet_range("Categories").unwrap();
    assert!(categories.height() >= 2, "a row per category");

    // The officer's partner list: Sari with her activity and trend, then quiet Dewi; not Budi.
    let (status, cards) = api.get("/api/v1/dashboard/partners", &officer).await;
    assert_eq!(status, StatusCode::OK, "{cards}");
    let cards = cards.as_array().unwrap();
    assert_eq!(cards.len(), 2, "{cards:?}");
    assert_eq!(cards[0]["user_id"], sari_id.as_str());
    assert_eq!(cards[0]["last_activity"], today.to_string());
    let dewi_day = (Utc::now() - chrono::Duration::days(200)).with_timezone(&jakarta()).date_naive();
    assert_eq!((cards[1]["user_id"].as_str(), cards[1]["last_activity"].as_str()), (Some(dewi_id.as_str()), Some(dewi_day.to_string().as_str())), "{}", cards[1]);
    assert_eq!(i(&cards[1]["net_30d"]), 0);
    let recent = scalar(&session, &format!("SELECT COALESCE(SUM(amount), 0) FROM transactions WHERE user_id = '{sari_id}' AND occurred_at >= now() - INTERVAL '29 days'")).await;
    assert_eq!(i(&cards[0]["net_30d"]), recent, "{}", cards[0]);
    let (status, _) = api.get("/api/v1/dashboard/partners", &sari).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // The list follows the lake: a sale booked now shows once the partners'
    // activity has been read again (in the background, behind a request).
    let totals = start_job(&config, "daily-totals");
    book(&api, &sari, 1_000_000, "Jual bakso", "sales", 0).await;
    wait_committed(&config, "daily-totals", &tables::DAILY_TOTALS, &[topics::TXN, topics::TXN_FEEDBACK], booked + 2).await;
    totals.stop().await;
    let started = std::time::Instant::now();
    loop {
        let (status, cards) = api.get("/api/v1/dashboard/partners", &officer).await;
        assert_eq!(status, StatusCode::OK, "{cards}");
        if i(&cards[0]["net_30d"]) == recent + 1_000_000 {
            break;
        }
        assert_eq!(i(&cards[0]["net_30d"]), recent, "either the figure before the sale or after it: {}", cards[0]);
        assert!(started.elapsed() < std::time::Duration::from_secs(30), "the new sale never reached the partner list: {}", cards[0]);
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}
