//! The calls arus makes to WAHA (DOMAIN.md, "WhatsApp through WAHA"), all
//! with `X-Api-Key`: `POST {WAHA}/api/sendText`, fetching a received
//! message's file from `media.url`, and reading a chat's recent messages
//! (`GET {WAHA}/api/{session}/chats/{chatId}/messages`) to learn whether a
//! send cut off by a crash went out.
//!
//! Files are fetched only from the configured WAHA: a `media.url` on
//! another origin whose path is WAHA's file route (`/api/files/…`, as a WAHA
//! in a container reports `localhost:3000`) is fetched from `waha_url` with
//! that path; any other URL is refused rather than followed.

use std::time::Duration;

use arus_schemas::Config;
use serde::Serialize;
use url::Url;

/// Why a call to WAHA did not work.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum WahaError {
    /// Worth trying again: WAHA down, timed out, answered 5xx or 429.
    #[error("{0}")]
    Transient(String),
    /// Trying again will not help: WAHA refused the request (4xx).
    #[error("{0}")]
    Permanent(String),
}

impl WahaError {
    pub fn is_transient(&self) -> bool {
        matches!(self, WahaError::Transient(_))
    }
}

/// Why a file could not be fetched; `code` is what the sender is told about.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[error("{code}: {reason}")]
pub struct DownloadError {
    /// `too_large`, `download_failed`, `refused_url`.
    pub code: &'static str,
    pub reason: String,
}

/// A file fetched from WAHA.
#[derive(Debug, Clone)]
pub struct Downloaded {
    pub bytes: Vec<u8>,
    /// What WAHA's `Content-Type` said, if anything.
    pub content_type: Option<String>,
}

/// A message in a chat, as WAHA lists it (the fields arus reads).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatMessage {
    pub id: Option<String>,
    /// Unix seconds.
    pub timestamp: i64,
    pub from_me: bool,
    pub body: String,
}

/// A client of one WAHA gateway.
#[derive(Clone)]
pub struct Waha {
    http: reqwest::Client,
    base: Url,
    api_key: Option<String>,
    session: String,
}

#[derive(Serialize)]
struct SendText<'a> {
    session: &'a str,
    #[serde(rename = "chatId")]
    chat_id: &'a str,
    text: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    reply_to: Option<&'a str>,
}

impl Waha {
    /// The gateway `config` names, with its API key from the setting or its file.
    pub fn from_config(config: &Config) -> Result<Self, String> {
        let api_key = config.secret("waha_api_key", &config.waha_api_key, &config.waha_api_key_file).map_err(|e| e.to_string())?;
        Waha::new(&config.waha_url, api_key, &config.waha_session, Duration::from_millis(config.wa_http_timeout_ms))
    }

    pub fn new(base: &str, api_key: Option<String>, session: &str, timeout: Duration) -> Result<Self, String> {
        let base = Url::parse(base).map_err(|e| format!("waha_url {base:?}: {e}"))?;
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            // A redirect could lead the API key elsewhere.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Waha { http, base, api_key, session: session.to_owned() })
    }

    /// The session used when a message names none.
    pub fn session(&self) -> &str {
        &self.session
    }

    fn with_key(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.api_key {
            Some(key) => request.header("X-Api-Key", key),
            None => request,
        }
    }

    /// Sends `text` to `chat_id`; WAHA's id of the message sent, if it said one.
    pub async fn send_text(&self, session: &str, chat_id: &str, text: &str, reply_to: Option<&str>) -> Result<Option<String>, WahaError> {
        let url = self.base.join("api/sendText").map_err(|e| WahaError::Permanent(e.to_string()))?;
        let session = if session.is_empty() { self.session.as_str() } else { session };
        let body = SendText { session, chat_id, text, reply_to };
        let response = self.with_key(self.http.post(url).json(&body)).send().await.map_err(|e| WahaError::Transient(format!("WAHA unreachable: {e}")))?;
        let status = response.status();
        let answer = response.text().await.unwrap_or_default();
        if status.is_success() {
            return Ok(message_id(&answer));
        }
        let said = answer.chars().take(300).collect::<String>();
        let reason = format!("WAHA answered {status}: {said}");
        if status.is_server_error() || status.as_u16() == 429 || status.as_u16() == 408 {
            Err(WahaError::Transient(reason))
        } else {
            Err(WahaError::Permanent(reason))
        }
    }

