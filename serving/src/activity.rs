//! What the officers' partner list shows of everyone's recent money: per
//! person, the last day with a transaction and the net of the last 30 days
//! and of the 30 before, from one read of `daily_totals`' last 60 days,
//! kept in memory and read again when the table has moved on.
//!
//! Why not a query per request: an officer's ~100 partners are scattered
//! over every row group of three month files (people are assigned to
//! officers at random), so each request decoded most of those files, ~80 ms
//! of CPU. The index costs that read once per change of the table, at most
//! every `partners_refresh_ms` (the figures may lag the table that long),
//! and a request a hash lookup per partner.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use datafusion::functions_aggregate::expr_fn::{max, sum};
use datafusion::logical_expr::{when, Expr};
use datafusion::prelude::{col, lit};
use serde::Deserialize;

use crate::api::collect_rows;
use crate::api::dashboard::{date32, frame, today};
use crate::error::ApiError;
use crate::rows::Scope;
use crate::State;

const TABLE: &str = "daily_totals";

/// One person's recent activity, as of [`Activity::today`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Recent {
    /// The last day of the 60 with a transaction; `None` when there is none.
    pub last: Option<NaiveDate>,
    /// Money in minus money out over the last 30 days (today included)…
    pub net_30d: i64,
    /// …and over the 30 days before them.
    pub net_previous_30d: i64,
}

#[derive(Debug, Deserialize)]
struct Row {
    user_id: String,
    last: Option<NaiveDate>,
    net_30d: Option<i64>,
    net_previous_30d: Option<i64>,
}

/// Everyone's [`Recent`] from one version of `daily_totals`.
#[derive(Debug)]
pub struct Activity {
    /// The day the windows end (WIB).
    pub today: NaiveDate,
    /// The version of `daily_totals` read (or an older one: the table may
    /// have moved on while it was read).
    version: Option<u64>,
    read_at: Instant,
    people: HashMap<String, Recent>,
}

impl Activity {
    /// `user_id`'s activity; people without a row in the 60 days have none.
    pub fn of(&self, user_id: &str) -> Recent {
        self.people.get(user_id).copied().unwrap_or_default()
    }

    /// Reads everyone's activity of the 60 days up to `today` at (at least)
    /// `version`.
    async fn read(state: &State, today: NaiveDate, version: Option<u64>) -> Result<Activity, ApiError> {
        let read_at = Instant::now();
        let from = today - chrono::Duration::days(59);
        let split = today - chrono::Duration::days(29);
        let unavailable = |e: datafusion::error::DataFusionError| ApiError::unavailable(TABLE, &e);
        // A day's net where `days` holds, else nothing.
        let net_where = |days: Expr| when(days, col("net")).otherwise(lit(0i64));
        // Per day first: a day is active when its transactions, summed over
        // categories, are more than none (a reversal takes one back).
        let frame = frame(state, &Scope::All, from, today)
            .await?
            .aggregate(vec![col("user_id"), col("day")], vec![sum(col("income") - col("expense")).alias("net"), sum(col("count")).alias("count")])
            .and_then(|f| {
                f.aggregate(
                    vec![col("user_id")],
                    vec![
                        max(when(col("count").gt(lit(0i64)), col("day")).end()?).alias("last"),
                        sum(net_where(col("day").gt_eq(date32(split)))?).alias("net_30d"),
                        sum(net_where(col("day").lt(date32(split)))?).alias("net_previous_30d"),
                    ],
                )
            })
            .map_err(unavailable)?;
        let rows: Vec<Row> = collect_rows(frame, TABLE).await?;
        let people = rows
            .into_iter()
            .map(|r| (r.user_id, Recent { last: r.last, net_30d: r.net_30d.unwrap_or(0), net_previous_30d: r.net_previous_30d.unwrap_or(0) }))
            .collect();
        Ok(Activity { today, version, read_at, people })
    }
}

/// The [`Activity`] the partner list reads, shared by every request.
pub struct ActivityIndex {
    refresh: Duration,
    latest: RwLock<Option<Arc<Activity>>>,
    /// Held while the table is read: one read at a time.
    reading: Arc<tokio::sync::Mutex<()>>,
}

impl ActivityIndex {
    pub fn new(refresh: Duration) -> Self {
        ActivityIndex { refresh, latest: RwLock::new(None), reading: Arc::new(tokio::sync::Mutex::new(())) }
    }

    fn latest(&self) -> Option<Arc<Activity>> {
        self.latest.read().expect("activity lock").clone()
    }

    fn keep(&self, activity: Activity) -> Arc<Activity> {
        let activity = Arc::new(activity);
        *self.latest.write().expect("activity lock") = Some(Arc::clone(&activity));
        activity
    }

    /// Today's activity. The first request of a day reads the table (others
    /// arriving meanwhile wait for that read); later ones get what is in
    /// memory. When the table has changed since, and what is in memory is
    /// older than the refresh interval, it is read again in the background
    /// while requests go on getting the previous figures.
    pub async fn current(state: &State) -> Result<Arc<Activity>, ApiError> {
        let index = &state.activity;
        let today = today();
        let version = state.tables.version(TABLE).await?;
        if let Some(seen) = index.latest().filter(|a| a.today == today) {
            if seen.version != version && seen.read_at.elapsed() >= index.refresh {
                if let Ok(reading) = Arc::clone(&index.reading).try_lock_owned() {
                    let state = Arc::clone(state);
                    tokio::spawn(async move {
                        let _reading = reading;
                        match Activity::read(&state, today, version).await {
                            Ok(activity) => {
                                state.activity.keep(activity);
                            }
                            Err(e) => tracing::warn!(error = %e.message, "partners' activity not read again; the previous figures stay"),
                        }
                    });
                }
            }
            return Ok(seen);
        }
        let _reading = index.reading.lock().await;
        if let Some(seen) = index.latest().filter(|a| a.today == today) {
            return Ok(seen);
        }
        Ok(index.keep(Activity::read(state, today, version).await?))
    }
}
