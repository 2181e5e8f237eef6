//! Demo and synthetic data: `arus up --demo` loads a few households' and
//! warung owners' recent transactions; benchmarks and tests generate
//! `TxnRaw` events in bulk. The demo tenants also get a budget and a goal. Idempotency keys are deterministic, so loading
//! the demo twice adds nothing.

use anyhow::Result;
use arus_lakehouse::Producer;
use arus_schemas::plans::{Budget, Goal, GoalCounts, PlanChange, PlanEvent};
use arus_schemas::{topics, Config, TxnRaw, TxnSource, SCHEMA_VERSION};
use chrono::{DateTime, Duration, Utc};
use futures::stream::{self, StreamExt, TryStreamExt};

/// Demo tenants: `(user_id, what they do)`.
pub const DEMO_USERS: &[(&str, &str)] = &[
    ("demo-rini", "warung bakso"),
    ("demo-budi", "household, salaried"),
    ("demo-siti", "online seller"),
];

/// Registers the demo tenants (`{name}@demo.arus.id`) when they are not
/// yet, with a random password saved to `{data_dir}/demo-credentials.txt`
/// (mode 0600). Returns the lines of that file.
pub async fn ensure_demo_users(config: &Config) -> Result<Vec<String>> {
    use arus_serving::auth::{password, store::{AuthStore, NewUser}};
    use base64::Engine;
    let path = config.data_dir.join("demo-credentials.txt");
    let lake = arus_lakehouse::Lake::new(config)?;
    let store = AuthStore::open(&lake).await?;
    let mut lines = std::fs::read_to_string(&path).map(|t| t.lines().map(str::to_owned).collect()).unwrap_or_else(|_| Vec::new());
    for (user_id, what) in DEMO_USERS {
        if store.user(user_id).is_some() {
            continue;
        }
        let name = user_id.trim_start_matches("demo-");
        let email = format!("{name}@demo.arus.id");
        let secret = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(rand::random::<[u8; 12]>());
        let hash = password::hash(secret.clone()).await.map_err(anyhow::Error::msg)?;
        store
            .register(NewUser {
                user_id: Some((*user_id).to_owned()),
                email: Some(email.clone()),
                phone: None,
                display_name: format!("{name} ({what})"),
                password_hash: hash,
                role: arus_schemas::Role::User,
                officer_id: None,
                created_by: Some("demo".into()),
            })
            .await?;
        lines.push(format!("{email} {secret}"));
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&path)?;
    std::io::Write::write_all(&mut file, (lines.join("\n") + "\n").as_bytes())?;
    Ok(lines)
}

/// `(description, amount)` shapes of each demo tenant; negative is money out.
const RINI: &[(&str, i64)] = &[
    ("jual bakso 20 porsi", 300_000),
    ("jual es teh", 45_000),
    ("beli daging sapi pasar", -220_000),
    ("beli gas 3kg", -22_000),
    ("bayar listrik PLN", -150_000),
    ("QRIS MIE GACOAN", 38_000),
];
const BUDI: &[(&str, i64)] = &[
    ("GAJI PT MAJU JAYA", 6_500_000),
    ("KARTU DEBIT INDOMARET", -87_500),
    ("TOPUP GOPAY", -100_000),
    ("BPJS KESEHATAN", -150_000),
    ("TARIKAN ATM 21/11", -500_000),
    ("PLN PREPAID 5xxxx", -200_000),
];
const SITI: &[(&str, i64)] = &[
    ("SHOPEE PENCAIRAN DANA", 1_250_000),
    ("TOKOPEDIA PENCAIRAN", 780_000),
    ("TRSF E-BANKING DB 2111/FTSCY/WS95031 BUDI SANTOSO", -350_000),
    ("ongkos kirim JNE", -45_000),
    ("BIAYA ADM", -6_500),
];

