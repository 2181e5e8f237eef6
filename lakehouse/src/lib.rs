//! Kafka log and Delta tables of arus: the one Kafka client wrapper
//! ([`kafka`]), the table catalogue ([`catalogue`]), the exactly-once writer
//! every job commits through ([`writer`]), and the DataFusion session that
//! reads the tables at their latest version ([`query`]).

pub mod catalogue;
pub mod dead_letters;
pub mod health;
pub mod kafka;
pub mod maintenance;
pub mod models;
pub mod offsets;
pub mod query;
pub mod state;
pub mod storage;
pub mod writer;

pub use catalogue::Lake;
pub use kafka::{Consumer, Kafka, KafkaClientError, Producer};
pub use query::LakeSession;
pub use state::AppendLog;
pub use offsets::{plan_resume, ResumePlan};
pub use writer::{app_id, ExactlyOnceWriter, Flushed, StoredPositions, UpdateSpec, WriterSettings};

/// Something went wrong between a job and the lake.
#[derive(Debug, thiserror::Error)]
pub enum LakeError {
    #[error("invalid lake URI {uri}: {reason}")]
    BadUri { uri: String, reason: String },
    #[error("cannot prepare {path}: {source}")]
    Io { path: std::path::PathBuf, source: std::io::Error },
    #[error("table {table}: schema cannot be expressed in Delta: {reason}")]
    Schema { table: &'static str, reason: String },
    #[error("table {table}: rows do not fit the table schema: {reason}")]
    Rows { table: &'static str, reason: String },
    #[error("delta: {source}")]
    Delta {
        #[from]
        source: deltalake::DeltaTableError,
    },
    #[error("query: {source}")]
    Query {
        #[from]
        source: datafusion::error::DataFusionError,
    },
    #[error("arrow: {source}")]
    Arrow {
        #[from]
        source: arrow::error::ArrowError,
    },
    /// Another writer committed to `table` since this one loaded it.
    #[error("table {table} was changed by another writer; reload and retry")]
    Conflict { table: &'static str },
    /// The offsets stored in the Delta log were written against another Kafka
    /// cluster, or the broker lost its data: continuing would skip messages.
    #[error(
        "stored offsets of job {job} do not match the Kafka cluster: {detail}. \
         Set ARUS_KAFKA_OFFSET_MISMATCH=reprocess to read the affected partitions from the beginning \
         (idempotency keys keep rows from doubling), or point ARUS_KAFKA_BROKERS at the original cluster"
    )]
    InconsistentStoredOffsets { job: String, detail: String },
}
