//! Logs: `tracing` with fields, pretty on a terminal, JSON in production
//! (`ARUS_LOG_FORMAT=json`); the filter comes from `RUST_LOG` or `ARUS_LOG`.

use arus_schemas::config::{Config, LogFormat};
use tracing_subscriber::EnvFilter;

pub fn init(config: &Config) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&config.log))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = match config.log_format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Pretty => builder.compact().try_init(),
    };
}