/// The demo transactions: about 60 days of each tenant, ending at `now`.
pub fn demo_transactions(now: DateTime<Utc>) -> Vec<TxnRaw> {
    let mut out = Vec::new();
    for (u, (user, _)) in DEMO_USERS.iter().enumerate() {
        let shapes = [RINI, BUDI, SITI][u];
        for day in 0..60i64 {
            for (k, (description, amount)) in shapes.iter().enumerate() {
                // A deterministic, uneven rhythm: not every shape every day.
                if (day as usize * 7 + k * 3 + u) % 4 != 0 && amount.abs() < 1_000_000 {
                    continue;
                }
                if amount.abs() >= 1_000_000 && day % 30 != (u as i64 * 5) {
                    continue;
                }
                let occurred_at = now - Duration::days(day) - Duration::minutes((k as i64 * 97 + u as i64 * 13) % 600);
                let wobble = (day * 31 + k as i64 * 17) % 5 - 2; // -2..=2
                out.push(TxnRaw {
                    schema_version: SCHEMA_VERSION,
                    user_id: (*user).to_owned(),
                    idempotency_key: format!("demo-{day}-{k}"),
                    source: TxnSource::Manual,
                    account_id: None,
                    occurred_at,
                    amount: amount + amount / 20 * wobble,
                    currency: "IDR".into(),
                    description: (*description).to_owned(),
                    counterparty: None,
                    media_ref: None,
                    category_id: None,
                    reverses: None,
                    captured_at: now,
                });
            }
        }
    }
    out
}

/// The `i`-th synthetic event of a run tagged `run`: spread over `users`
/// tenants and the last year, unique per `(run, i)`.
pub fn synthetic(run: &str, i: u64, users: u64, now: DateTime<Utc>) -> TxnRaw {
    let user = i % users.max(1);
    let amount = ((i * 7919) % 2_000_000 + 1_000) as i64;
    TxnRaw {
        schema_version: SCHEMA_VERSION,
        user_id: format!("user-{user:05}"),
        idempotency_key: format!("{run}-{i}"),
        source: TxnSource::Csv,
        account_id: Some(format!("acct-{user:05}")),
        occurred_at: now - Duration::minutes((i % 525_600) as i64),
        amount: if i % 3 == 0 { amount } else { -amount },
        currency: "IDR".into(),
        description: format!("KARTU DEBIT INDOMARET {i}"),
        counterparty: None,
        media_ref: None,
        category_id: None,
        reverses: None,
        captured_at: now,
    }
}

/// Publishes `events` to the raw topic, up to 256 in flight, and waits for
/// every acknowledgement.
pub async fn publish(producer: &Producer, config: &Config, events: Vec<TxnRaw>) -> Result<usize> {
    let topic = config.topic(topics::TXN_RAW);
    let count = events.len();
    stream::iter(events)
        .map(|e| {
            let topic = topic.clone();
            async move { producer.send_json(&topic, &e.user_id, &e).await }
        })
        .buffer_unordered(256)
        .try_for_each(|_| async { Ok(()) })
        .await?;
    Ok(count)
}

/// The demo tenants' plans: a monthly food budget each and a savings goal
/// (ids fixed, so loading the demo again changes nothing).
pub fn demo_plans(now: DateTime<Utc>) -> Vec<PlanEvent> {
    let today = now.with_timezone(&arus_schemas::events::jakarta()).date_naive();
    let month = today.format("%Y-%m").to_string();
    let mut out = Vec::new();
    for (i, (user, _)) in DEMO_USERS.iter().enumerate() {
        let event = |what: &str, change: PlanChange| PlanEvent {
            schema_version: SCHEMA_VERSION,
            id: format!("demo:{what}:{user}"),
            user_id: (*user).to_owned(),
            actor_id: (*user).to_owned(),
            channel: "api".into(),
            at: now,
            change,
        };
        let category = ["raw_materials", "food_drink", "shipping"][i];
        out.push(event("budget", PlanChange::BudgetSet(Budget { category_id: category.into(), amount: [1_500_000, 1_200_000, 600_000][i], rollover: false, from_month: month.clone() })));
        let name = ["Gerobak baru", "Dana darurat", "Modal stok lebaran"][i];
        out.push(event(
            "goal",
            PlanChange::GoalSet(Goal {
                goal_id: arus_schemas::plans::slug(name),
                name: name.into(),
                target: [3_000_000, 10_000_000, 5_000_000][i],
                deadline: today + Duration::days(90),
                start: today - Duration::days(30),
                counts: GoalCounts::NetSavings,
            }),
        ));
    }
    out
}

/// Publishes `plans` to `arus.plan.v1` and waits for every acknowledgement.
pub async fn publish_plans(producer: &Producer, config: &Config, plans: &[PlanEvent]) -> Result<()> {
    let topic = config.topic(topics::PLAN);
    for p in plans {
        producer.send_json(&topic, &p.user_id, p).await?;
    }
    Ok(())
}
