//! The one configuration struct of arus. Every setting has a default that
//! works on one machine; a TOML file (`--config`) overrides the defaults and
//! `ARUS_*` environment variables override the file. Field names are the
//! environment variable names without the `ARUS_` prefix, lower-cased.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};

/// A value that must never be printed or logged. It serialises and debugs as
/// `********`; read it with [`Secret::expose`].
#[derive(Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
    pub fn is_set(&self) -> bool {
        !self.0.is_empty()
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.is_set() { "********" } else { "" })
    }
}

impl Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(if self.is_set() { "********" } else { "" })
    }
}

/// What a job does when the offsets stored in Delta do not belong to the
/// Kafka cluster it is connected to (another cluster id, or an offset beyond
/// the partition's end, as after a broker reset).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OffsetMismatchPolicy {
    /// Refuse to start and say what differs (default): nothing is skipped silently.
    Fail,
    /// Forget the stored offsets of the affected partitions and read them from
    /// the beginning; idempotency keys keep rows from doubling.
    Reprocess,
}

/// How a job's consumer gets its partitions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConsumerMode {
    /// Join the job's consumer group; run more processes to scale out.
    Group,
    /// Read every partition of the topic in this process, positioned directly
    /// from the Delta log, without group coordination. For a single instance
    /// per job (as `arus up` runs them) and for brokers whose group
    /// coordinator does not recover from killed members (tansu 0.6).
    Assign,
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    /// Human-readable, for a terminal.
    Pretty,
    /// One JSON object per line, for production log pipelines.
    Json,
}

