//! Benchmarks of the `arus bench` subcommand (build with `--release`); the
//! one-command wrappers live in `bench/`.

pub mod api;
pub mod import;
pub mod pipeline;
pub mod serving;
pub mod tiering;
pub mod webhook;

use std::path::Path;

use arus_schemas::config::{ConsumerMode, Secret};
use arus_schemas::Config;

use crate::broker::EmbeddedBroker;

/// `config` pointed at a benchmark's own broker and data directory, with
/// the API on a free loopback port and its own token key.
pub(crate) fn api_config(config: &Config, broker: &EmbeddedBroker, dir: &Path) -> Config {
    let mut config = config.clone();
    config.kafka_brokers = broker.brokers.clone();
    config.data_dir = dir.to_owned();
    config.lake_uri = String::new();
    config.topic_prefix = "bench.".into();
    config.consumer_mode = ConsumerMode::Assign;
    config.http_addr = ([127, 0, 0, 1], 0).into();
    let key: String = rand::random::<[u8; 32]>().iter().map(|b| format!("{b:02x}")).collect();
    config.jwt_secret = Secret::new(key);
    config
}
