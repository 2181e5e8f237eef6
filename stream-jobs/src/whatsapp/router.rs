//! `wa-router`: reads each WhatsApp message (`arus.wa.inbound.v1`), finds
//! the person behind the number, works out what they ask
//! ([`arus_ingest::whatsapp::intent`]) and does it:
//! - a transaction (`jual bakso 300rb`) → `TxnRaw` (source `whatsapp`) and
//!   a reply with today's cash flow;
//! - a question (`saldo`, `laporan minggu ini`, `status` — the tier of the
//!   lender's customer the number is linked to —, `budget`,
//!   `target`, `bantuan`) → the figures from `transactions`;
//! - a correction → `CategoryFeedback` (`ubah kategori terakhir jadi …`) or a
//!   reversal, a new row with the opposite amount (`hapus terakhir`): never
//!   an edit in place;
//! - a photo → fetched from WAHA, stored, queued for the `ocr` job with
//!   `confirm_first`; the `ocr` job sends what it read with `Balas YA
//!   untuk simpan`, and `YA` (or `TIDAK`) here books (or declines) it;
//! - an unknown number → how to get linked; anything not understood → help.
//!
//! Every message gets an answer on `arus.wa.outbound.v1` (the notifier
//! sends it); what cannot be processed (a file WAHA could not give, a type
//! arus does not read, an invalid amount, an internal failure) also goes
//! to the DLQ with the reason.
//!
//! **Exactly once.** Every effect is keyed by the WhatsApp message id: the
//! transaction's idempotency key `wa:{message_id}`, the feedback id, the
//! photo's id (UUIDv5 of the message id), the reply `reply:{message_id}`.
//! Each handled message is a row of `whatsapp_messages` with its topic
//! position, written after its effects; on start the router resumes after
//! the last row of each partition, and a message handled again after a
//! crash repeats the same ids, which `enrich` and the notifier drop.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use arus_ingest::photos::{media_path, ConfirmError, Confirmation, PhotoTransaction, Photos};
use arus_ingest::whatsapp::intent::{self, Day, Intent, Unclear};
use arus_ingest::whatsapp::reply::{self, Flow};
use arus_ingest::whatsapp::Waha;
use arus_lakehouse::dead_letters::decode;
use arus_lakehouse::kafka::{BorrowedMessage, Message};
use arus_lakehouse::{AppendLog, Kafka, Lake, Producer};
use arus_schemas::events::{check_schema_version, DeadLetterKind};
use arus_schemas::media::{MediaKind, MediaStatus, MediaUpload};
use arus_schemas::whatsapp::{Audience, WaInbound, WaMessageRecord, WaOutbound};
use arus_schemas::{categories, tables, topics, CategoryFeedback, CategorySource, Config, DeadLetter, Lang, TxnRaw, TxnSource, SCHEMA_VERSION};
use arus_schemas::plans::{Budget, Goal, GoalCounts, PlanChange, PlanEvent};
use chrono::{Datelike, Utc};
use datafusion::prelude::col;
use tokio_util::sync::CancellationToken;

use super::facts::{days_of, start_of, top_spending, Facts, Pending};
use super::people::{Directory, Person};
use super::{consume_in_order, InOrder, WhatsAppError};

pub const NAME: &str = "wa-router";

/// Photos are named by the message that brought them.
const PHOTO_NAMESPACE: uuid::Uuid = uuid::Uuid::from_u128(0x5b0e_61d4_2c8a_4e0f_b7a3_91c2_d4e8_0f17);

/// How long a published transaction counts as possibly unwritten: enrich
/// writes within `batch_max_latency_ms`; one still missing after this was
/// refused (its dead letter says why).
const PENDING_FOR: Duration = Duration::from_secs(600);

/// Image types the OCR reads.
const PHOTO_TYPES: &[&str] = &["image/jpeg", "image/jpg", "image/png", "image/webp"];

/// What the router did, returned on shutdown.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct RouterReport {
    pub messages: u64,
    pub answered: u64,
    pub recorded: u64,
    pub photos: u64,
    pub dead_letters: u64,
    pub failed: u64,
}

/// How one message was handled.
struct Answer {
    intent: &'static str,
    lang: Lang,
    user_id: Option<String>,
    reply: String,
    origin: &'static str,
    /// Refused: a dead letter with this kind and reason (the reply tells the sender).
    dead: Option<(DeadLetterKind, String)>,
    effect_id: Option<String>,
}

impl Answer {
    fn new(intent: &'static str, lang: Lang, person: &Person, reply: String) -> Self {
        Answer { intent, lang, user_id: Some(person.user_id.clone()), reply, origin: "reply", dead: None, effect_id: None }
    }
}