/// Effective configuration of an arus process.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Config {
    /// Root of local state: the lake (unless `lake_uri` says otherwise), the
    /// embedded broker's storage, uploaded media.
    pub data_dir: PathBuf,
    /// Where the Delta tables live: a path, `file:///…` or `s3://bucket/prefix`.
    /// Empty means `{data_dir}/lake`.
    pub lake_uri: String,
    /// S3-compatible endpoint for `s3://` lake and media URIs
    /// (`http://minio:9000`); empty means AWS S3. An `http://` endpoint
    /// allows plain HTTP.
    pub s3_endpoint: String,
    /// The bucket's region (MinIO accepts any).
    pub s3_region: String,
    /// S3 credentials; both empty means the AWS default chain
    /// (`AWS_ACCESS_KEY_ID`…, an instance or pod role).
    pub s3_access_key_id: String,
    pub s3_secret_access_key: Secret,
    pub s3_secret_access_key_file: String,

    /// `host:port[,host:port…]` of a Kafka cluster. Empty means `arus up`
    /// starts an embedded broker (tansu) under `data_dir`.
    pub kafka_brokers: String,
    /// Partitions of every topic `arus topics create` makes.
    pub kafka_partitions: i32,
    pub kafka_replication_factor: i32,
    /// `plaintext`, `ssl`, `sasl_plaintext` or `sasl_ssl`.
    pub kafka_security_protocol: String,
    /// `PLAIN`, `SCRAM-SHA-256`, `SCRAM-SHA-512`; empty when SASL is not used.
    pub kafka_sasl_mechanism: String,
    pub kafka_sasl_username: String,
    pub kafka_sasl_password: Secret,
    /// Prepended to every topic name, for deployments sharing a cluster.
    pub topic_prefix: String,
    /// Consumer groups are `{group_prefix}.{job}`.
    pub group_prefix: String,
    pub kafka_offset_mismatch: OffsetMismatchPolicy,
    /// `group` or `assign`; `arus up` with the embedded broker always uses `assign`.
    pub consumer_mode: ConsumerMode,
    /// A job resumes this many offsets before its stored position and skips
    /// what it already wrote. Kafka answers a fetch inside a record batch
    /// with that batch; tansu 0.6's memory engine returns the next one, which
    /// would skip the rest of the batch. Must cover the largest batch a
    /// producer writes (arus's producer: 10,000 records). Also how far a
    /// reported partition end may fall short of a stored offset before it
    /// counts as a reset (tansu 0.6 reports the start of the last batch).
    pub kafka_resume_rewind: i64,

    /// Port of the embedded broker `arus up` starts when `kafka_brokers` is empty.
    pub embedded_broker_port: u16,
    /// `sqlite` (kept across restarts) or `memory` storage for the embedded broker.
    pub embedded_broker_storage: String,
    /// The tansu executable; found on `PATH` or in `~/.cargo/bin` when not absolute.
    pub tansu_bin: String,

    /// A job commits to Delta when this many rows are buffered…
    pub batch_max_rows: usize,
    /// …or when the oldest buffered message has waited this long.
    pub batch_max_latency_ms: u64,
    /// A Delta checkpoint is written every this many commits of a table.
    pub checkpoint_interval: u64,

    /// Address of the HTTP API.
    pub http_addr: SocketAddr,
    /// Where `arus job` answers `/metrics`, `/healthz` and `/readyz`
    /// (`0.0.0.0:9464` in a container); empty means no listener.
    pub job_http_addr: String,
    /// Address of the Postgres wire protocol (read-only SQL for psql,
    /// JDBC, ODBC); off when unset.
    pub pg_addr: Option<SocketAddr>,
    /// The serving layer reloads a table's Delta log at most this often.
    pub table_refresh_ms: u64,
    /// The officers' partner list reads everyone's last 60 days of
    /// `daily_totals` again, once the table has changed, at most this often
    /// (its figures lag the table up to this long).
    pub partners_refresh_ms: u64,

    /// Browser origins allowed to call the API (comma-separated, `*` for
    /// any); empty disables CORS.
    pub cors_origins: String,
    /// Largest request body the API reads, in bytes.
    pub http_max_body_bytes: u64,

    /// HS256 key signing access tokens (at least 32 bytes). Leave empty and
    /// set `jwt_secret_file`, or an Ed25519 key pair, instead; with none of
    /// them a random key is generated once under `{data_dir}/secrets/`.
    pub jwt_secret: Secret,
    /// File holding the HS256 key.
    pub jwt_secret_file: String,
    /// PEM (PKCS#8) Ed25519 private key: access tokens are signed with EdDSA.
    pub jwt_private_key_file: String,
    /// PEM Ed25519 public key matching `jwt_private_key_file`.
    pub jwt_public_key_file: String,
    /// `iss` and `aud` of access tokens.
    pub jwt_issuer: String,
    /// Lifetime of an access token.
    pub access_token_ttl_s: u64,
    /// Lifetime of a refresh token (each use replaces it with a new one).
    pub refresh_token_ttl_s: u64,
    /// Failed logins (per account or per address) after which each further
    /// attempt is slowed down…
    pub login_slowdown_after: u32,
    /// …and after which the account or address is refused with 429…
    pub login_lockout_after: u32,
    /// …for this long. Failures older than this are forgotten.
    pub login_lockout_s: u64,
    /// Failures from one address before it is refused (covers many accounts).
    pub login_address_lockout_after: u32,
    /// How often the serving layer re-reads the `users` and
    /// `refresh_tokens` tables for changes made by other instances.
    pub auth_reload_ms: u64,
    /// How often `arus up` rewrites partitions streaming left in several
    /// files into one, Z-ordered for per-person reads (`arus lake
    /// optimize`); 0 turns it off. A busy job commits a small file every
    /// batch (≤ 1 s), so the current month gathers hundreds of files in an
    /// hour: keep this in minutes. Each round also vacuums (see
    /// `vacuum_retention_hours`) and checkpoints every table.
    pub optimize_interval_s: u64,
    /// How long files stay after no current version reads them (replaced
    /// by an optimize or a merge, or written without a commit by a job that
    /// died) before `arus lake vacuum` and the upkeep round delete them. A
    /// query still on an older version cannot find its files after that.
    pub vacuum_retention_hours: u64,

    /// Where uploaded files (statements, photos) are kept. Empty means
    /// `{data_dir}/media`.
    pub media_dir: PathBuf,
    /// Uploaded files in object storage instead: `s3://bucket/prefix`
    /// (with the `s3_*` settings), or a path. Empty means `media_dir`.
    pub media_uri: String,
    /// Largest statement file an upload or `arus import` accepts, in bytes.
    pub import_max_bytes: u64,
    /// Largest size a spreadsheet may unpack to (all its zip parts), in bytes:
    /// the guard against zip bombs.
    pub import_max_unpacked_bytes: u64,

    /// A predicted category at or above this confidence is `ai_predicted`;
    /// below it the transaction is `needs_review` (0 to 1).
    pub category_review_threshold: f64,
    /// How often the enrich job looks for a newer classifier in the
    /// `models` table (`arus ml train` stores one), in milliseconds.
    pub model_poll_ms: u64,

    /// Largest photo an upload accepts, in bytes.
    pub ocr_max_bytes: u64,
    /// Largest photo read, in pixels (width × height); larger ones are
    /// refused from their header, before decoding.
    pub ocr_max_pixels: u64,
    /// Photos read side by side by the `ocr` job (one Tesseract each).
    pub ocr_workers: usize,
    /// `lib` (Tesseract's library) or `cli` (the `tesseract` program).
    pub ocr_engine: String,
    /// Tesseract language models, `+`-joined.
    pub ocr_languages: String,
    /// Fields a booking rests on (total, date; a cash book's entries) at or
    /// above this confidence count at once; below it the photo waits for
    /// the person (`needs_review`).
    pub ocr_review_threshold: f64,
    /// A second reader for poorly read photos: empty (off), `ollama` or `gemini`.
    pub ocr_vision: String,
    /// The vision model's base URL (Ollama: `http://127.0.0.1:11434`;
    /// Gemini: `https://generativelanguage.googleapis.com`).
    pub ocr_vision_url: String,
    pub ocr_vision_model: String,
    /// Gemini's API key (or `ocr_vision_api_key_file`).
    pub ocr_vision_api_key: Secret,
    pub ocr_vision_api_key_file: String,
    /// Ask the vision model when Tesseract's total or date is below this confidence.
    pub ocr_vision_below: f64,
    pub ocr_vision_timeout_ms: u64,

    /// Base URL of the WAHA gateway (sending, and fetching the files of
    /// received messages).
    pub waha_url: String,
    /// WAHA's API key, sent as `X-Api-Key` (or `waha_api_key_file`).
    pub waha_api_key: Secret,
    pub waha_api_key_file: String,
    /// The WAHA session replies and alerts leave through.
    pub waha_session: String,
    /// Key of the HMAC WAHA signs webhooks with (`X-Webhook-Hmac`, SHA-512);
    /// when set (or `waha_webhook_hmac_key_file`), unsigned and wrongly signed
    /// webhooks are refused with 401.
    pub waha_webhook_hmac_key: Secret,
    pub waha_webhook_hmac_key_file: String,
    /// Largest file of a received message fetched from WAHA, in bytes.
    pub wa_media_max_bytes: u64,
    /// Message ids the webhook remembers to drop WAHA's retried deliveries.
    pub wa_dedup_capacity: usize,
    /// Tries at sending one message before it goes to the DLQ…
    pub wa_send_attempts: u32,
    /// …waiting this long after the first failure, doubling each time…
    pub wa_retry_base_ms: u64,
    /// …up to this long between two tries.
    pub wa_retry_max_ms: u64,
    /// Least time between two messages to one chat (WhatsApp bans numbers
    /// that send bursts).
    pub wa_chat_interval_ms: u64,
    /// Timeout of one request to WAHA.
    pub wa_http_timeout_ms: u64,

    /// `POST /api/v1/sql`: at most this many rows in an answer…
    pub sql_max_rows: usize,
    /// …within this time…
    pub sql_timeout_ms: u64,
    /// …and this much memory for the query's operators.
    pub sql_memory_mb: usize,

    /// Percentages of a month's budget at which the person is alerted, once
    /// each per budget and month (`80,100`).
    pub budget_alert_thresholds: String,
    /// The anomaly baseline: the last this many amounts per person and category…
    pub anomaly_window: usize,
    /// …and nothing is flagged before this many (the stated minimum history)…
    pub anomaly_min_history: usize,
    /// …flagged at this robust z-score (median/MAD).
    pub anomaly_threshold: f64,
    /// Hour of the day (WIB) the advisor job makes forecasts and insights.
    pub advisor_hour: u32,
    /// Days ahead the advisor forecasts cash flow.
    pub advisor_horizon_days: usize,
    /// Language model that may reword insights: empty (off), `ollama`
    /// (`/api/chat`) or `openai` (any OpenAI-compatible `/v1/chat/completions`).
    pub llm: String,
    pub llm_url: String,
    pub llm_model: String,
    /// Bearer key of an OpenAI-compatible endpoint (environment or file only).
    pub llm_api_key: Secret,
    pub llm_api_key_file: String,
    /// A reply slower than this is not waited for: the template text is used.
    pub llm_timeout_ms: u64,

    pub log_format: LogFormat,
    /// `tracing` filter, e.g. `info,arus_lakehouse=debug`.
    pub log: String,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            data_dir: PathBuf::from("./data"),
            lake_uri: String::new(),
            s3_endpoint: String::new(),
            s3_region: "us-east-1".into(),
            s3_access_key_id: String::new(),
            s3_secret_access_key: Secret::default(),
            s3_secret_access_key_file: String::new(),
            kafka_brokers: String::new(),
            kafka_partitions: 6,
            kafka_replication_factor: 1,
            kafka_security_protocol: "plaintext".into(),
            kafka_sasl_mechanism: String::new(),
            kafka_sasl_username: String::new(),
            kafka_sasl_password: Secret::default(),
            topic_prefix: String::new(),
            group_prefix: "arus".into(),
            kafka_offset_mismatch: OffsetMismatchPolicy::Fail,
            consumer_mode: ConsumerMode::Group,
            kafka_resume_rewind: 10_000,
            embedded_broker_port: 19092,
            embedded_broker_storage: "sqlite".into(),
            tansu_bin: "tansu".into(),
            batch_max_rows: 20_000,
            batch_max_latency_ms: 400,
            checkpoint_interval: 20,
            http_addr: SocketAddr::from(([127, 0, 0, 1], 8080)),
            job_http_addr: String::new(),
            pg_addr: None,
            table_refresh_ms: 100,
            partners_refresh_ms: 10_000,
            cors_origins: String::new(),
            http_max_body_bytes: 64 * 1024,
            jwt_secret: Secret::default(),
            jwt_secret_file: String::new(),
            jwt_private_key_file: String::new(),
            jwt_public_key_file: String::new(),
            jwt_issuer: "arus".into(),
            access_token_ttl_s: 900,
            refresh_token_ttl_s: 30 * 24 * 3600,
            login_slowdown_after: 3,
            login_lockout_after: 10,
            login_lockout_s: 900,
            login_address_lockout_after: 50,
            auth_reload_ms: 2000,
            optimize_interval_s: 300,
            vacuum_retention_hours: 168,
            media_dir: PathBuf::new(),
            media_uri: String::new(),
            import_max_bytes: 50 << 20,
            import_max_unpacked_bytes: 1 << 30,
            category_review_threshold: 0.7,
            model_poll_ms: 10_000,
            ocr_max_bytes: 15 << 20,
            ocr_max_pixels: 50_000_000,
            ocr_workers: 1,
            ocr_engine: "lib".into(),
            ocr_languages: "ind+eng".into(),
            ocr_review_threshold: 0.7,
            ocr_vision: String::new(),
            ocr_vision_url: String::new(),
            ocr_vision_model: String::new(),
            ocr_vision_api_key: Secret::default(),
            ocr_vision_api_key_file: String::new(),
            ocr_vision_below: 0.7,
            ocr_vision_timeout_ms: 60_000,
            waha_url: "http://127.0.0.1:3000".into(),
            waha_api_key: Secret::default(),
            waha_api_key_file: String::new(),
            waha_session: "default".into(),
            waha_webhook_hmac_key: Secret::default(),
            waha_webhook_hmac_key_file: String::new(),
            wa_media_max_bytes: 15 << 20,
            wa_dedup_capacity: 100_000,
            wa_send_attempts: 6,
            wa_retry_base_ms: 500,
            wa_retry_max_ms: 30_000,
            wa_chat_interval_ms: 1_000,
            wa_http_timeout_ms: 15_000,
            sql_max_rows: 10_000,
            sql_timeout_ms: 10_000,
            sql_memory_mb: 512,
            budget_alert_thresholds: "80,100".into(),
            anomaly_window: 60,
            anomaly_min_history: 8,
            anomaly_threshold: 5.0,
            advisor_hour: 5,
            advisor_horizon_days: 30,
            llm: String::new(),
            llm_url: String::new(),
            llm_model: String::new(),
            llm_api_key: Secret::default(),
            llm_api_key_file: String::new(),
            llm_timeout_ms: 20_000,
            log_format: LogFormat::Pretty,
            log: "info,buoyant_kernel=warn,deltalake_core=warn,datafusion=warn".into(),
        }
    }
}

