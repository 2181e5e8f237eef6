//! WhatsApp through WAHA: the webhook connector ([`webhook`]), the client
//! of WAHA's send and file endpoints ([`waha`]), what a message asks for
//! ([`intent`]) and what arus answers ([`reply`]). The `wa-router` and
//! `notifier` jobs (`arus-stream-jobs`) put them together.

pub mod intent;
pub mod reply;
pub mod waha;
pub mod webhook;

pub use waha::Waha;
pub use webhook::{Verdict, Webhook, WebhookError};
