//! An optional second reader: a vision model shown the photo when
//! Tesseract's reading of it is poor. Off unless configured
//! (`ARUS_OCR_VISION=ollama|gemini`). Two adapters behind one trait:
//! Ollama's `/api/chat` with the image in `images`, and Gemini's
//! `generateContent` with the image as `inline_data`; both are asked for a
//! JSON object `{merchant, date, time, total, currency}`.
//!
//! The answer is input like any other: the total goes through the receipt
//! amount reader, the date through the date reader, and a value that does
//! not parse is dropped. Its confidence is modest (0.75) unless Tesseract
//! read the same total somewhere on the page (0.9).

use std::time::Duration;

use base64::Engine as _;
use chrono::{NaiveDate, NaiveTime};
use serde::Deserialize;
use serde_json::json;

use super::amounts::{self, Amount};
use super::receipt::{Field, Receipt};
use super::Page;
use crate::dates::{parse_date, DateOptions};

/// What to ask, in both adapters.
pub const PROMPT: &str = "You read shop receipts (Indonesian or English). Answer with one JSON object and nothing else: \
{\"merchant\": shop name as printed, \"date\": date as printed, \"time\": time as printed or null, \
\"total\": the amount the customer paid in total as printed (not the cash handed over, not the change), \
\"currency\": ISO code such as IDR or MYR}. Use null for anything you cannot read.";

#[derive(Debug, thiserror::Error)]
pub enum VisionError {
    #[error("the vision model could not be reached: {0}")]
    Unreachable(String),
    #[error("the vision model answered {status}: {body}")]
    Status { status: u16, body: String },
    #[error("the vision model's answer is not the JSON asked for: {0}")]
    BadAnswer(String),
}

/// The fields as a vision model wrote them, before checking.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct VisionAnswer {
    #[serde(default)]
    pub merchant: Option<String>,
    #[serde(default)]
    pub date: Option<String>,
    #[serde(default)]
    pub time: Option<String>,
    #[serde(default, deserialize_with = "string_or_number")]
    pub total: Option<String>,
    #[serde(default)]
    pub currency: Option<String>,
}

fn string_or_number<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match serde_json::Value::deserialize(d)? {
        serde_json::Value::String(s) => Some(s),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    })
}

/// A model that reads receipt photos.
#[async_trait::async_trait]
pub trait VisionModel: Send + Sync {
    /// `mime` is the photo's type (`image/jpeg`, `image/png`, `image/webp`).
    async fn read(&self, photo: &[u8], mime: &str) -> Result<VisionAnswer, VisionError>;
    fn name(&self) -> &'static str;
}

/// The JSON object in a model's text (models wrap it in prose or ``` fences).
pub fn answer_from_text(text: &str) -> Result<VisionAnswer, VisionError> {
    let start = text.find('{').ok_or_else(|| VisionError::BadAnswer(format!("no JSON object in {:?}", truncate(text))))?;
    let end = text.rfind('}').filter(|&e| e > start).ok_or_else(|| VisionError::BadAnswer(format!("no JSON object in {:?}", truncate(text))))?;
    serde_json::from_str(&text[start..=end]).map_err(|e| VisionError::BadAnswer(format!("{e} in {:?}", truncate(text))))
}

fn truncate(text: &str) -> String {
    text.chars().take(200).collect()
}

fn client(timeout: Duration) -> reqwest::Client {
    reqwest::Client::builder().timeout(timeout).build().unwrap_or_default()
}

async fn post_json(request: reqwest::RequestBuilder) -> Result<serde_json::Value, VisionError> {
    let response = request.send().await.map_err(|e| VisionError::Unreachable(e.to_string()))?;
    let status = response.status();
    let body = response.text().await.map_err(|e| VisionError::Unreachable(e.to_string()))?;
    if !status.is_success() {
        return Err(VisionError::Status { status: status.as_u16(), body: truncate(&body) });
    }
    serde_json::from_str(&body).map_err(|e| VisionError::BadAnswer(format!("{e} in {:?}", truncate(&body))))
}

/// Ollama (`POST {url}/api/chat`, non-streaming, `format: json`).
pub struct Ollama {
    pub url: String,
    pub model: String,
    client: reqwest::Client,
}

impl Ollama {
    pub fn new(url: &str, model: &str, timeout: Duration) -> Self {
        Ollama { url: url.trim_end_matches('/').to_owned(), model: model.to_owned(), client: client(timeout) }
    }
}

#[async_trait::async_trait]
impl VisionModel for Ollama {
    async fn read(&self, photo: &[u8], _mime: &str) -> Result<VisionAnswer, VisionError> {
        let body = json!({
            "model": self.model,
            "stream": false,
            "format": "json",
            "messages": [{"role": "user", "content": PROMPT, "images": [base64::engine::general_purpose::STANDARD.encode(photo)]}],
        });
        let answer = post_json(self.client.post(format!("{}/api/chat", self.url)).json(&body)).await?;
        let text = answer.pointer("/message/content").and_then(|c| c.as_str()).ok_or_else(|| VisionError::BadAnswer("no message.content in Ollama's answer".to_owned()))?;
        answer_from_text(text)
    }

    fn name(&self) -> &'static str {
        "ollama"
    }
}

/// Gemini (`POST {url}/v1beta/models/{model}:generateContent`, key in `x-goog-api-key`).
pub struct Gemini {
    pub url: String,
    pub model: String,
    api_key: String,
    client: reqwest::Client,
}