/// Configuration could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("config file {path} does not exist")]
    MissingFile { path: PathBuf },
    #[error("invalid configuration: {source}")]
    Invalid {
        #[from]
        source: Box<figment::Error>,
    },
    #[error("invalid configuration: {0}")]
    Value(String),
}

impl Config {
    /// Defaults, then the TOML file at `file` (if given), then `ARUS_*`
    /// environment variables. Returns the configuration and the names of
    /// `ARUS_*` variables that match no setting (likely typos).
    pub fn load(file: Option<&Path>) -> Result<(Config, Vec<String>), ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if let Some(path) = file {
            if !path.exists() {
                return Err(ConfigError::MissingFile { path: path.to_owned() });
            }
            figment = figment.merge(Toml::file(path));
        }
        figment = figment.merge(Env::prefixed("ARUS_"));
        let config: Config = figment.extract().map_err(Box::new)?;
        config.check()?;
        Ok((config, unknown_env_settings(std::env::vars().map(|(k, _)| k))))
    }

    fn check(&self) -> Result<(), ConfigError> {
        let fail = |m: &str| Err(ConfigError::Value(m.to_owned()));
        if self.kafka_partitions < 1 {
            return fail("kafka_partitions must be at least 1");
        }
        if self.kafka_resume_rewind < 0 {
            return fail("kafka_resume_rewind must not be negative");
        }
        if self.batch_max_rows == 0 {
            return fail("batch_max_rows must be at least 1");
        }
        if self.checkpoint_interval == 0 {
            return fail("checkpoint_interval must be at least 1");
        }
        if self.access_token_ttl_s == 0 || self.refresh_token_ttl_s <= self.access_token_ttl_s {
            return fail("access_token_ttl_s must be positive and shorter than refresh_token_ttl_s");
        }
        if self.login_slowdown_after == 0 || self.login_lockout_after <= self.login_slowdown_after {
            return fail("login_lockout_after must be greater than login_slowdown_after (both at least 1)");
        }
        if self.jwt_private_key_file.is_empty() != self.jwt_public_key_file.is_empty() {
            return fail("jwt_private_key_file and jwt_public_key_file are set together");
        }
        if self.import_max_bytes == 0 || self.import_max_unpacked_bytes == 0 {
            return fail("import_max_bytes and import_max_unpacked_bytes must be positive");
        }
        if !(0.0..=1.0).contains(&self.category_review_threshold) {
            return fail("category_review_threshold must be between 0 and 1");
        }
        if self.model_poll_ms == 0 {
            return fail("model_poll_ms must be positive");
        }
        if self.vacuum_retention_hours == 0 {
            return fail("vacuum_retention_hours must be at least 1 (files a running query reads would be deleted under it)");
        }
        if self.ocr_max_bytes == 0 || self.ocr_max_pixels == 0 || self.ocr_workers == 0 {
            return fail("ocr_max_bytes, ocr_max_pixels and ocr_workers must be positive");
        }
        if !matches!(self.ocr_engine.as_str(), "lib" | "cli") {
            return fail("ocr_engine must be `lib` or `cli`");
        }
        if !(0.0..=1.0).contains(&self.ocr_review_threshold) || !(0.0..=1.0).contains(&self.ocr_vision_below) {
            return fail("ocr_review_threshold and ocr_vision_below must be between 0 and 1");
        }
        match self.ocr_vision.as_str() {
            "" => {}
            "ollama" | "gemini" if self.ocr_vision_url.is_empty() || self.ocr_vision_model.is_empty() => {
                return fail("ocr_vision needs ocr_vision_url and ocr_vision_model");
            }
            "ollama" | "gemini" => {}
            _ => return fail("ocr_vision must be empty, `ollama` or `gemini`"),
        }
        if !url::Url::parse(&self.waha_url).is_ok_and(|u| matches!(u.scheme(), "http" | "https")) {
            return fail("waha_url must be an http(s) URL such as http://127.0.0.1:3000");
        }
        if self.wa_send_attempts == 0 || self.wa_media_max_bytes == 0 || self.wa_http_timeout_ms == 0 {
            return fail("wa_send_attempts, wa_media_max_bytes and wa_http_timeout_ms must be positive");
        }
        if self.waha_session.trim().is_empty() {
            return fail("waha_session must not be empty");
        }
        if self.sql_max_rows == 0 || self.sql_timeout_ms == 0 || self.sql_memory_mb == 0 {
            return fail("sql_max_rows, sql_timeout_ms and sql_memory_mb must be positive");
        }
        if let Err(e) = self.budget_thresholds() {
            return Err(ConfigError::Value(e));
        }
        if self.anomaly_window < 3 || self.anomaly_min_history < 3 || self.anomaly_min_history > self.anomaly_window || self.anomaly_threshold.is_nan() || self.anomaly_threshold <= 0.0 {
            return fail("anomaly_window and anomaly_min_history must be at least 3 (the minimum within the window), anomaly_threshold positive");
        }
        if self.advisor_hour > 23 || self.advisor_horizon_days == 0 || self.advisor_horizon_days > 366 {
            return fail("advisor_hour must be 0..=23 and advisor_horizon_days 1..=366");
        }
        match self.llm.as_str() {
            "" => {}
            "ollama" | "openai" if self.llm_url.is_empty() || self.llm_model.is_empty() => return fail("llm needs llm_url and llm_model"),
            "ollama" | "openai" => {}
            _ => return fail("llm must be empty, `ollama` or `openai`"),
        }
        if self.llm_timeout_ms == 0 {
            return fail("llm_timeout_ms must be positive");
        }
        if !matches!(self.embedded_broker_storage.as_str(), "sqlite" | "memory") {
            return fail("embedded_broker_storage must be `sqlite` or `memory`");
        }
        Ok(())
    }

    /// The lake root as a URI string (a local path is made absolute).
    pub fn lake_uri(&self) -> String {
        if !self.lake_uri.is_empty() {
            return self.lake_uri.clone();
        }
        absolute(&self.data_dir.join("lake")).display().to_string()
    }

    /// The media store's root: `media_uri`, or the local `media_dir`.
    pub fn media_uri(&self) -> String {
        if !self.media_uri.is_empty() {
            return self.media_uri.clone();
        }
        self.media_dir().display().to_string()
    }

    /// The local media directory, made absolute.
    pub fn media_dir(&self) -> PathBuf {
        if self.media_dir.as_os_str().is_empty() {
            absolute(&self.data_dir.join("media"))
        } else {
            absolute(&self.media_dir)
        }
    }

    /// [`Config::budget_alert_thresholds`] as sorted percentages (1..=1000).
    pub fn budget_thresholds(&self) -> Result<Vec<u32>, String> {
        let mut out = Vec::new();
        for part in self.budget_alert_thresholds.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            match part.trim_end_matches('%').parse::<u32>() {
                Ok(t) if (1..=1000).contains(&t) => out.push(t),
                _ => return Err(format!("budget_alert_thresholds: {part:?} is not a percentage 1..=1000 (e.g. 80,100)")),
            }
        }
        if out.is_empty() {
            return Err("budget_alert_thresholds must name at least one percentage (e.g. 80,100)".into());
        }
        out.sort_unstable();
        out.dedup();
        Ok(out)
    }

    /// The topic `name` under this deployment's prefix.
    pub fn topic(&self, name: &str) -> String {
        format!("{}{}", self.topic_prefix, name)
    }

    /// The consumer group of `job`.
    pub fn group(&self, job: &str) -> String {
        format!("{}.{}", self.group_prefix, job)
    }

    /// A secret from its setting `name`, else from the file the matching
    /// `{name}_file` setting names (trimmed); `None` when neither is set.
    pub fn secret(&self, name: &str, value: &Secret, file: &str) -> Result<Option<String>, ConfigError> {
        if value.is_set() {
            return Ok(Some(value.expose().to_owned()));
        }
        if file.is_empty() {
            return Ok(None);
        }
        let text = std::fs::read_to_string(file).map_err(|e| ConfigError::Value(format!("{name}_file {file}: {e}")))?;
        let text = text.trim();
        if text.is_empty() {
            return Err(ConfigError::Value(format!("{name}_file {file} is empty")));
        }
        Ok(Some(text.to_owned()))
    }

    /// The effective configuration as TOML, secrets masked.
    pub fn to_toml_masked(&self) -> String {
        toml_lines(self)
    }
}

