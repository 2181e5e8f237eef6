//! `arus dlq list|show|replay`: the dead letters every job and connector
//! left in `dlq`, and publishing one again to its source topic once the
//! cause is fixed (a new arus that understands it, or a corrected payload).
//!
//! A replay is recorded in `dlq_replays` after the broker acknowledged the
//! copy: a crash in between publishes it again on the next replay (at
//! least once), which the consumers absorb (events carry their
//! idempotency keys). A copy that fails again becomes a new dead letter of
//! its own offset, so nothing is lost either way.

use std::collections::HashMap;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use arus_lakehouse::{AppendLog, Kafka, Lake};
use arus_schemas::events::{decode_payload, DlqReplay};
use arus_schemas::{tables, Config, DeadLetter};

#[derive(Debug, Clone, clap::Args)]
pub struct ListArgs {
    /// Only this job's (enrich, imports, …).
    #[arg(long)]
    pub job: Option<String>,
    /// Only this kind (not_json, wrong_shape, unsupported_version, invalid).
    #[arg(long)]
    pub kind: Option<String>,
    /// Only those from this topic.
    #[arg(long)]
    pub topic: Option<String>,
    /// Also those already replayed.
    #[arg(long)]
    pub all: bool,
    /// The newest this many.
    #[arg(long, default_value_t = 50)]
    pub limit: usize,
}

#[derive(Debug, Clone, clap::Args)]
pub struct ReplayArgs {
    /// Dead-letter ids (`topic/partition/offset`, as `arus dlq list` prints them).
    #[arg(required = true)]
    pub ids: Vec<String>,
    /// Publish this file's bytes instead of the stored payload (one id only).
    #[arg(long)]
    pub payload_file: Option<PathBuf>,
    /// Replay even if replayed before.
    #[arg(long)]
    pub force: bool,
    /// Why, kept with the replay.
    #[arg(long)]
    pub note: Option<String>,
}

/// A dead letter and its replays, newest first.
#[derive(Debug, Clone)]
pub struct Letter {
    pub letter: DeadLetter,
    pub replays: Vec<DlqReplay>,
}

/// Every dead letter with its replays, newest first.
pub async fn letters(config: &Config) -> Result<Vec<Letter>> {
    let lake = Lake::new(config)?;
    let dead: Vec<DeadLetter> = AppendLog::open(&lake, &tables::DLQ).await?.rows().await.context("reading dlq")?;
    let mut replays: HashMap<String, Vec<DlqReplay>> = HashMap::new();
    for r in AppendLog::<DlqReplay>::open(&lake, &tables::DLQ_REPLAYS).await?.rows().await.context("reading dlq_replays")? {
        replays.entry(r.dead_letter_id.clone()).or_default().push(r);
    }
    let mut out: Vec<Letter> = dead
        .into_iter()
        .map(|letter| {
            let mut replays = replays.remove(&letter.id).unwrap_or_default();
            replays.sort_by(|a, b| b.replayed_at.cmp(&a.replayed_at));
            Letter { letter, replays }
        })
        .collect();
    out.sort_by(|a, b| b.letter.failed_at.cmp(&a.letter.failed_at).then_with(|| a.letter.id.cmp(&b.letter.id)));
    Ok(out)
}

/// The letters `args` asks for.
pub fn select<'a>(letters: &'a [Letter], args: &ListArgs) -> Vec<&'a Letter> {
    letters
        .iter()
        .filter(|l| args.all || l.replays.is_empty())
        .filter(|l| args.job.as_deref().is_none_or(|j| l.letter.job == j))
        .filter(|l| args.kind.as_deref().is_none_or(|k| l.letter.error_kind.as_str() == k))
        .filter(|l| args.topic.as_deref().is_none_or(|t| l.letter.source_topic == t))
        .take(args.limit)
        .collect()
}

fn shorten(text: &str, max: usize) -> String {
    let line = text.replace(['\n', '\r'], " ");
    if line.chars().count() <= max {
        return line;
    }
    line.chars().take(max - 1).chain(std::iter::once('…')).collect()
}

pub async fn list(config: &Config, args: &ListArgs) -> Result<()> {
    let all = letters(config).await?;
    let chosen = select(&all, args);
    println!("{:<36} {:<20} {:<12} {:<19} {:<9} reason", "id", "failed at (UTC)", "job", "kind", "replayed");
    for l in &chosen {
        let d = &l.letter;
        let replayed = l.replays.first().map_or("-".to_owned(), |r| r.replayed_at.format("%m-%d %H:%M").to_string());
        println!("{:<36} {:<20} {:<12} {:<19} {:<9} {}", d.id, d.failed_at.format("%Y-%m-%d %H:%M:%S"), d.job, d.error_kind.as_str(), replayed, shorten(&d.error, 80));
    }
    let waiting = all.iter().filter(|l| l.replays.is_empty()).count();
    println!("{} shown; {} dead letter(s) in all, {waiting} not replayed", chosen.len(), all.len());
    Ok(())
}

