//! `notifier`: sends what arus has to say on WhatsApp through WAHA
//! (`POST {WAHA}/api/sendText`): the router's and the OCR job's answers
//! (`arus.wa.outbound.v1`) and alerts (`arus.alert.v1`), rendered for their
//! audience: a partner hears about their money, their field officer hears
//! when they rise to Gold (*"Halo, kabar baik! Mitra Ibu Rini baru saja naik
//! ke Tier Gold…"*) or slip.
//!
//! **Never twice.** Every message has a deterministic id (`reply:{message}`,
//! `alert:{alert}:{audience}`). The `notifications` table remembers each
//! one: a `sending` row before each try, `retrying` after a try WAHA
//! certainly refused, and a final `sent`, `failed` or `skipped`. On start
//! the notifier loads it, resumes each partition at its last recorded
//! message, and sends nothing whose id is final. An id left at `sending`
//! (the process died while WAHA had the request) may have gone out: once
//! that try would have timed out, the notifier reads the chat's messages
//! from WAHA. Found there (one more message of that text from arus since
//! the try than `sent` rows account for), it is recorded `sent`; not
//! there, it is sent again. When WAHA cannot list the chat (NOWEB without
//! its store), it is marked `unknown` and a dead letter asks a person to
//! check. (A try that times out is retried; WAHA takes no idempotency key,
//! so only that case can repeat a message.)
//!
//! **Retries and pace.** A try that fails for a reason worth retrying
//! (WAHA down, 5xx, 429, a timeout) waits `wa_retry_base_ms`, doubling up
//! to `wa_retry_max_ms`, for at most `wa_send_attempts` tries; WAHA
//! refusing the request (4xx) or the last try failing sends it to the DLQ.
//! Two messages to one chat are at least `wa_chat_interval_ms` apart.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use arus_ingest::whatsapp::waha::WahaError;
use arus_ingest::whatsapp::Waha;
use arus_lakehouse::dead_letters::decode;
use arus_lakehouse::kafka::{BorrowedMessage, Message};
use arus_lakehouse::{AppendLog, Kafka, Lake, Producer};
use arus_schemas::events::{check_schema_version, DeadLetterKind, PayloadEncoding};
use arus_schemas::whatsapp::{Audience, NotificationRecord, NotificationStatus, WaOutbound};
use arus_schemas::{tables, topics, Alert, AlertKind, Config, DeadLetter, SCHEMA_VERSION};
use chrono::{DateTime, Utc};
use tokio_util::sync::CancellationToken;

use super::people::Directory;
use super::{consume_in_order, InOrder, WhatsAppError};

pub const NAME: &str = "notifier";

/// What the notifier did, returned on shutdown.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct NotifierReport {
    pub consumed: u64,
    pub sent: u64,
    pub already_sent: u64,
    pub retries: u64,
    pub failed: u64,
    pub skipped: u64,
    pub unknown: u64,
    /// Cut off mid-send by a stop, and found in the chat afterwards.
    pub found_in_chat: u64,
    pub dead_letters: u64,
}

/// One message to one chat (or to nobody: `chat_id` `None` is skipped).
#[derive(Debug, Clone, PartialEq)]
struct Delivery {
    message: WaOutbound,
    /// Empty chat: nobody to send it to.
    reachable: bool,
}

/// Where an id stands, from its rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Standing {
    /// Nothing more to do.
    Final,
    /// Tries so far, all certainly refused: go on from the next.
    Retry(i32),
    /// Try `tries` was under way when the notifier stopped; it began at `since`.
    Ambiguous { tries: i32, since: DateTime<Utc> },
}

/// What a chat's messages say of a try cut off by a stop.
enum InChat {
    /// It went out (WAHA's id of it, if WAHA said one).
    Found(Option<String>),
    Missing,
}

/// How far the clocks of arus and WAHA may disagree when a chat's messages
/// are matched to a try.
const CLOCK_SLACK_S: i64 = 60;

pub struct Notifier {
    waha: Waha,
    producer: Producer,
    dlq_topic: String,
    directory: Directory,
    log: AppendLog<NotificationRecord>,
    standing: HashMap<String, Standing>,
    last_to: HashMap<String, Instant>,
    attempts: u32,
    base: Duration,
    max: Duration,
    interval: Duration,
    /// How long WAHA may take to answer a try.
    http_timeout: Duration,
    outbound_topic: String,
    alert_topic: String,
    report: NotifierReport,
    shutdown: CancellationToken,
}