    /// The messages arus's own number sent to `chat_id` at or after
    /// `since` (unix seconds), at most `limit` of the newest. Asks WAHA to
    /// filter (`filter.fromMe`, `filter.timestamp.gte`) and filters again,
    /// for a WAHA that ignores those parameters. An error when WAHA keeps no
    /// history it can list (NOWEB without its store answers 4xx): then
    /// nothing can be concluded from the chat.
    pub async fn sent_to(&self, session: &str, chat_id: &str, since: i64, limit: usize) -> Result<Vec<ChatMessage>, WahaError> {
        let session = if session.is_empty() { self.session.as_str() } else { session };
        let mut url = self.base.clone();
        url.path_segments_mut()
            .map_err(|()| WahaError::Permanent(format!("waha_url {} cannot take a path", self.base)))?
            .pop_if_empty()
            .extend(["api", session, "chats", chat_id, "messages"]);
        url.query_pairs_mut()
            .append_pair("limit", &limit.to_string())
            .append_pair("downloadMedia", "false")
            .append_pair("filter.fromMe", "true")
            .append_pair("filter.timestamp.gte", &since.to_string());
        let response = self.with_key(self.http.get(url)).send().await.map_err(|e| WahaError::Transient(format!("WAHA unreachable: {e}")))?;
        let status = response.status();
        let answer = response.text().await.unwrap_or_default();
        if !status.is_success() {
            let reason = format!("WAHA answered {status} listing the chat's messages: {}", answer.chars().take(300).collect::<String>());
            return Err(if status.is_server_error() || status.as_u16() == 429 { WahaError::Transient(reason) } else { WahaError::Permanent(reason) });
        }
        let listed: Vec<serde_json::Value> = serde_json::from_str(&answer).map_err(|e| WahaError::Permanent(format!("WAHA's list of the chat's messages is not a JSON array: {e}")))?;
        Ok(listed
            .iter()
            .map(|m| ChatMessage {
                id: m.get("id").and_then(|id| id.as_str().or_else(|| id.get("_serialized").and_then(|s| s.as_str()))).map(str::to_owned),
                timestamp: m.get("timestamp").and_then(|t| t.as_i64()).unwrap_or(0),
                from_me: m.get("fromMe").and_then(|f| f.as_bool()).unwrap_or(false),
                body: m.get("body").and_then(|b| b.as_str()).unwrap_or_default().to_owned(),
            })
            .filter(|m| m.from_me && m.timestamp >= since)
            .collect())
    }

    /// Where to fetch `media_url` from, or why not.
    pub fn media_url(&self, media_url: &str) -> Result<Url, DownloadError> {
        let refused = |reason: String| DownloadError { code: "refused_url", reason };
        let url = self.base.join(media_url).map_err(|e| refused(format!("{media_url:?} is not a URL: {e}")))?;
        if url.origin() == self.base.origin() {
            return Ok(url);
        }
        if url.path().starts_with("/api/files/") {
            let mut local = self.base.join(url.path()).map_err(|e| refused(e.to_string()))?;
            local.set_query(url.query());
            return Ok(local);
        }
        Err(refused(format!("{} is neither on the configured WAHA ({}) nor a WAHA file path", url.origin().ascii_serialization(), self.base.origin().ascii_serialization())))
    }

    /// Fetches a received message's file, at most `max_bytes`.
    pub async fn download(&self, media_url: &str, max_bytes: u64) -> Result<Downloaded, DownloadError> {
        let url = self.media_url(media_url)?;
        let failed = |reason: String| DownloadError { code: "download_failed", reason };
        let too_large = || DownloadError { code: "too_large", reason: format!("the file is larger than {max_bytes} bytes") };
        let mut response = self.with_key(self.http.get(url.clone())).send().await.map_err(|e| failed(format!("{url}: {e}")))?;
        if !response.status().is_success() {
            return Err(failed(format!("{url}: WAHA answered {}", response.status())));
        }
        if response.content_length().is_some_and(|n| n > max_bytes) {
            return Err(too_large());
        }
        let content_type = response.headers().get(reqwest::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(str::to_owned);
        let mut bytes = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| failed(format!("{url}: {e}")))? {
            if (bytes.len() + chunk.len()) as u64 > max_bytes {
                return Err(too_large());
            }
            bytes.extend_from_slice(&chunk);
        }
        if bytes.is_empty() {
            return Err(failed(format!("{url}: the file is empty")));
        }
        Ok(Downloaded { bytes, content_type })
    }
}

/// The id in WAHA's answer to sendText: a string, or WEBJS's `{"_serialized": …}`.
fn message_id(answer: &str) -> Option<String> {
    let value: serde_json::Value = serde_json::from_str(answer).ok()?;
    let id = value.get("id")?;
    id.as_str().map(str::to_owned).or_else(|| id.get("_serialized").and_then(|s| s.as_str()).map(str::to_owned))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_fetched_only_from_the_configured_waha() {
        let waha = Waha::new("http://127.0.0.1:3000", None, "default", Duration::from_secs(1)).unwrap();
        let sample = "http://localhost:3000/api/files/true_11111111111@c.us_AAAA.jpg";
        assert_eq!(waha.media_url(sample).unwrap().as_str(), "http://127.0.0.1:3000/api/files/true_11111111111@c.us_AAAA.jpg");
        assert_eq!(waha.media_url("http://127.0.0.1:3000/api/files/x.jpg?s=1").unwrap().as_str(), "http://127.0.0.1:3000/api/files/x.jpg?s=1");
        assert_eq!(waha.media_url("/api/files/x.jpg").unwrap().as_str(), "http://127.0.0.1:3000/api/files/x.jpg");
        assert_eq!(waha.media_url("http://169.254.169.254/latest/meta-data").unwrap_err().code, "refused_url");
        assert_eq!(waha.media_url("file:///etc/passwd").unwrap_err().code, "refused_url");
    }

    #[test]
    fn message_ids_in_either_shape() {
        assert_eq!(message_id(r#"{"id":"true_1@c.us_AB"}"#).as_deref(), Some("true_1@c.us_AB"));
        assert_eq!(message_id(r#"{"id":{"fromMe":true,"_serialized":"true_1@c.us_AB"}}"#).as_deref(), Some("true_1@c.us_AB"));
        assert_eq!(message_id("ok"), None);
    }
}