impl Gemini {
    pub fn new(url: &str, model: &str, api_key: &str, timeout: Duration) -> Self {
        Gemini { url: url.trim_end_matches('/').to_owned(), model: model.to_owned(), api_key: api_key.to_owned(), client: client(timeout) }
    }
}

#[async_trait::async_trait]
impl VisionModel for Gemini {
    async fn read(&self, photo: &[u8], mime: &str) -> Result<VisionAnswer, VisionError> {
        let body = json!({
            "contents": [{"parts": [
                {"text": PROMPT},
                {"inline_data": {"mime_type": mime, "data": base64::engine::general_purpose::STANDARD.encode(photo)}},
            ]}],
            "generationConfig": {"response_mime_type": "application/json"},
        });
        let url = format!("{}/v1beta/models/{}:generateContent", self.url, self.model);
        let answer = post_json(self.client.post(url).header("x-goog-api-key", &self.api_key).json(&body)).await?;
        let text = answer
            .pointer("/candidates/0/content/parts/0/text")
            .and_then(|c| c.as_str())
            .ok_or_else(|| VisionError::BadAnswer("no candidates[0].content.parts[0].text in Gemini's answer".to_owned()))?;
        answer_from_text(text)
    }

    fn name(&self) -> &'static str {
        "gemini"
    }
}

/// The answer, checked like any input, as receipt fields. `page` is what
/// Tesseract read: a total it also saw is surer.
pub fn checked(answer: &VisionAnswer, page: &Page, today: NaiveDate) -> Receipt {
    let mut receipt = Receipt::default();
    let text = |s: &Option<String>| s.as_deref().map(str::trim).filter(|s| !s.is_empty() && !s.eq_ignore_ascii_case("null")).map(str::to_owned);
    if let Some(m) = text(&answer.merchant).filter(|m| m.chars().filter(|c| c.is_alphabetic()).count() >= 2 && m.chars().count() <= 120) {
        receipt.merchant = Some(Field { value: m.clone(), text: m, confidence: 0.75, line: None });
    }
    if let Some(d) = text(&answer.date) {
        let iso = NaiveDate::parse_from_str(&d, "%Y-%m-%d").ok();
        let parsed = iso.or_else(|| parse_date(&d, DateOptions { reference: Some(today), ..DateOptions::default() }).ok().map(|w| w.date));
        if let Some(date) = parsed.filter(|date| *date <= today + chrono::Duration::days(1)) {
            receipt.date = Some(Field { value: date, text: d, confidence: 0.75, line: None });
        }
    }
    if let Some(t) = text(&answer.time) {
        let parsed = NaiveTime::parse_from_str(&t, "%H:%M:%S").or_else(|_| NaiveTime::parse_from_str(&t, "%H:%M")).ok();
        if let Some(time) = parsed {
            receipt.time = Some(Field { value: time, text: t, confidence: 0.75, line: None });
        }
    }
    if let Some(total) = text(&answer.total) {
        let found = amounts::find(&amounts::repair(&total));
        if let [one] = found.as_slice() {
            let value: Amount = one.amount;
            if value.is_positive() {
                let seen = page.lines.iter().any(|l| amounts::find(&amounts::repair(&l.text)).iter().any(|f| f.amount.same_value(&value)));
                receipt.total = Some(Field { value, text: one.text.clone(), confidence: if seen { 0.9 } else { 0.75 }, line: None });
            }
        }
    }
    if let Some(c) = text(&answer.currency).map(|c| c.to_uppercase()).filter(|c| c.len() == 3 && c.chars().all(|ch| ch.is_ascii_alphabetic())) {
        receipt.currency = Some(Field { value: c.clone(), text: c, confidence: 0.75, line: None });
    }
    receipt
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 21).unwrap()
    }

    #[test]
    fn answers_are_found_in_prose_and_fences() {
        let a = answer_from_text("Here you go:\n```json\n{\"merchant\": \"Toko A\", \"total\": 38850, \"date\": \"21/11/2026\"}\n```").unwrap();
        assert_eq!(a.total.as_deref(), Some("38850"));
        assert!(answer_from_text("I cannot read this image.").is_err());
        assert!(answer_from_text("{\"total\": [1,2]").is_err());
    }

    #[test]
    fn answers_are_checked_like_any_input() {
        let page = Page::from_text("TOKO A\nTOTAL 38.850");
        let a = VisionAnswer { merchant: Some("Toko A".into()), date: Some("21/11/2026".into()), time: Some("14:35".into()), total: Some("Rp 38.850".into()), currency: Some("idr".into()) };
        let r = checked(&a, &page, today());
        assert_eq!(r.total.as_ref().map(|t| (t.value, t.confidence)), Some((Amount::whole(38_850), 0.9)));
        assert_eq!(r.date.map(|d| d.value), NaiveDate::from_ymd_opt(2026, 11, 21));
        assert_eq!(r.currency.map(|c| c.value).as_deref(), Some("IDR"));
        // Nonsense is dropped, not trusted: two amounts, a future date, a made-up currency.
        let a = VisionAnswer { merchant: Some("?".into()), date: Some("2030-01-01".into()), time: Some("late".into()), total: Some("12.000 or 13.000".into()), currency: Some("rupiah".into()) };
        let r = checked(&a, &page, today());
        assert!(r.merchant.is_none() && r.date.is_none() && r.time.is_none() && r.total.is_none() && r.currency.is_none());
        // A total Tesseract did not see is less sure.
        let a = VisionAnswer { total: Some("41.000".into()), ..VisionAnswer::default() };
        assert_eq!(checked(&a, &page, today()).total.map(|t| t.confidence), Some(0.75));
    }
}
