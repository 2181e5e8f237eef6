//! Streaming jobs of arus. Each job consumes its topics and materialises
//! them into one Delta table exactly once through [`runner::run`], which owns the
//! consume → decide → commit loop; a job only says what each message becomes
//! ([`runner::Job::process`]).

pub mod accounts;
pub mod advice;
pub mod audit;
pub mod dlq;
pub mod enrich;
pub mod keyed;
pub mod lending;
pub mod plans;
pub mod replay;
pub mod runner;
pub mod totals;
pub mod whatsapp;

use arus_schemas::Config;
use keyed::{KeyedTable as _, TableJob};
use totals::Grain as _;
use tokio_util::sync::CancellationToken;

pub use runner::{JobError, JobReport};

/// Jobs `arus job <name>` can run.
pub const JOB_NAMES: &[&str] = &[
    enrich::NAME,
    dlq::NAME,
    accounts::NAME,
    audit::NAME,
    arus_ingest::import::JOB_NAME,
    arus_ingest::photos::JOB_NAME,
    whatsapp::router::NAME,
    whatsapp::notifier::NAME,
    lending::tables::Customers::NAME,
    lending::tables::Loans::NAME,
    lending::tables::Bills::NAME,
    lending::tables::Tasks::NAME,
    lending::tables::Participants::NAME,
    lending::tiering::NAME,
    plans::Budgets::NAME,
    plans::Goals::NAME,
    advice::overspending::NAME,
    advice::anomalies::NAME,
    advice::advisor::NAME,
    totals::Daily::NAME,
    totals::Monthly::NAME,
];

/// Runs the job called `name` until `shutdown` is cancelled, then commits
/// what it has and returns.
pub async fn run_named(name: &str, config: &Config, shutdown: CancellationToken) -> Result<JobReport, JobError> {
    match name {
        enrich::NAME => runner::run(enrich::Enrich::open(config, shutdown.clone()).await?, config, shutdown).await,
        dlq::NAME => runner::run(dlq::DeadLetterSink::new(config), config, shutdown).await,
        accounts::NAME => runner::run(accounts::Accounts::new(config), config, shutdown).await,
        audit::NAME => runner::run(audit::AuditTrail::new(config), config, shutdown).await,
        // Not a table materialiser: reads stored files and publishes their
        // rows (see arus_ingest::import).
        arus_ingest::import::JOB_NAME => {
            let r = arus_ingest::import::run_worker(config, shutdown).await?;
            Ok(JobReport { consumed: r.requests, rows: r.completed + r.failed, dead_letters: r.dead_letters, ..JobReport::default() })
        }
        // Reads receipt and cash-book photos and publishes their
        // transactions (see arus_ingest::photos).
        arus_ingest::photos::JOB_NAME => {
            let r = arus_ingest::photos::run_worker(config, shutdown).await?;
            Ok(JobReport { consumed: r.uploads, rows: r.parsed + r.needs_review + r.failed, dead_letters: r.dead_letters, ..JobReport::default() })
        }
        // Answers WhatsApp messages (see whatsapp::router).
        whatsapp::router::NAME => {
            let r = whatsapp::router::run(config, shutdown).await?;
            Ok(JobReport { consumed: r.messages, rows: r.answered, dead_letters: r.dead_letters, ..JobReport::default() })
        }
        // Sends replies and alerts through WAHA (see whatsapp::notifier).
        whatsapp::notifier::NAME => {
            let r = whatsapp::notifier::run(config, shutdown).await?;
            Ok(JobReport { consumed: r.consumed, rows: r.sent + r.failed + r.skipped + r.unknown, dead_letters: r.dead_letters, ..JobReport::default() })
        }
        lending::tables::Customers::NAME => runner::run(TableJob::<lending::tables::Customers>::default(), config, shutdown).await,
        lending::tables::Loans::NAME => runner::run(TableJob::<lending::tables::Loans>::default(), config, shutdown).await,
        lending::tables::Bills::NAME => runner::run(TableJob::<lending::tables::Bills>::default(), config, shutdown).await,
        lending::tables::Tasks::NAME => runner::run(TableJob::<lending::tables::Tasks>::default(), config, shutdown).await,
        lending::tables::Participants::NAME => runner::run(TableJob::<lending::tables::Participants>::default(), config, shutdown).await,
        lending::tiering::NAME => runner::run(lending::tiering::Tiering::open(config, shutdown.clone()).await?, config, shutdown).await,
        plans::Budgets::NAME => runner::run(TableJob::<plans::Budgets>::default(), config, shutdown).await,
        plans::Goals::NAME => runner::run(TableJob::<plans::Goals>::default(), config, shutdown).await,
        advice::overspending::NAME => runner::run(advice::overspending::Overspending::new(config)?, config, shutdown).await,
        advice::anomalies::NAME => runner::run(advice::anomalies::Anomalies::new(config), config, shutdown).await,
        // Scheduled, not a consumer: forecasts and insights once a day (see advice::advisor).
        advice::advisor::NAME => {
            let r = advice::advisor::run(config, shutdown).await?;
            Ok(JobReport { consumed: r.people, rows: r.forecast_rows + r.insights, emitted: r.alerts, ..JobReport::default() })
        }
        totals::Daily::NAME => runner::run(totals::DailyTotals::new(config), config, shutdown).await,
        totals::Monthly::NAME => runner::run(totals::MonthlyTotals::new(config), config, shutdown).await,
        other => Err(JobError::UnknownJob(other.to_owned())),
    }
}
