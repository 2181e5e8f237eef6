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
    // EXPLAIN and EXPLAIN ANALYZE stay the plan's root (no row limit wrapped around them).
    for (explain, expect) in [("EXPLAIN SELECT count(*) FROM transactions", "physical_plan"), ("EXPLAIN ANALYZE SELECT count(*) FROM transactions", "Plan with Metrics")] {
        let (status, plan) = sql(&api, &ani, explain).await;
        assert_eq!(status, StatusCode::OK, "{explain}: {plan}");
        assert!(rows(&plan).iter().any(|r| r["plan_type"] == expect && r["plan"].as_str().is_some_and(|p| !p.is_empty())), "{explain}: {plan}");
    }
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

/// `psql` (Debian's postgresql-client) against our wire protocol: the
/// standard output and whether it succeeded, with its error output.
fn psql(port: u16, login: &str, password: &str, command: &str) -> (bool, String, String) {
    let out = std::process::Command::new("psql")
        .args(["-h", "127.0.0.1", "-p", &port.to_string(), "-U", login, "-d", "arus", "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", command])
        .env("PGPASSWORD", password)
        .env("PGCONNECT_TIMEOUT", "10")
        .env("PGSSLMODE", "disable")
        .output()
        .expect("psql from postgresql-client (deploy/system-packages.sh installs it)");
    (out.status.success(), String::from_utf8_lossy(&out.stdout).trim().to_owned(), String::from_utf8_lossy(&out.stderr).trim().to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn psql_and_a_driver_log_in_list_tables_and_query_only_their_rows_with_broker() {
    let port = crate::common::free_port();
    let api = Api::start_with("pg", &["enrich", "audit"], |c| c.pg_addr = Some(std::net::SocketAddr::from(([127, 0, 0, 1], port)))).await;
    let admin = first_admin(&api).await;
    person(&api, &admin, "analis@example.id", "analyst").await;
    let (ani_id, ani) = person(&api, &admin, "ani@example.id", "user").await;
    let (beni_id, beni) = person(&api, &admin, "beni@example.id", "user").await;
    for (token, amounts) in [(&ani, &[-10_000, 25_000, -5_000][..]), (&beni, &[-7_000, -3_000][..])] {
        for &amount in amounts {
            let (status, b) = api.send(Method::POST, "/api/v1/transactions", token, json!({"amount": amount, "description": "warung"})).await;
            assert_eq!(status, StatusCode::ACCEPTED, "{b}");
        }
    }
    let pw = "kata-sandi-rahasia";
    let started = std::time::Instant::now();
    // The analyst's aggregate over everyone, once enrich has written all five.
    let everyone = loop {
        let (ok, out, err) = tokio::task::spawn_blocking(move || psql(port, "analis@example.id", pw, "SELECT user_id, count(*), sum(amount) FROM transactions GROUP BY user_id ORDER BY user_id")).await.unwrap();
        assert!(ok, "psql failed: {err}");
        if out.lines().map(|l| l.split('|').nth(1).unwrap().parse::<i64>().unwrap()).sum::<i64>() == 5 {
            break out;
        }
        assert!(started.elapsed().as_secs() < 30, "{out}");
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    };
    let mut expected = vec![format!("{ani_id}|3|10000"), format!("{beni_id}|2|-10000")];
    expected.sort();
    assert_eq!(everyone.lines().collect::<Vec<_>>(), expected);

    let run = |login: &'static str, password: &'static str, sql: &'static str| tokio::task::spawn_blocking(move || psql(port, login, password, sql));
    // The same query as a person: only their rows.
    let (ok, out, err) = run("ani@example.id", pw, "SELECT user_id, count(*), sum(amount) FROM transactions GROUP BY user_id").await.unwrap();
    assert!(ok, "{err}");
    assert_eq!(out, format!("{ani_id}|3|10000"));
    // psql's \dt lists the tables a person may read: theirs, never credentials or the lender's.
    let (ok, tables, err) = run("ani@example.id", pw, "\\dt").await.unwrap();
    assert!(ok, "{err}");
    assert!(tables.lines().any(|l| l.contains("|transactions|")), "{tables}");
    assert!(tables.lines().any(|l| l.contains("|daily_totals|")), "{tables}");
    for hidden in ["|users|", "|refresh_tokens|", "|customers|", "|dlq|"] {
        assert!(!tables.contains(hidden), "{hidden} listed: {tables}");
    }
    let (ok, all_tables, _) = run("analis@example.id", pw, "\\dt").await.unwrap();
    assert!(ok && all_tables.contains("|customers|") && !all_tables.contains("|users|"), "{all_tables}");

    // Cross-tenant tricks see only Ani's rows.
    for trick in [
        "SELECT count(*) FROM transactions a JOIN transactions b ON a.user_id <> b.user_id",
        "SELECT count(*) FROM (SELECT * FROM transactions UNION ALL SELECT * FROM transactions WHERE user_id <> user_id) t WHERE user_id <> (SELECT min(user_id) FROM transactions)",
        "SELECT count(*) FROM transactions WHERE user_id IN (SELECT user_id FROM daily_totals) AND amount = -7000",
    ] {
        let (ok, out, err) = run("ani@example.id", pw, trick).await.unwrap();
        assert!(ok, "{trick}: {err}");
        assert_eq!(out, "0", "{trick}");
    }
    let (ok, out, _) = run("ani@example.id", pw, "SELECT table_name FROM information_schema.tables WHERE table_name IN ('users', 'customers', 'transactions')").await.unwrap();
    assert!(ok);
    assert_eq!(out, "transactions");

    // Writes, file tricks and the credential table are refused; nothing changes.
    for refused in [
        "INSERT INTO transactions (id) VALUES ('x')",
        "DELETE FROM transactions",
        "UPDATE transactions SET amount = 0",
        "CREATE TABLE t AS SELECT * FROM transactions",
        "DROP TABLE transactions",
        "COPY transactions TO '/tmp/arus-leak.csv'",
        "SELECT * INTO stolen FROM transactions",
        "CREATE EXTERNAL TABLE passwd STORED AS CSV LOCATION '/etc/passwd'",
        "SELECT * FROM '/etc/passwd'",
        "SELECT pg_read_file('/etc/passwd')",
        "SELECT * FROM users",
    ] {
        let (ok, out, err) = run("ani@example.id", pw, refused).await.unwrap();
        assert!(!ok, "{refused} ran: {out}");
        assert!(!out.contains("root:") && !err.contains("root:"), "{refused}: {err}");
    }
    assert!(!std::path::Path::new("/tmp/arus-leak.csv").exists());
    let (ok, _, err) = run("ani@example.id", pw, "DELETE FROM transactions").await.unwrap();
    assert!(!ok && err.contains("read-only"), "{err}");
    let (_, out, _) = run("analis@example.id", pw, "SELECT count(*) FROM transactions").await.unwrap();
    assert_eq!(out, "5");

    // A wrong password or an unknown login gets nothing.
    let (ok, _, err) = run("ani@example.id", "salah-sandi-1234", "SELECT 1").await.unwrap();
    assert!(!ok && err.to_lowercase().contains("password authentication failed"), "{err}");
    let (ok, _, _) = run("nobody@example.id", pw, "SELECT 1").await.unwrap();
    assert!(!ok);

    // A driver on the extended protocol (prepared statements, typed
    // parameters), as JDBC and ODBC use it: Beni's rows only.
    let (client, connection) = tokio_postgres::Config::new()
        .host("127.0.0.1")
        .port(port)
        .user("beni@example.id")
        .password(pw)
        .dbname("arus")
        .connect(tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    let rows = client.query("SELECT user_id, amount FROM transactions WHERE amount < $1 ORDER BY amount", &[&-5_000i64]).await.unwrap();
    let got: Vec<(String, i64)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    assert_eq!(got, [(beni_id.clone(), -7_000)]);
    let refused = client.query("DELETE FROM transactions WHERE amount < $1", &[&0i64]).await;
    assert!(refused.is_err(), "a write through a prepared statement");
    let rows = client.query("SELECT count(*) FROM transactions", &[]).await.unwrap();
    assert_eq!(rows[0].get::<_, i64>(0), 2);
}
