//! The optional LLM narrator of insights (`ARUS_LLM=ollama|openai`, off by
//! default): the model is given the insight's facts and template text and
//! asked to say it in the person's language, warmly and briefly. Its text
//! is used only when every number in it is one of the facts
//! ([`arus_ml::narration::invented`]); an invented number, an error, an
//! empty answer or no answer within `ARUS_LLM_TIMEOUT_MS` leaves the
//! template text, and the reason is logged.
//!
//! Ollama: `POST {url}/api/chat` `{model, messages, stream: false}` →
//! `message.content`. OpenAI-compatible: `POST {url}/chat/completions`
//! (`url` ending in `/v1`) with `Authorization: Bearer` → `choices[0].message.content`.

use std::time::Duration;

use arus_ml::insights::fact_numbers;
use arus_ml::narration::invented;
use arus_schemas::{Config, Lang};
use serde_json::{json, Map, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Api {
    Ollama,
    OpenAi,
}

pub struct Narrator {
    api: Api,
    url: String,
    model: String,
    key: Option<String>,
    client: reqwest::Client,
}

/// Why a model's wording was not used.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum Refused {
    #[error("no answer within the timeout")]
    Timeout,
    #[error("the model could not be asked: {0}")]
    Failed(String),
    #[error("the answer has no text")]
    Empty,
    #[error("the answer mentions numbers that are not in the facts: {0:?}")]
    Invented(Vec<f64>),
}

const SYSTEM: &str = "You reword one finding about a person's money for a small-business owner or household in Indonesia. \
Write one or two short, warm sentences in the language asked for. Use only the facts given; write amounts as Rp with dots \
(Rp 1.500.000). Do not add any number, date or percentage that is not in the facts. Answer with the sentences only.";

impl Narrator {
    /// The configured narrator, `None` when `ARUS_LLM` is empty.
    pub fn from_config(config: &Config) -> Result<Option<Narrator>, String> {
        let api = match config.llm.as_str() {
            "" => return Ok(None),
            "ollama" => Api::Ollama,
            "openai" => Api::OpenAi,
            other => return Err(format!("unknown llm {other:?}")),
        };
        let key = config.secret("llm_api_key", &config.llm_api_key, &config.llm_api_key_file).map_err(|e| e.to_string())?;
        let client = reqwest::Client::builder()
            .timeout(Duration::from_millis(config.llm_timeout_ms))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Some(Narrator { api, url: config.llm_url.trim_end_matches('/').to_owned(), model: config.llm_model.clone(), key, client }))
    }

    /// `model@api` as stored beside the text.
    pub fn name(&self) -> String {
        format!("{}@{}", self.model, if self.api == Api::Ollama { "ollama" } else { "openai" })
    }

    /// The model's wording of a finding with `facts` and template `text`, in
    /// `lang`, checked against the facts.
    pub async fn narrate(&self, rule: &str, severity: &str, facts: &Map<String, Value>, text: &str, lang: Lang) -> Result<String, Refused> {
        let language = if lang == Lang::Id { "Indonesian (Bahasa Indonesia)" } else { "English" };
        let user = json!({"language": language, "finding": rule, "severity": severity, "facts": facts, "template": text}).to_string();
        let messages = json!([{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]);
        let (request, pointer) = match self.api {
            Api::Ollama => (
                self.client.post(format!("{}/api/chat", self.url)).json(&json!({"model": self.model, "messages": messages, "stream": false, "options": {"temperature": 0.2}})),
                "/message/content",
            ),
            Api::OpenAi => {
                let mut r = self.client.post(format!("{}/chat/completions", self.url)).json(&json!({"model": self.model, "messages": messages, "temperature": 0.2}));
                if let Some(key) = &self.key {
                    r = r.bearer_auth(key);
                }
                (r, "/choices/0/message/content")
            }
        };
        let response = request.send().await.map_err(|e| if e.is_timeout() { Refused::Timeout } else { Refused::Failed(e.to_string()) })?;
        let status = response.status();
        let body: Value = response.json().await.map_err(|e| if e.is_timeout() { Refused::Timeout } else { Refused::Failed(e.to_string()) })?;
        if !status.is_success() {
            return Err(Refused::Failed(format!("{status}: {body}")));
        }
        let said = body.pointer(pointer).and_then(Value::as_str).map(str::trim).filter(|t| !t.is_empty()).ok_or(Refused::Empty)?;
        let wrong = invented(said, &fact_numbers(facts));
        if !wrong.is_empty() {
            return Err(Refused::Invented(wrong));
        }
        Ok(said.to_owned())
    }
}