/// The standing of every id in `rows`.
fn standings(rows: &[NotificationRecord]) -> HashMap<String, Standing> {
    let mut by_id: HashMap<&str, Vec<&NotificationRecord>> = HashMap::new();
    for r in rows {
        by_id.entry(&r.id).or_default().push(r);
    }
    by_id
        .into_iter()
        .map(|(id, rows)| {
            let standing = if rows.iter().any(|r| r.status.is_final()) {
                Standing::Final
            } else {
                let last = rows.iter().map(|r| r.attempts).max().unwrap_or(0);
                let refused = rows.iter().any(|r| r.attempts == last && r.status == NotificationStatus::Retrying);
                let since = rows.iter().filter(|r| r.attempts == last).map(|r| r.finished_at).min().unwrap_or_else(Utc::now);
                if refused { Standing::Retry(last) } else { Standing::Ambiguous { tries: last, since } }
            };
            (id.to_owned(), standing)
        })
        .collect()
}

impl Notifier {
    pub async fn open(config: &Config, shutdown: CancellationToken) -> Result<Self, WhatsAppError> {
        let kafka = Kafka::new(config)?;
        let lake = Lake::new(config)?;
        let mut log = AppendLog::open(&lake, &tables::NOTIFICATIONS).await?;
        log.refresh().await?;
        let standing = standings(&log.rows().await?);
        Ok(Notifier {
            waha: Waha::from_config(config).map_err(WhatsAppError::Setup)?,
            producer: kafka.producer()?,
            dlq_topic: config.topic(topics::DLQ),
            directory: Directory::open(&lake, Duration::from_secs(5)).await?,
            log,
            standing,
            last_to: HashMap::new(),
            attempts: config.wa_send_attempts,
            base: Duration::from_millis(config.wa_retry_base_ms),
            max: Duration::from_millis(config.wa_retry_max_ms.max(config.wa_retry_base_ms)),
            interval: Duration::from_millis(config.wa_chat_interval_ms),
            http_timeout: Duration::from_millis(config.wa_http_timeout_ms),
            outbound_topic: config.topic(topics::WA_OUTBOUND),
            alert_topic: config.topic(topics::ALERT),
            report: NotifierReport::default(),
            shutdown,
        })
    }

    /// Per topic and partition, the last message with a recorded outcome
    /// (handled again on resume: an alert may have more than one message).
    async fn recorded_points(&mut self) -> Result<HashMap<(String, i32), i64>, WhatsAppError> {
        self.log.refresh().await?;
        let rows = self.log.rows().await?;
        self.standing = standings(&rows);
        let mut points: HashMap<(String, i32), i64> = HashMap::new();
        for r in rows {
            let at = points.entry((r.source_topic.clone(), r.source_partition)).or_insert(r.source_offset);
            *at = (*at).max(r.source_offset);
        }
        Ok(points)
    }

    async fn record(&mut self, d: &Delivery, source: &Source, status: NotificationStatus, attempts: i32, waha_id: Option<String>, error: Option<String>) -> Result<(), WhatsAppError> {
        let now = Utc::now();
        let row = NotificationRecord {
            id: d.message.id.clone(),
            chat_id: d.reachable.then(|| d.message.chat_id.clone()),
            user_id: d.message.user_id.clone(),
            audience: d.message.audience.as_str().to_owned(),
            origin: d.message.origin.clone(),
            text: d.message.text.clone(),
            status,
            attempts,
            waha_message_id: waha_id,
            error,
            source_topic: source.topic.clone(),
            source_partition: source.partition,
            source_offset: source.offset,
            created_at: d.message.created_at,
            finished_at: now,
        };
        self.log.append_retrying(&[row]).await?;
        if status.is_final() {
            self.standing.insert(d.message.id.clone(), Standing::Final);
        }
        Ok(())
    }