pub async fn show(config: &Config, id: &str) -> Result<()> {
    let all = letters(config).await?;
    let Some(l) = all.iter().find(|l| l.letter.id == id) else { bail!("no dead letter {id:?} (see `arus dlq list --all`)") };
    let d = &l.letter;
    println!("id:        {}", d.id);
    println!("failed at: {}", d.failed_at.to_rfc3339());
    println!("job:       {}", d.job);
    println!("source:    {} partition {} offset {} key {}", d.source_topic, d.source_partition, d.source_offset, d.source_key.as_deref().unwrap_or("-"));
    println!("person:    {}", d.user_id.as_deref().unwrap_or("-"));
    println!("kind:      {}", d.error_kind.as_str());
    println!("reason:    {}", d.error);
    println!("payload ({}):", d.payload_encoding.as_str());
    println!("{}", d.payload);
    for r in &l.replays {
        let changed = if r.payload_changed { ", corrected payload" } else { "" };
        println!("replayed:  {} → {} partition {} offset {}{changed}{}", r.replayed_at.to_rfc3339(), r.topic, r.partition, r.offset, r.note.as_deref().map(|n| format!(" ({n})")).unwrap_or_default());
    }
    Ok(())
}

/// Publishes the dead letters `ids` again to their source topics (with
/// `payload` instead of the stored bytes when given, for one id), records
/// each replay and returns them. Refuses unknown ids, and ones replayed
/// before unless `force`, before publishing anything.
pub async fn replay(config: &Config, ids: &[String], payload: Option<Vec<u8>>, force: bool, note: Option<String>) -> Result<Vec<DlqReplay>> {
    if payload.is_some() && ids.len() != 1 {
        bail!("a corrected payload replaces one dead letter's: give exactly one id");
    }
    let all = letters(config).await?;
    let mut chosen = Vec::new();
    for id in ids {
        let Some(l) = all.iter().find(|l| &l.letter.id == id) else { bail!("no dead letter {id:?} (see `arus dlq list --all`)") };
        if let (Some(last), false) = (l.replays.first(), force) {
            bail!("{id} was replayed at {} (to offset {}); --force to publish it again", last.replayed_at.to_rfc3339(), last.offset);
        }
        let bytes = match &payload {
            Some(p) => p.clone(),
            None => decode_payload(&l.letter.payload, l.letter.payload_encoding).map_err(|e| anyhow::anyhow!("{id}: stored payload: {e}"))?,
        };
        chosen.push((&l.letter, bytes));
    }
    let producer = Kafka::new(config)?.producer()?;
    let lake = Lake::new(config)?;
    let mut log = AppendLog::<DlqReplay>::open(&lake, &tables::DLQ_REPLAYS).await?;
    let mut done = Vec::new();
    for (letter, bytes) in chosen {
        let (partition, offset) = producer
            .send_bytes(&letter.source_topic, letter.source_key.as_deref().map(str::as_bytes), &bytes)
            .await
            .with_context(|| format!("publishing {} again to {}", letter.id, letter.source_topic))?;
        let record = DlqReplay {
            dead_letter_id: letter.id.clone(),
            replayed_at: chrono::Utc::now(),
            topic: letter.source_topic.clone(),
            partition,
            offset,
            payload_changed: payload.is_some(),
            note: note.clone(),
        };
        log.append_retrying(std::slice::from_ref(&record)).await.with_context(|| format!("recording the replay of {} (published at offset {offset})", letter.id))?;
        tracing::info!(id = %letter.id, topic = %record.topic, partition, offset, "dead letter replayed");
        done.push(record);
    }
    Ok(done)
}

pub async fn replay_command(config: &Config, args: ReplayArgs) -> Result<()> {
    let payload = match &args.payload_file {
        Some(path) => Some(std::fs::read(path).with_context(|| format!("reading {}", path.display()))?),
        None => None,
    };
    for r in replay(config, &args.ids, payload, args.force, args.note).await? {
        let changed = if r.payload_changed { " (corrected payload)" } else { "" };
        println!("{} → {} partition {} offset {}{changed}", r.dead_letter_id, r.topic, r.partition, r.offset);
    }
    Ok(())
}
