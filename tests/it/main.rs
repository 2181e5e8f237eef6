//! Integration tests of arus against a real Kafka-protocol broker (tansu,
//! started by `deploy/test.sh`, found through `ARUS_KAFKA_BROKERS`), real
//! Delta tables read back with DataFusion, and real sockets. Tests that need
//! the broker say so in their name.

mod common;
mod classifier;
mod browser;
mod crash;
mod dashboard;
mod deploy;
mod dead_letters;
mod advisor;
mod faults;
mod forecast;
mod imports;
mod interop;
mod lending;
mod object_storage;
mod pipeline;
mod receipts;
mod serving;
mod reliability;
mod scale;
mod sql;
mod up_restart;
mod whatsapp;
