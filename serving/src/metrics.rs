//! `/metrics` in the Prometheus text format. Every crate records through
//! the `metrics` facade (requests here, rows written and consumer lag in
//! the lakehouse, dead letters in the jobs); this module installs the one
//! process-wide recorder and renders it.

use std::sync::OnceLock;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use warp::{Filter, Rejection, Reply};

/// Latency buckets (seconds) of the request histogram: fine below 100 ms,
/// where the API's targets are.
const LATENCY_BUCKETS: &[f64] = &[0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

/// The process's recorder, installed on first use.
pub fn handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let builder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("duration_seconds".into()), LATENCY_BUCKETS)
            .expect("the bucket list is not empty");
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        if metrics::set_global_recorder(recorder).is_err() {
            tracing::warn!("a metrics recorder was already installed; /metrics shows only what this one records");
        }
        describe();
        handle
    })
}

fn describe() {
    metrics::describe_counter!("arus_http_requests_total", "HTTP requests by method, route template and status");
    metrics::describe_histogram!("arus_http_request_duration_seconds", metrics::Unit::Seconds, "HTTP request latency");
    metrics::describe_counter!("arus_rows_written_total", "rows committed to Delta, by table and job");
    metrics::describe_counter!("arus_delta_commits_total", "Delta commits, by table and job");
    metrics::describe_counter!("arus_dead_letters_total", "messages sent to the dead-letter topic, by job and kind");
    metrics::describe_gauge!("arus_kafka_consumer_lag", "messages behind the partition end, by consumer group, topic and partition");
    metrics::describe_counter!("arus_logins_total", "login attempts by outcome");
    metrics::describe_gauge!("arus_lake_files", "data files of a table's latest version (set by the upkeep round)");
    metrics::describe_gauge!("arus_lake_small_files", "data files under 8 MiB, by table");
    metrics::describe_gauge!("arus_lake_max_files_per_partition", "the most files one partition of a table holds (1 after optimize)");
    metrics::describe_gauge!("arus_lake_bytes", "bytes of a table's data files");
    metrics::describe_gauge!("arus_lake_rows", "rows of a table's latest version");
    metrics::describe_counter!("arus_lake_vacuumed_files_total", "files vacuum deleted, by table");
    metrics::describe_counter!("arus_audit_failures_total", "audit records that could not be published");
    metrics::describe_gauge!("arus_job_ready", "1 while a job of this process is positioned and its last commit succeeded, else 0");
    metrics::describe_gauge!("arus_job_last_commit_timestamp_seconds", "when a job last committed to Delta (Unix seconds); freshness is now minus this");
}

pub fn routes() -> impl Filter<Extract = (impl Reply,), Error = Rejection> + Clone {
    warp::path("metrics").and(warp::path::end()).and(warp::get()).map(|| {
        let handle = handle();
        handle.run_upkeep();
        warp::reply::with_header(handle.render(), "content-type", "text/plain; version=0.0.4; charset=utf-8")
    })
}