pub struct Router {
    producer: Producer,
    txn_topic: String,
    feedback_topic: String,
    plan_topic: String,
    budget_thresholds: Vec<u32>,
    outbound_topic: String,
    dlq_topic: String,
    directory: Directory,
    facts: Facts,
    photos: Photos,
    waha: Waha,
    media_max: u64,
    log: AppendLog<WaMessageRecord>,
    /// Transactions published per person that `transactions` may not have yet.
    pending: HashMap<String, Vec<(Pending, Instant)>>,
    inbound_topic: String,
    report: RouterReport,
}

impl Router {
    pub async fn open(config: &Config) -> Result<Self, WhatsAppError> {
        let kafka = Kafka::new(config)?;
        let lake = Lake::new(config)?;
        Ok(Router {
            producer: kafka.producer()?,
            txn_topic: config.topic(topics::TXN_RAW),
            feedback_topic: config.topic(topics::TXN_FEEDBACK),
            plan_topic: config.topic(topics::PLAN),
            budget_thresholds: config.budget_thresholds().map_err(WhatsAppError::Setup)?,
            outbound_topic: config.topic(topics::WA_OUTBOUND),
            dlq_topic: config.topic(topics::DLQ),
            directory: Directory::open(&lake, Duration::from_secs(5)).await?,
            facts: Facts::open(&lake).await?,
            photos: Photos::open(config).await?,
            waha: Waha::from_config(config).map_err(WhatsAppError::Setup)?,
            media_max: config.wa_media_max_bytes.min(config.ocr_max_bytes),
            log: AppendLog::open(&lake, &tables::WHATSAPP_MESSAGES).await?,
            pending: HashMap::new(),
            inbound_topic: config.topic(topics::WA_INBOUND),
            report: RouterReport::default(),
        })
    }

    fn pending_of(&self, user_id: &str) -> Vec<Pending> {
        self.pending.get(user_id).map(|list| list.iter().map(|(p, _)| p.clone()).collect()).unwrap_or_default()
    }

    /// Keeps `pending` until the table has it; what is older than
    /// [`PENDING_FOR`] is forgotten (written long since, or refused by enrich
    /// with a dead letter), so the map holds only the last minutes.
    fn remember(&mut self, user_id: &str, pending: Pending) {
        self.pending.retain(|_, list| {
            list.retain(|(_, at)| at.elapsed() < PENDING_FOR);
            !list.is_empty()
        });
        self.pending.entry(user_id.to_owned()).or_default().push((pending, Instant::now()));
    }

    /// Waits (up to 5 s) until `transactions` has every transaction
    /// published for `user_id`, so "the last one" is the one they mean.
    async fn settle(&mut self, user_id: &str) -> Result<bool, WhatsAppError> {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let list = self.pending.remove(user_id).unwrap_or_default();
            let mut still = Vec::new();
            for (p, at) in list {
                if at.elapsed() < PENDING_FOR && !self.facts.has(user_id, &p.id).await? {
                    still.push((p, at));
                }
            }
            let settled = still.is_empty();
            if !settled {
                self.pending.insert(user_id.to_owned(), still);
            }
            if settled || Instant::now() >= deadline {
                return Ok(settled);
            }
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
    }

