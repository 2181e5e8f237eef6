//! Delta interop: our tables read by a library nobody here wrote — the
//! Python `deltalake` package from PyPI (installed into .tools/venv by
//! deploy/pytools.sh) — give the same rows as our DataFusion reads, also
//! after `arus lake optimize` rewrote the files.

use std::collections::HashSet;
use std::time::Duration;

use arus_lakehouse::{Kafka, Lake};
use arus_schemas::tables;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::common::{strings, wait_for, TestEnv};

const READ: &str = r#"
import json, os, sys
import deltalake
import pyarrow as pa
dt = deltalake.DeltaTable(sys.argv[1])
t = dt.to_pyarrow_table(columns=["id", "user_id", "month", "amount", "category_id", "occurred_at"])
cols = [t.column(c).to_pylist() for c in ["id", "user_id", "month", "amount", "category_id"]]
cols.append(t.column("occurred_at").cast(pa.int64()).to_pylist())
rows = ["|".join([i, u, m, str(a), c or "-", str(o)]) for i, u, m, a, c, o in zip(*cols)]
print(json.dumps({"version": dt.version(), "partitions": dt.metadata().partition_columns, "rows": rows}))
# Leave without the interpreter's teardown: deltalake's runtime threads can
# still be running then, and the C++ runtime aborts the process ("terminate
# called without an active exception", delta-io/delta-rs#2184) after the
# answer was printed. What was read is all printed and flushed by now.
sys.stdout.flush()
os._exit(0)
"#;

fn python_reads(table_uri: &str) -> Value {
    let python = concat!(env!("CARGO_MANIFEST_DIR"), "/.tools/venv/bin/python");
    let out = std::process::Command::new(python).args(["-c", READ, table_uri]).output().expect("run .tools/venv/bin/python (deploy/pytools.sh installs it)");
    assert!(out.status.success(), "python deltalake failed: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_deltalake_reads_the_same_transactions_with_broker() {
    let mut env = TestEnv::new("interop").await;
    // A checkpoint every other commit: the reader must take the log as
    // checkpoint plus commits, as it finds our long-running tables.
    env.config.checkpoint_interval = 2;
    let stop = CancellationToken::new();
    let job = {
        let (config, stop) = (env.config.clone(), stop.clone());
        tokio::spawn(async move { arus_stream_jobs::run_named("enrich", &config, stop).await })
    };
    let producer = Kafka::new(&env.config).unwrap().producer().unwrap();
    let session = env.session().await;
    // Three batches, each waited for: three commits, so every month's
    // partition holds several files for optimize to rewrite (sent at once,
    // the job may take all 3,000 in one commit of one file a partition).
    let now = chrono::Utc::now();
    for batch in 0..3u64 {
        // The same 1,000 minutes each time, so each batch writes to the same partitions.
        let events: Vec<_> = (batch * 1_000..(batch + 1) * 1_000)
            .map(|i| arus_schemas::TxnRaw { occurred_at: now - chrono::Duration::minutes((i % 1_000) as i64), ..arus::demo::synthetic("interop", i, 20, now) })
            .collect();
        arus::demo::publish(&producer, &env.config, events).await.unwrap();
        wait_for(&session, "SELECT count(*) FROM transactions", (batch as i64 + 1) * 1_000, Duration::from_secs(120)).await;
    }
    stop.cancel();
    job.await.unwrap().unwrap();

    let ours = || async {
        let batches = session
            .sql("SELECT concat_ws('|', id, user_id, month, CAST(amount AS VARCHAR), COALESCE(category_id, '-'), CAST(CAST(occurred_at AS BIGINT) AS VARCHAR)) FROM transactions")
            .await
            .unwrap();
        strings(&batches, 0).into_iter().collect::<HashSet<String>>()
    };
    let uri = format!("{}/transactions", env.config.lake_uri());
    for step in ["as the job wrote it", "after optimize"] {
        let theirs = python_reads(&uri);
        let listed = theirs["rows"].as_array().unwrap();
        let rows: HashSet<String> = listed.iter().map(|r| r.as_str().unwrap().to_owned()).collect();
        let mine = ours().await;
        // What differs, a few of each side, for the message of a failure.
        let only = |a: &HashSet<String>, b: &HashSet<String>| a.difference(b).take(3).cloned().collect::<Vec<_>>();
        let context = format!(
            "{step}: Python read version {} ({} rows, {} distinct), we read {} distinct; only theirs {:?}, only ours {:?}",
            theirs["version"],
            listed.len(),
            rows.len(),
            mine.len(),
            only(&rows, &mine),
            only(&mine, &rows)
        );
        assert_eq!(listed.len(), 3_000, "no row twice — {context}");
        assert_eq!(theirs["partitions"], serde_json::json!(["month"]), "{context}");
        assert_eq!(mine.len(), 3_000, "{context}");
        assert!(rows == mine, "the same rows, amounts, months, categories and times — {context}");
        if step == "as the job wrote it" {
            let lake = Lake::new(&env.config).unwrap();
            let before = arus_lakehouse::maintenance::stats(&tables::TRANSACTIONS, &lake.open_or_create(&tables::TRANSACTIONS).await.unwrap()).await;
            let reports = arus_lakehouse::maintenance::optimize(&lake, &tables::TRANSACTIONS).await.unwrap();
            assert!(!reports.is_empty(), "optimize rewrote some partition: {before:?}");
        }
    }
}