    async fn dead(&mut self, d: &Delivery, source: &Source, reason: String) -> Result<(), WhatsAppError> {
        let letter = DeadLetter {
            schema_version: SCHEMA_VERSION,
            id: format!("notification/{}", d.message.id),
            user_id: d.message.user_id.clone(),
            job: NAME.to_owned(),
            source_topic: source.topic.clone(),
            source_partition: source.partition,
            source_offset: source.offset,
            source_key: Some(d.message.chat_id.clone()),
            error_kind: DeadLetterKind::Invalid,
            error: reason,
            payload: serde_json::to_string(&d.message).unwrap_or_default(),
            payload_encoding: PayloadEncoding::Utf8,
            failed_at: Utc::now(),
        };
        self.producer.send_json(&self.dlq_topic, d.message.user_id.as_deref().unwrap_or(""), &letter).await?;
        self.report.dead_letters += 1;
        Ok(())
    }

    /// Whether the try of `d` begun at `since` reached the chat. A message of that text from arus since then counts
    /// only beyond those that `sent` rows of other ids already account for
    /// (the same reply twice in a minute). `Err` inside when WAHA cannot
    /// list the chat.
    async fn find_in_chat(&mut self, d: &Delivery, since: DateTime<Utc>) -> Result<Result<InChat, WahaError>, WhatsAppError> {
        let m = &d.message;
        let from = since.timestamp() - CLOCK_SLACK_S;
        let listed = match self.waha.sent_to(&m.session, &m.chat_id, from, 100).await {
            Ok(listed) => listed,
            Err(e) => return Ok(Err(e)),
        };
        let in_chat: Vec<_> = listed.into_iter().filter(|c| c.body == m.text).collect();
        if in_chat.is_empty() {
            return Ok(Ok(InChat::Missing));
        }
        self.log.refresh().await?;
        let accounted = self
            .log
            .rows()
            .await?
            .iter()
            .filter(|r| r.status == NotificationStatus::Sent && r.id != m.id && r.text == m.text && r.chat_id.as_deref() == Some(m.chat_id.as_str()) && r.finished_at.timestamp() >= from)
            .count();
        Ok(Ok(if in_chat.len() > accounted { InChat::Found(in_chat[0].id.clone()) } else { InChat::Missing }))
    }

    /// Sends `d` unless it went out before; records every step.
    async fn deliver(&mut self, d: Delivery, source: &Source) -> Result<(), WhatsAppError> {
        let mut tries = match self.standing.get(&d.message.id) {
            Some(Standing::Final) => {
                self.report.already_sent += 1;
                return Ok(());
            }
            Some(Standing::Ambiguous { tries, since }) => {
                let (n, since) = (*tries, *since);
                // WAHA may still be working on that try: ask once it would have timed out.
                let wait = (since + self.http_timeout + Duration::from_secs(1) - Utc::now()).to_std().unwrap_or_default();
                tokio::select! {
                    () = self.shutdown.cancelled() => return Ok(()),
                    () = tokio::time::sleep(wait) => {}
                }
                match self.find_in_chat(&d, since).await? {
                    Ok(InChat::Found(waha_id)) => {
                        tracing::info!(job = NAME, id = %d.message.id, "the notifier stopped while sending this message; it is in the chat, so it went out");
                        self.record(&d, source, NotificationStatus::Sent, n, waha_id, None).await?;
                        self.report.found_in_chat += 1;
                        return Ok(());
                    }
                    Ok(InChat::Missing) => {
                        tracing::warn!(job = NAME, id = %d.message.id, "the notifier stopped while sending this message; it is not in the chat: sending it again");
                        n as u32
                    }
                    Err(e) => {
                        tracing::warn!(job = NAME, id = %d.message.id, error = %e, "the notifier stopped while WAHA had this message and cannot read the chat: not sending it again");
                        self.record(&d, source, NotificationStatus::Unknown, n, None, Some(format!("the notifier stopped while WAHA had the message; it may not have been delivered ({e})"))).await?;
                        let reason = format!("delivery unknown: the notifier stopped during try {n} of sending {} to {} and WAHA could not list the chat ({e}); check the chat and resend by hand if it is missing", d.message.id, d.message.chat_id);
                        self.dead(&d, source, reason).await?;
                        self.report.unknown += 1;
                        return Ok(());
                    }
                }
            }
            Some(Standing::Retry(n)) => *n as u32,
            None => 0,
        };
        if !d.reachable {
            self.record(&d, source, NotificationStatus::Skipped, 0, None, Some("nobody to send it to: no WhatsApp number is linked".to_owned())).await?;
            self.report.skipped += 1;
            return Ok(());
        }
        loop {
            if tries > 0 {
                // Waiting before the next try; stopping now resumes at this message.
                tokio::select! {
                    () = self.shutdown.cancelled() => return Ok(()),
                    () = tokio::time::sleep(backoff(self.base, self.max, tries)) => {}
                }
            }
            if let Some(last) = self.last_to.get(&d.message.chat_id) {
                let wait = self.interval.saturating_sub(last.elapsed());
                if !wait.is_zero() {
                    tokio::time::sleep(wait).await;
                }
            }
            tries += 1;
            self.record(&d, source, NotificationStatus::Sending, tries as i32, None, None).await?;
            let m = &d.message;
            let result = self.waha.send_text(&m.session, &m.chat_id, &m.text, m.reply_to.as_deref()).await;
            self.last_to.insert(m.chat_id.clone(), Instant::now());
            match result {
                Ok(waha_id) => {
                    self.record(&d, source, NotificationStatus::Sent, tries as i32, waha_id, None).await?;
                    self.report.sent += 1;
                    tracing::info!(job = NAME, id = %d.message.id, tries, "WhatsApp message sent");
                    return Ok(());
                }
                Err(WahaError::Transient(e)) if tries < self.attempts => {
                    tracing::warn!(job = NAME, id = %d.message.id, tries, error = %e, "sending failed; will try again");
                    self.record(&d, source, NotificationStatus::Retrying, tries as i32, None, Some(e)).await?;
                    self.report.retries += 1;
                }
                Err(e) => {
                    let reason = match &e {
                        WahaError::Transient(e) => format!("gave up after {tries} tries: {e}"),
                        WahaError::Permanent(e) => format!("WAHA refused the message: {e}"),
                    };
                    tracing::error!(job = NAME, id = %d.message.id, tries, error = %reason, "message not sent");
                    self.record(&d, source, NotificationStatus::Failed, tries as i32, None, Some(reason.clone())).await?;
                    self.dead(&d, source, reason).await?;
                    self.report.failed += 1;
                    return Ok(());
                }
            }
        }
    }

