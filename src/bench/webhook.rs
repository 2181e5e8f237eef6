//! `arus bench webhook`: how fast `POST /webhooks/waha` answers WAHA.
//! Starts its own broker and the API in this process with a webhook key,
//! signs `--requests` distinct text-message events (the shape of
//! `../shared/data/waha/webhook_message_text.json`) and posts them from
//! `--concurrency` connections, measuring each answer. No `wa-router` runs:
//! the answer waits for the broker's acknowledgement and nothing else, which
//! is the point (WAHA is never held up by reading, OCR or the lake). Then
//! counts the messages on `arus.wa.inbound.v1`: each accepted delivery must
//! be there once.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use arus_ingest::whatsapp::webhook::sign;
use arus_lakehouse::Kafka;
use arus_schemas::config::{ConsumerMode, Secret};
use arus_schemas::{topics, Config};
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::broker::EmbeddedBroker;

#[derive(Debug, Clone, clap::Args)]
pub struct WebhookArgs {
    /// Deliveries measured (after 500 to warm up).
    #[arg(long, default_value_t = 20_000)]
    pub requests: usize,
    /// Connections posting at once.
    #[arg(long, default_value_t = 16)]
    pub concurrency: usize,
    /// Port of the benchmark's own broker.
    #[arg(long, default_value_t = 19194)]
    pub port: u16,
}

const KEY: &str = "bench-webhook-hmac-key";
const WARM_UP: usize = 500;

/// A signed text-message event with message id `n`.
fn event(n: usize) -> (Vec<u8>, String) {
    let phone = format!("6281{:09}", n % 1_000);
    let body = json!({
        "id": format!("evt_{n:028}"),
        "timestamp": 1_741_249_702_485u64,
        "event": "message",
        "session": "default",
        "me": {"id": "71111111111@c.us", "pushName": "~"},
        "payload": {
            "id": format!("false_{phone}@c.us_{n:032X}"),
            "timestamp": 1_741_249_702u64,
            "from": format!("{phone}@c.us"),
            "fromMe": false,
            "to": "71111111111@c.us",
            "body": "jual bakso 20 porsi 300rb",
            "hasMedia": false,
            "ack": 1,
            "vCards": [],
            "_data": {}
        },
        "environment": {"tier": "CORE", "version": "2023.10.12"},
        "engine": "WEBJS"
    });
    let bytes = serde_json::to_vec(&body).expect("JSON");
    let signature = sign(KEY.as_bytes(), &bytes);
    (bytes, signature)
}

pub async fn run(config: Config, args: WebhookArgs) -> Result<()> {
    if cfg!(debug_assertions) {
        eprintln!("warning: this is a debug build; figures are only meaningful with `cargo run --release`");
    }
    let dir = std::env::temp_dir().join(format!("arus-bench-webhook-{}", std::process::id()));
    let broker = EmbeddedBroker::start(&config.tansu_bin, &dir.join("kafka"), args.port, "memory").await?;
    let mut config = super::api_config(&config, &broker, &dir);
    config.waha_webhook_hmac_key = Secret::new(KEY);
    config.wa_dedup_capacity = args.requests + WARM_UP;
    let result = measure(&config, &args).await;
    broker.stop().await?;
    let _ = std::fs::remove_dir_all(&dir);
    let (mut latencies, elapsed, refused, published) = result?;
    latencies.sort();
    let at = |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)];
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "\narus bench webhook: POST /webhooks/waha, signed (HMAC-SHA512), {} deliveries, {} connections, {} cores, no router running",
        latencies.len(),
        args.concurrency,
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!(
        "{:.0} deliveries/s · p50 {:.2} ms · p90 {:.2} ms · p99 {:.2} ms · max {:.2} ms · refused {refused} · on arus.wa.inbound.v1: {published} of {}",
        latencies.len() as f64 / elapsed.as_secs_f64(),
        ms(at(0.5)),
        ms(at(0.9)),
        ms(at(0.99)),
        ms(*latencies.last().unwrap_or(&Duration::ZERO)),
        args.requests + WARM_UP
    );
    if refused > 0 || published != (args.requests + WARM_UP) as i64 {
        bail!("deliveries were refused or not published exactly once");
    }
    Ok(())
}