    /// `person`'s tier when they are a lender's customer with one.
    async fn tier_of(&self, person: &Person) -> Result<Option<&'static str>, WhatsAppError> {
        match &person.customer_id {
            Some(customer) => Ok(self.facts.tier(customer).await?),
            None => Ok(None),
        }
    }

    async fn today(&self, user_id: &str) -> Result<Flow, WhatsAppError> {
        Ok(self.facts.today(user_id, Utc::now(), &self.pending_of(user_id)).await?)
    }

    /// What `inbound` asks, done; the answer to send.
    async fn handle(&mut self, inbound: &WaInbound) -> Result<Answer, WhatsAppError> {
        let (intent, lang) = if inbound.has_media {
            (None, caption_lang(&inbound.body))
        } else {
            let (intent, lang) = intent::parse(&inbound.body);
            (Some(intent), lang)
        };
        let person = match &inbound.phone {
            Some(phone) => self.directory.find(phone).await?,
            None => None,
        };
        let Some(person) = person else {
            return Ok(Answer {
                intent: "onboarding",
                lang,
                user_id: None,
                reply: reply::onboarding(inbound.phone.as_deref(), lang),
                origin: "onboarding",
                dead: None,
                effect_id: None,
            });
        };
        let Some(intent) = intent else {
            return self.photo(inbound, &person, lang).await;
        };
        let name = person.name.clone();
        let user = person.user_id.clone();
        Ok(match intent {
            Intent::Record(entry) => return self.record(inbound, &person, entry, lang).await,
            Intent::Balance => {
                let (total, count) = self.facts.balance(&user, &self.pending_of(&user)).await?;
                Answer::new("balance", lang, &person, reply::balance(&name, total, count, lang))
            }
            Intent::Report(period) => {
                let (from, to) = days_of(period, Utc::now());
                let (flow, spending) = self.facts.flow(&user, start_of(from), start_of(to + chrono::Duration::days(1)), &self.pending_of(&user)).await?;
                let top = top_spending(&spending, 3, lang);
                Answer::new("report", lang, &person, reply::report(&name, period, from, to, flow, &top, lang))
            }
            // A tier when the person is a lender's customer with one.
            Intent::Status => {
                let tier = self.tier_of(&person).await?;
                Answer::new("status", lang, &person, reply::status(&name, tier, lang))
            }
            Intent::Budget => {
                let lines = self.budget_lines(&person, lang).await?;
                Answer::new("budget", lang, &person, reply::budgets(&name, &lines, lang))
            }
            Intent::Goal => {
                let mut lines = Vec::new();
                for goal in self.facts.goals(&user).await? {
                    lines.push(self.goal_line(&goal).await?);
                }
                lines.sort_by_key(|g| g.deadline);
                Answer::new("goal", lang, &person, reply::goals(&name, &lines, lang))
            }
            Intent::SetBudget { category, amount } => return self.set_budget(inbound, &person, &category, amount, lang).await,
            Intent::SetGoal { name: goal, amount, by } => return self.set_goal(inbound, &person, &goal, amount, by, lang).await,
            Intent::Help => Answer::new("help", lang, &person, reply::help(lang)),
            Intent::Greeting => Answer::new("greeting", lang, &person, reply::greeting(&name, lang)),
            Intent::Confirm => return self.confirm(&person, lang, true).await,
            Intent::Decline => return self.confirm(&person, lang, false).await,
            Intent::SetLastCategory(wanted) => return self.set_category(inbound, &person, &wanted, lang).await,
            Intent::UndoLast => return self.undo(inbound, &person, lang).await,
            Intent::Unclear(why) => {
                let what = if why == Unclear::Unknown { "unknown" } else { "unclear" };
                Answer::new(what, lang, &person, reply::unclear(&why, lang))
            }
        })
    }

    async fn record(&mut self, inbound: &WaInbound, person: &Person, entry: intent::Entry, lang: Lang) -> Result<Answer, WhatsAppError> {
        let now = Utc::now();
        // A phone's clock may run ahead; never book later than received.
        let at = inbound.sent_at.min(inbound.received_at);
        let occurred_at = match entry.day {
            Day::Today => at,
            Day::Yesterday => at - chrono::Duration::days(1),
        };
        let raw = TxnRaw {
            schema_version: SCHEMA_VERSION,
            user_id: person.user_id.clone(),
            idempotency_key: format!("wa:{}", inbound.message_id),
            source: TxnSource::Whatsapp,
            account_id: None,
            occurred_at,
            amount: entry.amount,
            currency: "IDR".to_owned(),
            description: entry.description.clone(),
            counterparty: entry.counterparty.clone(),
            media_ref: None,
            category_id: None,
            reverses: None,
            captured_at: inbound.received_at,
        };
        if let Err(errors) = raw.validate(now) {
            let said = errors.iter().map(|e| arus_schemas::i18n::message(e, lang)).collect::<Vec<_>>().join("; ");
            let mut answer = Answer::new("record", lang, person, said);
            answer.dead = Some((DeadLetterKind::Invalid, errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")));
            return Ok(answer);
        }
        self.producer.send_json(&self.txn_topic, &raw.user_id, &raw).await?;
        let id = raw.transaction_id();
        self.remember(&person.user_id, Pending { id: id.clone(), amount: raw.amount, occurred_at, reversal: false });
        let today = self.today(&person.user_id).await?;
        let tier = self.tier_of(person).await?;
        let text = reply::recorded(&person.name, &entry.description, entry.amount, entry.day == Day::Yesterday, today, tier, lang);
        let mut answer = Answer::new("record", lang, person, text);
        answer.effect_id = Some(id);
        Ok(answer)
    }

    async fn photo(&mut self, inbound: &WaInbound, person: &Person, lang: Lang) -> Result<Answer, WhatsAppError> {
        let refuse = |code: &str, reason: String, text: String| {
            let mut answer = Answer::new("photo", lang, person, text);
            answer.dead = Some((DeadLetterKind::Invalid, format!("{code}: {reason}")));
            answer
        };
        let media = inbound.media.clone().unwrap_or(arus_schemas::whatsapp::WaMedia { url: None, mimetype: None, filename: None, error: None });
        let Some(url) = media.url.clone().filter(|u| !u.trim().is_empty()) else {
            let why = media.error.clone().unwrap_or_else(|| "WAHA did not download the file (hasMedia without media.url)".to_owned());
            return Ok(refuse("no_media", why, reply::photo_failed("no_media", lang)));
        };
        let mime = media.mimetype.clone().unwrap_or_default().to_ascii_lowercase();
        let mime = mime.split(';').next().unwrap_or("").trim().to_owned();
        if !mime.is_empty() && !PHOTO_TYPES.contains(&mime.as_str()) {
            let name = media.filename.clone().unwrap_or_else(|| "ini".to_owned());
            return Ok(refuse("unsupported_type", format!("{mime} is not a photo type arus reads ({})", PHOTO_TYPES.join(", ")), reply::unsupported_file(&name, &mime, lang)));
        }
        let media_id = uuid::Uuid::new_v5(&PHOTO_NAMESPACE, inbound.message_id.as_bytes()).to_string();
        // Handled before (a crash between the photo and the log row): no second photo.
        if let Some(record) = self.photos.latest(&media_id).await? {
            if record.status == MediaStatus::PendingOcr {
                self.photos.requeue(&record, true).await?;
            }
            let mut answer = Answer::new("photo", lang, person, reply::photo_received(lang));
            answer.effect_id = Some(media_id);
            return Ok(answer);
        }
        let downloaded = match self.waha.download(&url, self.media_max).await {
            Ok(d) => d,
            Err(e) => return Ok(refuse(e.code, e.reason.clone(), reply::photo_failed(if e.code == "too_large" { "too_large" } else { "download_failed" }, lang))),
        };
        let now = Utc::now();
        let path = media_path(&media_id, now);
        let bytes = downloaded.bytes;
        let stored = self.photos.media().save(&path, futures::stream::iter([Ok::<_, std::convert::Infallible>(bytes)]), self.media_max).await?;
        let upload = MediaUpload {
            schema_version: SCHEMA_VERSION,
            media_id: media_id.clone(),
            user_id: person.user_id.clone(),
            account_id: None,
            kind: kind_from_caption(&inbound.body),
            media_path: path,
            file_name: media.filename.clone(),
            size_bytes: stored.size,
            sha256: stored.sha256,
            source: "whatsapp".to_owned(),
            reply_to: Some(inbound.chat_id.clone()),
            confirm_first: true,
            uploaded_at: now,
        };
        self.photos.submit(&upload).await?;
        let mut answer = Answer::new("photo", lang, person, reply::photo_received(lang));
        answer.effect_id = Some(media_id);
        Ok(answer)
    }

    /// `YA` (book) or `TIDAK` (decline) for the photo waiting for an answer.
    async fn confirm(&mut self, person: &Person, lang: Lang, yes: bool) -> Result<Answer, WhatsAppError> {
        let intent = if yes { "confirm" } else { "decline" };
        let Some(record) = self.photos.awaiting(&person.user_id, "whatsapp").await? else {
            return Ok(Answer::new(intent, lang, person, reply::nothing_to_confirm(lang)));
        };
        if record.status == MediaStatus::PendingOcr {
            return Ok(Answer::new(intent, lang, person, reply::photo_received(lang)));
        }
        if !yes {
            let text = match self.photos.decline(&record, &person.user_id).await {
                Ok(_) => reply::photo_declined(lang),
                Err(ConfirmError::Photo(e)) => return Err(e.into()),
                Err(_) => reply::nothing_to_confirm(lang),
            };
            let mut answer = Answer::new(intent, lang, person, text);
            answer.effect_id = Some(record.media_id);
            return Ok(answer);
        }
        let booked = match self.photos.confirm(&record, &Confirmation::default(), &person.user_id).await {
            Ok(booked) => booked,
            Err(ConfirmError::Photo(e)) => return Err(e.into()),
            Err(ConfirmError::Conflict(_)) => return Ok(Answer::new(intent, lang, person, reply::nothing_to_confirm(lang))),
            // Nothing (valid) was read: the prompt already asked them to type it.
            Err(ConfirmError::Invalid(_)) => return Ok(Answer::new(intent, lang, person, reply::photo_read(&record, lang))),
        };
        let transactions: Vec<PhotoTransaction> = booked.transactions.as_deref().and_then(|t| serde_json::from_str(t).ok()).unwrap_or_default();
        for t in &transactions {
            self.remember(&person.user_id, Pending { id: t.id.clone(), amount: t.amount, occurred_at: t.occurred_at, reversal: false });
        }
        let today = self.today(&person.user_id).await?;
        let tier = self.tier_of(person).await?;
        let mut answer = Answer::new(intent, lang, person, reply::photo_booked(&person.name, &transactions, today, tier, lang));
        answer.effect_id = Some(booked.media_id);
        Ok(answer)
    }

    async fn set_category(&mut self, inbound: &WaInbound, person: &Person, wanted: &str, lang: Lang) -> Result<Answer, WhatsAppError> {
        let Some(category) = categories::find(wanted) else {
            let names: Vec<&str> = categories::DEFAULT.iter().map(|c| if lang == Lang::Id { c.name_id } else { c.name_en }).collect();
            return Ok(Answer::new("set_category", lang, person, reply::unknown_category(wanted, &names, lang)));
        };
        if !self.settle(&person.user_id).await? {
            return Ok(Answer::new("set_category", lang, person, reply::try_again_shortly(lang)));
        }
        let Some(last) = self.facts.last(&person.user_id, Utc::now()).await? else {
            return Ok(Answer::new("set_category", lang, person, reply::nothing_recorded(lang)));
        };
        let feedback = CategoryFeedback {
            schema_version: SCHEMA_VERSION,
            id: format!("wa:{}", inbound.message_id),
            user_id: person.user_id.clone(),
            transaction_id: last.id.clone(),
            month: last.month.clone(),
            category_id: category.id.to_owned(),
            description: last.description.clone(),
            counterparty: last.counterparty.clone(),
            amount: last.amount,
            previous_category_id: last.category_id.clone(),
            previous_source: last.category_source.as_deref().and_then(|s| CategorySource::ALL.into_iter().find(|c| c.as_str() == s)),
            actor_id: person.user_id.clone(),
            channel: "whatsapp".to_owned(),
            at: Utc::now(),
        };
        self.producer.send_json(&self.feedback_topic, &person.user_id, &feedback).await?;
        let name = if lang == Lang::Id { category.name_id } else { category.name_en };
        let mut answer = Answer::new("set_category", lang, person, reply::category_changed(&last.description, last.amount, name, lang));
        answer.effect_id = Some(last.id);
        Ok(answer)
    }

    /// This month's spending per category (WIB), counting what is pending.
    async fn month_spending(&self, user_id: &str) -> Result<HashMap<String, i64>, WhatsAppError> {
        let (from, to) = days_of(intent::Period::Month, Utc::now());
        Ok(self.facts.flow(user_id, start_of(from), start_of(to + chrono::Duration::days(1)), &self.pending_of(user_id)).await?.1)
    }

    fn category_name(id: &str, lang: Lang) -> String {
        categories::by_id(id).map_or_else(|| id.to_owned(), |c| if lang == Lang::Id { c.name_id.to_owned() } else { c.name_en.to_owned() })
    }

    async fn budget_lines(&self, person: &Person, lang: Lang) -> Result<Vec<reply::BudgetLine>, WhatsAppError> {
        let spending = self.month_spending(&person.user_id).await?;
        let mut budgets = self.facts.budgets(&person.user_id).await?;
        budgets.sort_by(|a, b| a.category_id.cmp(&b.category_id));
        // Limits without rollover here: the month's spending is what a reply can count quickly.
        Ok(budgets
            .iter()
            .map(|b| reply::BudgetLine { category: Self::category_name(&b.category_id, lang), limit: b.amount, spent: spending.get(&b.category_id).copied().unwrap_or(0) })
            .collect())
    }

    async fn goal_line(&self, goal: &arus_schemas::plans::GoalRow) -> Result<reply::GoalLine, WhatsAppError> {
        let saved = self.facts.saved(goal).await?;
        let today = Utc::now().with_timezone(&arus_schemas::events::jakarta()).date_naive();
        let p = arus_ml::budget::goal_progress(saved, goal.target, goal.start, goal.deadline, today);
        Ok(reply::GoalLine { name: goal.name.clone(), target: goal.target, saved, deadline: goal.deadline, needed_per_month: p.needed_per_month, on_track: p.on_track })
    }

    async fn publish_plan(&self, inbound: &WaInbound, person: &Person, change: PlanChange) -> Result<(), WhatsAppError> {
        let event = PlanEvent {
            schema_version: SCHEMA_VERSION,
            id: format!("wa:{}", inbound.message_id),
            user_id: person.user_id.clone(),
            actor_id: person.user_id.clone(),
            channel: "whatsapp".into(),
            at: Utc::now(),
            change,
        };
        self.producer.send_json(&self.plan_topic, &person.user_id, &event).await?;
        Ok(())
    }

    /// `budget makan 1,5jt`: this month on, a monthly budget for the category.
    async fn set_budget(&mut self, inbound: &WaInbound, person: &Person, wanted: &str, amount: i64, lang: Lang) -> Result<Answer, WhatsAppError> {
        let Some(category) = categories::find(wanted) else {
            let names: Vec<&str> = categories::DEFAULT.iter().filter(|c| c.group != categories::CategoryGroup::Income).map(|c| if lang == Lang::Id { c.name_id } else { c.name_en }).collect();
            return Ok(Answer::new("set_budget", lang, person, reply::unknown_category(wanted, &names, lang)));
        };
        let name = Self::category_name(category.id, lang);
        let budget = Budget { category_id: category.id.to_owned(), amount, rollover: false, from_month: Utc::now().with_timezone(&arus_schemas::events::jakarta()).format("%Y-%m").to_string() };
        let mut errors = Vec::new();
        budget.validate(&mut errors);
        if errors.iter().any(|e| e.code == "income_category") {
            return Ok(Answer::new("set_budget", lang, person, reply::budget_for_income(&name, lang)));
        }
        if let Some(e) = errors.first() {
            let mut answer = Answer::new("set_budget", lang, person, reply::unclear(&Unclear::BadAmount { text: arus_ingest::money::format_rupiah(amount), reason: e.message.clone() }, lang));
            answer.dead = Some((DeadLetterKind::Invalid, e.to_string()));
            return Ok(answer);
        }
        self.publish_plan(inbound, person, PlanChange::BudgetSet(budget)).await?;
        let spent = self.month_spending(&person.user_id).await?.get(category.id).copied().unwrap_or(0);
        let line = reply::BudgetLine { category: name, limit: amount, spent };
        let mut answer = Answer::new("set_budget", lang, person, reply::budget_set(&person.name, &line, &self.budget_thresholds, lang));
        answer.effect_id = Some(arus_schemas::plans::budget_id(&person.user_id, category.id));
        Ok(answer)
    }

    /// `target dana darurat 5jt Desember`: a net-savings goal from today to
    /// the end of that month (this year, or next when the month has passed).
    async fn set_goal(&mut self, inbound: &WaInbound, person: &Person, goal: &str, amount: i64, by: Option<(u32, Option<i32>)>, lang: Lang) -> Result<Answer, WhatsAppError> {
        let Some((month, year)) = by else {
            return Ok(Answer::new("set_goal", lang, person, reply::goal_needs_month(goal, lang)));
        };
        let today = Utc::now().with_timezone(&arus_schemas::events::jakarta()).date_naive();
        let year = year.unwrap_or(if month >= today.month() { today.year() } else { today.year() + 1 });
        let deadline = chrono::NaiveDate::from_ymd_opt(year, month, 1)
            .and_then(|d| arus_ml::budget::days_in(&arus_ml::budget::month_of(d)).and_then(|n| d.with_day(n)))
            .unwrap_or(today);
        let mut chars = goal.chars();
        let name: String = chars.next().map(|c| c.to_uppercase().chain(chars).collect()).unwrap_or_default();
        let plan = Goal { goal_id: arus_schemas::plans::slug(&name), name, target: amount, deadline, start: today, counts: GoalCounts::NetSavings };
        let mut errors = Vec::new();
        plan.validate(&mut errors);
        if let Some(e) = errors.first() {
            let mut answer = Answer::new("set_goal", lang, person, reply::goal_needs_month(goal, lang));
            answer.dead = Some((DeadLetterKind::Invalid, e.to_string()));
            return Ok(answer);
        }
        let row_key = arus_schemas::plans::goal_key(&person.user_id, &plan.goal_id);
        let p = arus_ml::budget::goal_progress(0, plan.target, plan.start, plan.deadline, today);
        let line = reply::GoalLine { name: plan.name.clone(), target: plan.target, saved: 0, deadline, needed_per_month: p.needed_per_month, on_track: p.on_track };
        self.publish_plan(inbound, person, PlanChange::GoalSet(plan)).await?;
        let mut answer = Answer::new("set_goal", lang, person, reply::goal_set(&person.name, &line, lang));
        answer.effect_id = Some(row_key);
        Ok(answer)
    }

    async fn undo(&mut self, inbound: &WaInbound, person: &Person, lang: Lang) -> Result<Answer, WhatsAppError> {
        if !self.settle(&person.user_id).await? {
            return Ok(Answer::new("undo", lang, person, reply::try_again_shortly(lang)));
        }
        let Some(last) = self.facts.last(&person.user_id, Utc::now()).await? else {
            return Ok(Answer::new("undo", lang, person, reply::nothing_recorded(lang)));
        };
        let prefix = if lang == Lang::Id { "Batal" } else { "Cancelled" };
        let raw = TxnRaw {
            schema_version: SCHEMA_VERSION,
            user_id: person.user_id.clone(),
            idempotency_key: format!("wa:{}", inbound.message_id),
            source: TxnSource::Whatsapp,
            account_id: last.account_id.clone(),
            // On the day of what it cancels, so that day's figures come out right.
            occurred_at: last.occurred_at,
            amount: -last.amount,
            currency: "IDR".to_owned(),
            description: format!("{prefix}: {}", last.description).chars().take(1000).collect(),
            counterparty: last.counterparty.clone(),
            media_ref: None,
            category_id: last.category_id.clone(),
            reverses: Some(last.id.clone()),
            captured_at: inbound.received_at,
        };
        self.producer.send_json(&self.txn_topic, &raw.user_id, &raw).await?;
        let id = raw.transaction_id();
        self.remember(&person.user_id, Pending { id: id.clone(), amount: raw.amount, occurred_at: raw.occurred_at, reversal: true });
        let mut answer = Answer::new("undo", lang, person, reply::reversed(&last.description, last.amount, lang));
        answer.effect_id = Some(id);
        Ok(answer)
    }

    /// Handles one message from the topic: the answer sent, dead letters,
    /// the log row. Fails only when the broker or the lake stays away.
    async fn process(&mut self, msg: &BorrowedMessage<'_>) -> Result<(), WhatsAppError> {
        let started = Instant::now();
        let at = (msg.partition(), msg.offset());
        self.report.messages += 1;
        let inbound = match decode_inbound(msg) {
            Ok(inbound) => inbound,
            Err(letter) => {
                tracing::warn!(job = NAME, partition = at.0, offset = at.1, error = %letter.error, "dead letter");
                self.producer.send_json(&self.dlq_topic, "", &letter).await?;
                self.report.dead_letters += 1;
                let row = WaMessageRecord {
                    message_id: letter.id.clone(),
                    chat_id: String::new(),
                    phone: None,
                    user_id: None,
                    intent: "unreadable".to_owned(),
                    lang: "id".to_owned(),
                    body: String::new(),
                    reply_id: None,
                    outcome: "dead_letter".to_owned(),
                    error: Some(letter.error.clone()),
                    effect_id: None,
                    source_partition: at.0,
                    source_offset: at.1,
                    sent_at: Utc::now(),
                    handled_at: Utc::now(),
                    took_ms: started.elapsed().as_millis() as i64,
                };
                self.log.append_retrying(&[row]).await?;
                return Ok(());
            }
        };
        let mut attempt = 0u64;
        let (answer, failure) = loop {
            match self.handle(&inbound).await {
                Ok(answer) => break (answer, None),
                Err(e) if attempt < 3 => {
                    attempt += 1;
                    tracing::warn!(job = NAME, message_id = %inbound.message_id, error = %e, attempt, "handling the message failed; trying again");
                    tokio::time::sleep(Duration::from_millis(300 * attempt)).await;
                }
                Err(e) => {
                    let lang = intent::parse(&inbound.body).1;
                    let answer = Answer { intent: "failed", lang, user_id: None, reply: reply::sorry(lang), origin: "reply", dead: Some((DeadLetterKind::Invalid, format!("arus could not handle the message: {e}"))), effect_id: None };
                    break (answer, Some(e.to_string()));
                }
            }
        };
        if let Some((kind, reason)) = &answer.dead {
            let letter = dead_letter(msg, &inbound, *kind, reason.clone(), answer.user_id.clone());
            self.producer.send_json(&self.dlq_topic, answer.user_id.as_deref().unwrap_or(""), &letter).await?;
            self.report.dead_letters += 1;
        }
        let reply_id = format!("reply:{}", inbound.message_id);
        let outbound = WaOutbound {
            schema_version: SCHEMA_VERSION,
            id: reply_id.clone(),
            session: inbound.session.clone(),
            chat_id: inbound.chat_id.clone(),
            text: answer.reply.clone(),
            reply_to: Some(inbound.message_id.clone()),
            user_id: answer.user_id.clone(),
            audience: Audience::Partner,
            origin: answer.origin.to_owned(),
            created_at: Utc::now(),
        };
        self.producer.send_json(&self.outbound_topic, &inbound.chat_id, &outbound).await?;
        self.report.answered += 1;
        match (answer.intent, &failure) {
            (_, Some(_)) => self.report.failed += 1,
            ("record", None) if answer.dead.is_none() => self.report.recorded += 1,
            ("photo", None) if answer.dead.is_none() => self.report.photos += 1,
            _ => {}
        }
        let outcome = if failure.is_some() { "failed" } else if answer.dead.is_some() { "dead_letter" } else { "answered" };
        let row = WaMessageRecord {
            message_id: inbound.message_id.clone(),
            chat_id: inbound.chat_id.clone(),
            phone: inbound.phone.clone(),
            user_id: answer.user_id.clone(),
            intent: answer.intent.to_owned(),
            lang: answer.lang.tag().to_owned(),
            body: inbound.body.chars().take(4000).collect(),
            reply_id: Some(reply_id),
            outcome: outcome.to_owned(),
            error: failure.or(answer.dead.map(|(_, r)| r)),
            effect_id: answer.effect_id,
            source_partition: at.0,
            source_offset: at.1,
            sent_at: inbound.sent_at,
            handled_at: Utc::now(),
            took_ms: started.elapsed().as_millis() as i64,
        };
        tracing::info!(job = NAME, message_id = %row.message_id, intent = %row.intent, outcome = %row.outcome, took_ms = row.took_ms, "message handled");
        self.log.append_retrying(&[row]).await?;
        Ok(())
    }
}

/// The language of a photo's caption (Indonesian when it says nothing).
fn caption_lang(caption: &str) -> Lang {
    let words = caption.to_lowercase();
    if ["receipt", "my ", "the ", "photo", "please"].iter().any(|w| words.contains(w)) { Lang::En } else { Lang::Id }
}

/// What the caption says the photo is.
fn kind_from_caption(caption: &str) -> MediaKind {
    let words = caption.to_lowercase();
    if ["buku", "kas", "catatan", "cash book", "ledger"].iter().any(|w| words.contains(w)) {
        MediaKind::Cashbook
    } else if ["struk", "nota", "kwitansi", "bon", "receipt"].iter().any(|w| words.contains(w)) {
        MediaKind::Receipt
    } else {
        MediaKind::Auto
    }
}

fn decode_inbound(msg: &BorrowedMessage<'_>) -> Result<WaInbound, Box<DeadLetter>> {
    let inbound: WaInbound = decode(NAME, msg)?;
    if let Err(e) = check_schema_version(inbound.schema_version) {
        return Err(Box::new(arus_lakehouse::dead_letters::dead_letter(NAME, msg, DeadLetterKind::UnsupportedVersion, e.message, None)));
    }
    if inbound.message_id.trim().is_empty() || inbound.chat_id.trim().is_empty() {
        return Err(Box::new(arus_lakehouse::dead_letters::dead_letter(NAME, msg, DeadLetterKind::Invalid, "message_id and chat_id must not be empty".to_owned(), None)));
    }
    Ok(inbound)
}

fn dead_letter(msg: &BorrowedMessage<'_>, inbound: &WaInbound, kind: DeadLetterKind, reason: String, user_id: Option<String>) -> DeadLetter {
    let mut letter = arus_lakehouse::dead_letters::dead_letter(NAME, msg, kind, reason, user_id);
    // One dead letter per message, however often it is handled.
    letter.id = format!("whatsapp/{}", inbound.message_id);
    letter
}

impl InOrder for Router {
    /// The offset after the last message logged on each partition.
    async fn resume_points(&mut self) -> Result<HashMap<(String, i32), i64>, WhatsAppError> {
        self.log.refresh().await?;
        let mut next = HashMap::new();
        for r in self.log.rows_where(col("source_offset").gt_eq(datafusion::prelude::lit(0i64))).await? {
            let at = next.entry((self.inbound_topic.clone(), r.source_partition)).or_insert(r.source_offset + 1);
            *at = (*at).max(r.source_offset + 1);
        }
        Ok(next)
    }

    async fn handle(&mut self, msg: &BorrowedMessage<'_>) -> Result<(), WhatsAppError> {
        self.process(msg).await
    }
}

/// Runs the router until `shutdown`.
pub async fn run(config: &Config, shutdown: CancellationToken) -> Result<RouterReport, WhatsAppError> {
    let mut router = Router::open(config).await?;
    let consumer = Kafka::new(config)?.consumer(&config.group(NAME), &[&router.inbound_topic], config.consumer_mode)?;
    tracing::info!(job = NAME, topic = %router.inbound_topic, "WhatsApp router started");
    consume_in_order(&mut router, &consumer, config.kafka_resume_rewind, &shutdown).await?;
    tracing::info!(job = NAME, report = ?router.report, "WhatsApp router stopped");
    Ok(router.report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn captions_say_what_a_photo_is() {
        assert_eq!(kind_from_caption("ini buku kas hari ini"), MediaKind::Cashbook);
        assert_eq!(kind_from_caption("struk belanja"), MediaKind::Receipt);
        assert_eq!(kind_from_caption(""), MediaKind::Auto);
        assert_eq!(caption_lang("my receipt"), Lang::En);
        assert_eq!(caption_lang("struk"), Lang::Id);
    }
}