    /// The messages an event on `topic` asks for.
    async fn deliveries(&mut self, msg: &BorrowedMessage<'_>) -> Result<Result<Vec<Delivery>, Box<DeadLetter>>, WhatsAppError> {
        if msg.topic() == self.outbound_topic {
            let message: WaOutbound = match decode(NAME, msg) {
                Ok(m) => m,
                Err(dead) => return Ok(Err(dead)),
            };
            if let Err(e) = check_schema_version(message.schema_version) {
                return Ok(Err(Box::new(arus_lakehouse::dead_letters::dead_letter(NAME, msg, DeadLetterKind::UnsupportedVersion, e.message, message.user_id))));
            }
            if message.id.trim().is_empty() || message.chat_id.trim().is_empty() || message.text.trim().is_empty() {
                let reason = "id, chat_id and text must not be empty".to_owned();
                return Ok(Err(Box::new(arus_lakehouse::dead_letters::dead_letter(NAME, msg, DeadLetterKind::Invalid, reason, message.user_id))));
            }
            return Ok(Ok(vec![Delivery { message, reachable: true }]));
        }
        let alert: Alert = match decode(NAME, msg) {
            Ok(a) => a,
            Err(dead) => return Ok(Err(dead)),
        };
        if let Err(e) = check_schema_version(alert.schema_version) {
            return Ok(Err(Box::new(arus_lakehouse::dead_letters::dead_letter(NAME, msg, DeadLetterKind::UnsupportedVersion, e.message, Some(alert.user_id)))));
        }
        self.directory.refresh().await?;
        let mut person = self.directory.person(&alert.user_id);
        if person.as_ref().is_none_or(|p| self.directory.chat_of(&p.user_id).is_none()) {
            // Linked a moment ago? Look again before telling nobody.
            self.directory.refresh_now().await?;
            person = self.directory.person(&alert.user_id);
        }
        let name = person.as_ref().map_or_else(|| alert.details.get("name").and_then(|n| n.as_str()).unwrap_or(&alert.user_id).to_owned(), |p| p.name.clone());
        let mut out = Vec::new();
        for &audience in audiences(alert.kind) {
            let chat = match (audience, &person) {
                (Audience::Partner, Some(p)) => self.directory.chat_of(&p.user_id),
                (Audience::Officer, Some(p)) => p.officer_id.as_deref().and_then(|o| self.directory.chat_of(o)),
                (_, None) => None,
            };
            let message = WaOutbound {
                schema_version: SCHEMA_VERSION,
                id: format!("alert:{}:{}", alert.id, audience.as_str()),
                session: String::new(),
                chat_id: chat.clone().unwrap_or_default(),
                text: alert_text(&alert, audience, &name),
                reply_to: None,
                user_id: Some(alert.user_id.clone()),
                audience,
                origin: "alert".to_owned(),
                created_at: alert.created_at,
            };
            out.push(Delivery { message, reachable: chat.is_some() });
        }
        Ok(Ok(out))
    }
}