/// Latencies of the measured deliveries, the time they took, how many were
/// not `200 accepted`, and the messages on the inbound topic.
async fn measure(config: &Config, args: &WebhookArgs) -> Result<(Vec<Duration>, Duration, usize, i64)> {
    crate::up::create_topics(config).await?;
    arus_lakehouse::Lake::new(config)?.ensure_all().await?;
    let shutdown = CancellationToken::new();
    let (bound_tx, bound_rx) = tokio::sync::oneshot::channel();
    let server = {
        let (config, shutdown) = (config.clone(), shutdown.clone());
        tokio::spawn(async move { arus_serving::serve(&config, shutdown, Some(bound_tx)).await })
    };
    let addr = tokio::time::timeout(Duration::from_secs(120), bound_rx).await.context("the API did not start")??;
    let url = format!("http://{addr}/webhooks/waha");
    eprintln!("signing {} events…", args.requests + WARM_UP);
    let events: Arc<Vec<(Vec<u8>, String)>> = Arc::new((0..args.requests + WARM_UP).map(event).collect());
    let client = reqwest::Client::builder().pool_max_idle_per_host(args.concurrency).build()?;
    eprintln!("warming up ({WARM_UP} deliveries)…");
    let (_, _) = post_all(&client, &url, &events, 0..WARM_UP, args.concurrency).await?;
    eprintln!("measuring {} deliveries from {} connections…", args.requests, args.concurrency);
    let started = Instant::now();
    let (latencies, refused) = post_all(&client, &url, &events, WARM_UP..WARM_UP + args.requests, args.concurrency).await?;
    let elapsed = started.elapsed();
    shutdown.cancel();
    server.await??;
    let published = count_inbound(config).await?;
    Ok((latencies, elapsed, refused, published))
}

/// The messages on the inbound topic, read from the beginning until
/// nothing more comes for two seconds (the broker's reported partition ends
/// can fall a batch short, so they are not used).
async fn count_inbound(config: &Config) -> Result<i64> {
    let topic = config.topic(topics::WA_INBOUND);
    let consumer = Kafka::new(config)?.consumer(&config.group("bench-webhook-count"), &[&topic], ConsumerMode::Assign)?;
    consumer.take_assignment_changed();
    let positions = consumer.assignment()?.into_iter().map(|key| (key, None)).collect();
    consumer.seek_to(&positions).await?;
    let mut ids = std::collections::HashSet::new();
    let mut count = 0i64;
    loop {
        match tokio::time::timeout(Duration::from_secs(2), consumer.recv()).await {
            Ok(msg) => {
                let msg = msg?;
                let inbound: arus_schemas::WaInbound = serde_json::from_slice(arus_lakehouse::kafka::Message::payload(&msg).unwrap_or_default())?;
                ids.insert(inbound.message_id);
                count += 1;
            }
            Err(_) => break,
        }
    }
    if count != ids.len() as i64 {
        bail!("{} messages on {topic} but {} distinct: a delivery was published twice", count, ids.len());
    }
    Ok(count)
}

/// Posts `events[range]` from `concurrency` tasks; each answer's latency and
/// the number that were not `200 accepted`.
async fn post_all(client: &reqwest::Client, url: &str, events: &Arc<Vec<(Vec<u8>, String)>>, range: std::ops::Range<usize>, concurrency: usize) -> Result<(Vec<Duration>, usize)> {
    let next = Arc::new(AtomicUsize::new(range.start));
    let mut tasks = Vec::new();
    for _ in 0..concurrency.max(1) {
        let (client, url, events, next, end) = (client.clone(), url.to_owned(), Arc::clone(events), Arc::clone(&next), range.end);
        tasks.push(tokio::spawn(async move {
            let (mut latencies, mut refused) = (Vec::new(), 0usize);
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= end {
                    return Ok::<_, anyhow::Error>((latencies, refused));
                }
                let (body, signature) = &events[i];
                let started = Instant::now();
                let answer = client
                    .post(&url)
                    .header("content-type", "application/json")
                    .header("x-webhook-hmac", signature)
                    .header("x-webhook-hmac-algorithm", "sha512")
                    .body(body.clone())
                    .send()
                    .await?;
                let ok = answer.status() == reqwest::StatusCode::OK && answer.text().await?.contains("\"accepted\"");
                latencies.push(started.elapsed());
                refused += usize::from(!ok);
            }
        }));
    }
    let (mut all, mut refused) = (Vec::new(), 0);
    for task in tasks {
        let (latencies, r) = task.await??;
        all.extend(latencies);
        refused += r;
    }
    Ok((all, refused))
}
