//! `arus up`: everything in one process. Starts the embedded broker when no
//! cluster is configured, creates topics and tables, runs every job and the
//! API, optionally loads demo data, and shuts all of it down cleanly on
//! SIGINT/SIGTERM (jobs commit what they hold, then the broker stops).

use std::time::Duration;

use anyhow::{Context, Result};
use arus_lakehouse::{Kafka, Lake};
use arus_schemas::{topics, Config};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::broker::EmbeddedBroker;

/// Creates every topic (with the configured partitions) that is missing.
pub async fn create_topics(config: &Config) -> Result<Vec<String>> {
    let kafka = Kafka::new(config)?;
    let names: Vec<String> = topics::ALL.iter().map(|t| config.topic(t)).collect();
    Ok(kafka.create_topics(&names).await?)
}

/// Starts the embedded broker when `config.kafka_brokers` is empty and
/// points `config` at it.
pub async fn ensure_broker(config: &mut Config) -> Result<Option<EmbeddedBroker>> {
    if !config.kafka_brokers.trim().is_empty() {
        return Ok(None);
    }
    let dir = config.data_dir.join("kafka");
    let broker = EmbeddedBroker::start(&config.tansu_bin, &dir, config.embedded_broker_port, &config.embedded_broker_storage).await?;
    config.kafka_brokers = broker.brokers.clone();
    // One process runs every job, and tansu 0.6's group coordinator does not
    // reassign the partitions of a member that died: take them directly.
    config.consumer_mode = arus_schemas::config::ConsumerMode::Assign;
    Ok(Some(broker))
}

/// Runs `arus up` until `shutdown` is cancelled or a part fails.
pub async fn up(mut config: Config, demo: bool, shutdown: CancellationToken) -> Result<()> {
    // The demo opens the Postgres protocol too, for psql and BI tools.
    if demo && config.pg_addr.is_none() {
        config.pg_addr = Some(std::net::SocketAddr::from(([127, 0, 0, 1], 5433)));
    }
    let broker = ensure_broker(&mut config).await?;
    let result = run_parts(&config, demo, shutdown).await;
    if let Some(broker) = broker {
        broker.stop().await?;
    }
    result
}