/// The wait after `failed_tries` failed tries: `base`, doubling, at most `max`.
fn backoff(base: Duration, max: Duration, failed_tries: u32) -> Duration {
    let factor = 2u32.saturating_pow(failed_tries.saturating_sub(1).min(20));
    base.saturating_mul(factor).min(max)
}

/// Where a message came from.
struct Source {
    topic: String,
    partition: i32,
    offset: i64,
}

/// Who hears about an alert of `kind`.
fn audiences(kind: AlertKind) -> &'static [Audience] {
    match kind {
        AlertKind::TierUp => &[Audience::Officer, Audience::Partner],
        AlertKind::TierDown => &[Audience::Officer],
        AlertKind::Overspending | AlertKind::Anomaly | AlertKind::GoalReached | AlertKind::ForecastShortfall => &[Audience::Partner],
    }
}

/// An alert in the words of its audience (Indonesian: partners and
/// officers are in Indonesia; the alert's own title and message otherwise).
pub fn alert_text(alert: &Alert, audience: Audience, name: &str) -> String {
    let detail = |key: &str| alert.details.get(key).and_then(|v| v.as_str().map(str::to_owned).or_else(|| v.as_i64().map(|n| n.to_string())));
    let tier = detail("tier").map(|t| capitalise(&t)).unwrap_or_else(|| "baru".to_owned());
    match (alert.kind, audience) {
        (AlertKind::TierUp, Audience::Officer) if tier == "Gold" => {
            format!("Halo, kabar baik! Mitra {name} baru saja naik ke Tier Gold. Beliau potensial untuk top-up plafon. Hubungi segera?")
        }
        (AlertKind::TierUp, Audience::Officer) => format!("Halo, kabar baik! Mitra {name} baru saja naik ke Tier {tier}. Terus dampingi ya."),
        (AlertKind::TierUp, Audience::Partner) => format!("Selamat {name}! Status Anda naik ke {tier}. Terus bayar angsuran tepat waktu ya!"),
        (AlertKind::TierDown, _) => {
            let dpd = detail("dpd").filter(|d| d != "0").map(|d| format!(" (telat {d} hari)")).unwrap_or_default();
            format!("Perhatian: Mitra {name} turun ke Tier {tier}{dpd}. Mohon segera dikunjungi.")
        }
        _ if alert.message.trim().is_empty() => alert.title.clone(),
        _ => format!("{}\n{}", alert.title, alert.message),
    }
}