fn absolute(path: &Path) -> PathBuf {
    if path.is_absolute() {
        path.to_owned()
    } else {
        std::env::current_dir().map(|d| d.join(path)).unwrap_or_else(|_| path.to_owned())
    }
}

/// Names of `ARUS_*` variables that match no field of [`Config`].
fn unknown_env_settings(names: impl Iterator<Item = String>) -> Vec<String> {
    let known = serde_json::to_value(Config::default()).ok();
    let known = known.as_ref().and_then(|v| v.as_object());
    names
        .filter_map(|name| {
            let key = name.strip_prefix("ARUS_")?.to_ascii_lowercase();
            let is_known = known.is_some_and(|k| k.contains_key(&key));
            (!is_known).then_some(name)
        })
        .collect()
}

/// `key = value` lines; every value a TOML literal.
fn toml_lines(config: &Config) -> String {
    let value = serde_json::to_value(config).unwrap_or_default();
    let mut out = String::new();
    if let Some(map) = value.as_object() {
        for (key, value) in map {
            let literal = match value {
                serde_json::Value::String(s) => format!("{s:?}"),
                other => other.to_string(),
            };
            out.push_str(&format!("{key} = {literal}\n"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_print() {
        let mut c = Config::default();
        c.kafka_sasl_password = Secret::new("hunter2");
        assert!(!c.to_toml_masked().contains("hunter2"));
        assert!(!format!("{c:?}").contains("hunter2"));
        assert!(c.to_toml_masked().contains("kafka_sasl_password = \"********\""));
    }

    #[test]
    fn file_then_env_override_defaults() {
        let dir = std::env::temp_dir().join(format!("arus-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("arus.toml");
        std::fs::write(&path, "kafka_partitions = 3\nbatch_max_rows = 10\nkafka_sasl_password = \"s3cret\"\n").unwrap();
        figment::Jail::expect_with(|jail| {
            jail.set_env("ARUS_BATCH_MAX_ROWS", "99");
            jail.set_env("ARUS_KAFKA_BROKERS", "127.0.0.1:9092");
            jail.set_env("ARUS_KAFKA_BROKER", "typo");
            let (c, unknown) = Config::load(Some(&path)).unwrap();
            assert_eq!(c.kafka_partitions, 3);
            assert_eq!(c.batch_max_rows, 99);
            assert_eq!(c.kafka_brokers, "127.0.0.1:9092");
            assert_eq!(c.kafka_sasl_password.expose(), "s3cret");
            assert_eq!(c.http_addr, Config::default().http_addr);
            assert!(unknown.contains(&"ARUS_KAFKA_BROKER".to_owned()));
            Ok(())
        });
    }

    #[test]
    fn bad_values_are_refused_with_the_setting_named() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("ARUS_KAFKA_PARTITIONS", "0");
            let err = Config::load(None).unwrap_err().to_string();
            assert!(err.contains("kafka_partitions"), "{err}");
            jail.set_env("ARUS_KAFKA_PARTITIONS", "lots");
            let err = Config::load(None).unwrap_err().to_string();
            assert!(err.contains("kafka_partitions") || err.contains("KAFKA_PARTITIONS"), "{err}");
            Ok(())
        });
    }
}
