//! What the jobs of this process say about themselves, for `/readyz` and
//! `/metrics`: a job is ready once its partitions are positioned and while
//! its commits succeed. A job whose commits fail (an unwritable or full
//! lake, an unreachable store) keeps its place in the stream, commits no
//! offset, retries, and is not ready until a commit succeeds again.

use std::collections::BTreeMap;
use std::sync::{LazyLock, Mutex};

/// One job's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobState {
    /// Started, partitions not positioned yet.
    Starting,
    Ready,
    /// The last commit (or restore) failed, `failures` times in a row.
    Failing { failures: u32, reason: String },
}

static JOBS: LazyLock<Mutex<BTreeMap<String, JobState>>> = LazyLock::new(|| Mutex::new(BTreeMap::new()));

fn jobs() -> std::sync::MutexGuard<'static, BTreeMap<String, JobState>> {
    JOBS.lock().unwrap_or_else(|e| e.into_inner())
}

/// Records `job`'s state (and `arus_job_ready{job}`).
pub fn set(job: &str, state: JobState) {
    metrics::gauge!("arus_job_ready", "job" => job.to_owned()).set(if state == JobState::Ready { 1.0 } else { 0.0 });
    jobs().insert(job.to_owned(), state);
}

/// A successful commit: ready, and `arus_job_last_commit_timestamp_seconds`
/// (freshness is now minus this).
pub fn committed(job: &str) {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_secs_f64();
    metrics::gauge!("arus_job_last_commit_timestamp_seconds", "job" => job.to_owned()).set(now);
    set(job, JobState::Ready);
}

/// A job that stopped is no longer reported.
pub fn forget(job: &str) {
    jobs().remove(job);
}

/// Every job of this process and its state.
pub fn snapshot() -> Vec<(String, JobState)> {
    jobs().iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}