fn capitalise(word: &str) -> String {
    let lower = word.to_lowercase();
    let mut chars = lower.chars();
    chars.next().map(|c| c.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

impl InOrder for Notifier {
    async fn resume_points(&mut self) -> Result<HashMap<(String, i32), i64>, WhatsAppError> {
        self.recorded_points().await
    }

    /// Sends what `msg` asks for; an unreadable message is a dead letter,
    /// recorded so the resume point moves past it.
    async fn handle(&mut self, msg: &BorrowedMessage<'_>) -> Result<(), WhatsAppError> {
        let source = Source { topic: msg.topic().to_owned(), partition: msg.partition(), offset: msg.offset() };
        self.report.consumed += 1;
        match self.deliveries(msg).await? {
            Ok(list) => {
                for d in list {
                    self.deliver(d, &source).await?;
                }
            }
            Err(letter) => {
                tracing::warn!(job = NAME, partition = source.partition, offset = source.offset, error = %letter.error, "dead letter");
                self.producer.send_json(&self.dlq_topic, letter.user_id.as_deref().unwrap_or(""), &letter).await?;
                self.report.dead_letters += 1;
                let placeholder = Delivery {
                    message: WaOutbound {
                        schema_version: SCHEMA_VERSION,
                        id: letter.id.clone(),
                        session: String::new(),
                        chat_id: String::new(),
                        text: String::new(),
                        reply_to: None,
                        user_id: letter.user_id.clone(),
                        audience: Audience::Partner,
                        origin: "unreadable".to_owned(),
                        created_at: Utc::now(),
                    },
                    reachable: false,
                };
                self.record(&placeholder, &source, NotificationStatus::Failed, 0, None, Some(letter.error.clone())).await?;
            }
        }
        Ok(())
    }
}

/// Runs the notifier until `shutdown`.
pub async fn run(config: &Config, shutdown: CancellationToken) -> Result<NotifierReport, WhatsAppError> {
    let mut notifier = Notifier::open(config, shutdown.clone()).await?;
    let topics = [notifier.outbound_topic.as_str(), notifier.alert_topic.as_str()];
    let consumer = Kafka::new(config)?.consumer(&config.group(NAME), &topics, config.consumer_mode)?;
    tracing::info!(job = NAME, waha = %config.waha_url, "notifier started");
    consume_in_order(&mut notifier, &consumer, config.kafka_resume_rewind, &shutdown).await?;
    tracing::info!(job = NAME, report = ?notifier.report, "notifier stopped");
    Ok(notifier.report)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: &str, status: NotificationStatus, attempts: i32) -> NotificationRecord {
        NotificationRecord {
            id: id.into(),
            chat_id: Some("62812@c.us".into()),
            user_id: None,
            audience: "partner".into(),
            origin: "reply".into(),
            text: "x".into(),
            status,
            attempts,
            waha_message_id: None,
            error: None,
            source_topic: "t".into(),
            source_partition: 0,
            source_offset: 0,
            created_at: Utc::now(),
            finished_at: Utc::now(),
        }
    }

    #[test]
    fn what_was_under_way_is_never_sent_twice() {
        use NotificationStatus::*;
        let rows = vec![
            row("sent", Sending, 1),
            row("sent", Sent, 1),
            row("refused-once", Sending, 1),
            row("refused-once", Retrying, 1),
            row("cut-off", Sending, 1),
            row("cut-off", Retrying, 1),
            row("cut-off", Sending, 2),
            row("nobody", Skipped, 0),
        ];
        let s = standings(&rows);
        assert_eq!(s["sent"], Standing::Final);
        assert_eq!(s["nobody"], Standing::Final);
        assert_eq!(s["refused-once"], Standing::Retry(1));
        assert!(matches!(s["cut-off"], Standing::Ambiguous { tries: 2, .. }), "{:?}", s["cut-off"]);
    }

    #[test]
    fn a_rise_to_gold_reads_like_the_brief() {
        let mut details = serde_json::Map::new();
        details.insert("tier".into(), "GOLD".into());
        let alert = Alert {
            schema_version: 1,
            id: "a1".into(),
            user_id: "u1".into(),
            kind: AlertKind::TierUp,
            severity: arus_schemas::Severity::Info,
            subject_id: None,
            title: "Tier up".into(),
            message: String::new(),
            created_at: Utc::now(),
            details,
        };
        assert_eq!(alert_text(&alert, Audience::Officer, "Ibu Rini"), "Halo, kabar baik! Mitra Ibu Rini baru saja naik ke Tier Gold. Beliau potensial untuk top-up plafon. Hubungi segera?");
        assert!(alert_text(&alert, Audience::Partner, "Ibu Rini").starts_with("Selamat Ibu Rini! Status Anda naik ke Gold."));
        assert_eq!(audiences(AlertKind::TierDown), &[Audience::Officer]);
    }

    #[test]
    fn tries_wait_longer_each_time_up_to_the_cap() {
        let (base, max) = (Duration::from_millis(100), Duration::from_millis(350));
        let waits: Vec<u128> = (1..=4).map(|t| backoff(base, max, t).as_millis()).collect();
        assert_eq!(waits, vec![100, 200, 350, 350]);
    }
}
