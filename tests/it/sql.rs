//! `POST /api/v1/sql` over real sockets: analysts see every person's rows,
//! a person only theirs whatever the query does; writes, files and
//! unknown tables are refused; limits, CSV and Arrow IPC.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::serving::{first_admin, person, Api};

async fn sql(api: &Api, token: &str, query: &str) -> (StatusCode, Value) {
    api.send(Method::POST, "/api/v1/sql", token, json!({"sql": query})).await
}

fn rows(answer: &Value) -> Vec<Value> {
    answer["rows"].as_array().cloned().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn analysts_query_everything_people_only_their_rows_and_nothing_writes_with_broker() {
    let api = Api::start_with("sql", &["enrich", "audit"], |_| {}).await;
    let admin = first_admin(&api).await;
    let (_, analyst) = person(&api, &admin, "analis@example.id", "analyst").await;
    let (ani_id, ani) = person(&api, &admin, "ani@example.id", "user").await;
    let (beni_id, beni) = person(&api, &admin, "beni@example.id", "user").await;
    for (token, amounts) in [(&ani, [-10_000, 25_000]), (&beni, [-7_000, -3_000])] {
        for amount in amounts {
            let (status, b) = api.send(Method::POST, "/api/v1/transactions", token, json!({"amount": amount, "description": "warung"})).await;
            assert_eq!(status, StatusCode::ACCEPTED, "{b}");
        }
    }
    let totals = "SELECT user_id, count(*) AS n, sum(amount) AS total FROM transactions GROUP BY user_id ORDER BY user_id";
    let started = std::time::Instant::now();
    let everyone = loop {
        let (status, answer) = sql(&api, &analyst, totals).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        if rows(&answer).iter().map(|r| r["n"].as_i64().unwrap()).sum::<i64>() == 4 {
            break answer;
        }
        assert!(started.elapsed().as_secs() < 30, "{answer}");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    let mut expected = vec![json!({"user_id": ani_id, "n": 2, "total": 15_000}), json!({"user_id": beni_id, "n": 2, "total": -10_000})];
    expected.sort_by_key(|v| v["user_id"].as_str().unwrap().to_owned());
    assert_eq!(rows(&everyone), expected);
    assert_eq!(everyone["columns"][2]["data_type"], "Int64");

    // The same query as Ani: her row only.
    let (_, mine) = sql(&api, &ani, totals).await;
    assert_eq!(rows(&mine), [json!({"user_id": ani_id, "n": 2, "total": 15_000})]);
    // Tricks to reach Beni's rows find nothing of his.
    for trick in [
        format!("SELECT count(*) AS n FROM transactions WHERE user_id = '{beni_id}'"),
        format!("SELECT count(*) AS n FROM transactions a JOIN transactions b ON true WHERE b.user_id = '{beni_id}'"),
        format!("SELECT count(*) AS n FROM (SELECT * FROM transactions) t WHERE t.user_id = '{beni_id}'"),
        format!("SELECT count(*) AS n FROM transactions WHERE user_id IN (SELECT user_id FROM transactions WHERE user_id = '{beni_id}')"),
        format!("SELECT count(*) AS n FROM (SELECT user_id FROM transactions UNION ALL SELECT user_id FROM arus.lake.transactions) t WHERE user_id = '{beni_id}'"),
    ] {
        let (status, answer) = sql(&api, &ani, &trick).await;
        assert_eq!((status, rows(&answer)), (StatusCode::OK, vec![json!({"n": 0})]), "{trick}: {answer}");
    }
    // Her catalogue has no credentials, lender or operator tables.
    let (_, tables) = sql(&api, &ani, "SELECT table_name FROM information_schema.tables WHERE table_schema = 'lake' ORDER BY table_name").await;
    let names: Vec<String> = rows(&tables).iter().map(|r| r["table_name"].as_str().unwrap().to_owned()).collect();
    assert!(names.contains(&"transactions".to_owned()) && names.contains(&"budgets".to_owned()), "{names:?}");
    for hidden in ["users", "refresh_tokens", "customers", "tiers", "dlq", "audit_log", "models"] {
        assert!(!names.contains(&hidden.to_owned()), "{hidden} visible to a person: {names:?}");
    }
    let (_, all_tables) = sql(&api, &analyst, "SELECT count(*) AS n FROM information_schema.tables WHERE table_name IN ('customers', 'users', 'refresh_tokens')").await;
    assert_eq!(rows(&all_tables), [json!({"n": 1})], "analysts see the lender's tables, nobody the credentials");

    // Nothing writes, nothing reads a file, nothing unknown runs.
    for (query, code) in [
        ("DELETE FROM transactions", "read_only"),
        ("INSERT INTO budgets SELECT * FROM budgets", "read_only"),
        ("COPY (SELECT * FROM transactions) TO '/tmp/leak.csv'", "read_only"),
        ("CREATE EXTERNAL TABLE pw STORED AS CSV LOCATION '/etc/passwd'", "read_only"),
        ("SELECT * FROM '/etc/passwd'", "invalid_query"),
        ("SELECT * FROM read_csv('/etc/passwd')", "invalid_query"),
        ("SELECT * FROM users", "invalid_query"),
        ("SELECT 1; DROP TABLE transactions", "one_statement"),
    ] {
        let (status, answer) = sql(&api, &analyst, query).await;
        assert_eq!((status, answer["error"]["fields"][0]["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some(code)), "{query}: {answer}");
    }
    let (_, after) = sql(&api, &analyst, "SELECT count(*) AS n FROM transactions").await;
    assert_eq!(rows(&after), [json!({"n": 4})]);

    // Limits and formats.
    let (_, limited) = api.send(Method::POST, "/api/v1/sql", &analyst, json!({"sql": "SELECT id FROM transactions", "max_rows": 3})).await;
    assert_eq!((limited["row_count"].as_u64(), limited["truncated"].as_bool()), (Some(3), Some(true)));
    let client = reqwest::Client::new();
    let csv = client.post(api.url("/api/v1/sql")).bearer_auth(&ani).header("accept", "text/csv").json(&json!({"sql": "SELECT amount FROM transactions ORDER BY amount"})).send().await.unwrap();
    assert_eq!(csv.headers()["content-type"], "text/csv; charset=utf-8");
    assert_eq!(csv.text().await.unwrap(), "amount\n-10000\n25000\n");
    let ipc = client.post(api.url("/api/v1/sql")).bearer_auth(&analyst).header("accept", "application/vnd.apache.arrow.stream").json(&json!({"sql": "SELECT id, amount FROM transactions"})).send().await.unwrap();
    assert_eq!(ipc.status(), StatusCode::OK);
    let bytes = ipc.bytes().await.unwrap();
    let reader = arrow::ipc::reader::StreamReader::try_new(std::io::Cursor::new(bytes.to_vec()), None).unwrap();
    let count: usize = reader.map(|b| b.unwrap().num_rows()).sum();
    assert_eq!(count, 4);
}