async fn run_parts(config: &Config, demo: bool, shutdown: CancellationToken) -> Result<()> {
    let created = create_topics(config).await.context("creating topics")?;
    if !created.is_empty() {
        tracing::info!(topics = ?created, "topics created");
    }
    Lake::new(config)?.ensure_all().await.context("creating tables")?;

    let parts = shutdown.child_token();
    let mut tasks: JoinSet<(String, Result<()>)> = JoinSet::new();
    for name in arus_stream_jobs::JOB_NAMES {
        let (config, token) = (config.clone(), parts.clone());
        tasks.spawn(async move {
            let result = arus_stream_jobs::run_named(name, &config, token).await.map(|_| ()).map_err(anyhow::Error::from);
            (format!("job {name}"), result)
        });
    }
    if config.optimize_interval_s > 0 {
        let (config, token) = (config.clone(), parts.clone());
        tasks.spawn(async move { ("table upkeep".to_owned(), upkeep(&config, token).await) });
    }
    let (bound_tx, bound_rx) = tokio::sync::oneshot::channel();
    {
        let (config, token) = (config.clone(), parts.clone());
        tasks.spawn(async move {
            let result = arus_serving::serve(&config, token, Some(bound_tx)).await.map_err(anyhow::Error::from);
            ("serve".to_owned(), result)
        });
    }
    let addr = tokio::select! {
        addr = bound_rx => addr.ok(),
        Some(done) = tasks.join_next() => {
            parts.cancel();
            let (part, result) = done?;
            result.with_context(|| format!("{part} stopped at start"))?;
            None
        }
    };
    if let Some(addr) = addr {
        println!(
            "\narus is up.\n  API docs:  http://{addr}/docs/\n  health:    http://{addr}/readyz\n  metrics:   http://{addr}/metrics\n  lake:      {}\n  Kafka:     {}\nStop with Ctrl-C.\n",
            config.lake_uri(),
            config.kafka_brokers
        );
    }
    if demo {
        let logins = crate::demo::ensure_demo_users(config).await.context("registering demo users")?;
        let kafka = Kafka::new(config)?;
        let producer = kafka.producer()?;
        let events = crate::demo::demo_transactions(chrono::Utc::now());
        let count = crate::demo::publish(&producer, config, events).await.context("loading demo data")?;
        crate::demo::publish_plans(&producer, config, &crate::demo::demo_plans(chrono::Utc::now())).await.context("loading demo plans")?;
        println!("Demo: {count} transactions, a budget and a goal each published for {} people; they appear within a second.", crate::demo::DEMO_USERS.len());
        // Forecasts and insights of the demo data once it is written (the
        // daily run at start may have found the tables empty).
        let (advisor_config, stop) = (config.clone(), shutdown.clone());
        tokio::spawn(async move {
            tokio::select! {
                () = stop.cancelled() => {}
                () = tokio::time::sleep(std::time::Duration::from_secs(15)) => {
                    let periods = arus_stream_jobs::advice::advisor::Periods { weekly: true, monthly: true };
                    match arus_stream_jobs::advice::advisor::run_once(&advisor_config, chrono::Utc::now(), periods).await {
                        Ok(r) => tracing::info!(report = ?r, "demo: advisor run done"),
                        Err(e) => tracing::warn!(error = %e, "demo: advisor run failed"),
                    }
                }
            }
        });
        println!("  logins (also in {}):", config.data_dir.join("demo-credentials.txt").display());
        for line in &logins {
            println!("    {line}");
        }
        if let (Some(addr), Some((login, password))) = (addr, logins.first().and_then(|l| l.split_once(' '))) {
            println!(
                "  try:  TOKEN=$(curl -s http://{addr}/api/v1/auth/login -H 'content-type: application/json' \\\n          -d '{{\"login\":\"{login}\",\"password\":\"{password}\"}}' | jq -r .access_token)\n        curl -s -H \"Authorization: Bearer $TOKEN\" 'http://{addr}/api/v1/transactions?limit=5'\n"
            );
        }
    }

    // Run until shutdown, or until any part stops on its own (a failure).
    let mut outcome = Ok(());
    tokio::select! {
        biased;
        _ = shutdown.cancelled() => {}
        Some(done) = tasks.join_next() => {
            let (part, result) = done?;
            outcome = match result {
                // Parts stop on their own once shutdown is asked for.
                Ok(()) if shutdown.is_cancelled() => Ok(()),
                Ok(()) => Err(anyhow::anyhow!("{part} stopped unexpectedly")),
                Err(e) => Err(e.context(format!("{part} failed"))),
            };
        }
    }
    parts.cancel();
    let drain = async {
        while let Some(done) = tasks.join_next().await {
            if let Ok((part, Err(e))) = done {
                tracing::error!(part, error = %format!("{e:#}"), "stopped with an error");
            }
        }
    };
    if tokio::time::timeout(Duration::from_secs(30), drain).await.is_err() {
        tracing::warn!("parts did not stop within 30 s");
    }
    outcome
}

/// Every `optimize_interval_s`, compacts and clusters the tables that ask for
/// it, vacuums every table past `vacuum_retention_hours`, checkpoints it
/// and sets its `arus_lake_*` gauges (see [`arus_lakehouse::maintenance`]).
/// A failed step is logged and tried again next round; it never stops
/// `arus up`.
pub async fn upkeep(config: &Config, shutdown: CancellationToken) -> Result<()> {
    let lake = Lake::new(config)?;
    let every = Duration::from_secs(config.optimize_interval_s);
    let retention = Duration::from_secs(config.vacuum_retention_hours * 3600);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return Ok(()),
            () = tokio::time::sleep(every) => {}
        }
        for def in arus_lakehouse::maintenance::clustered_tables() {
            if let Err(e) = arus_lakehouse::maintenance::optimize(&lake, def).await {
                tracing::warn!(table = def.name, error = %e, "optimize failed; trying again next round");
            }
        }
        for def in arus_schemas::tables::ALL {
            if let Err(e) = arus_lakehouse::maintenance::tend(&lake, def, retention).await {
                tracing::warn!(table = def.name, error = %e, "vacuum or checkpoint failed; trying again next round");
            }
        }
    }
}
