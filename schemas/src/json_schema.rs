//! JSON Schema documents of the event types, for producers written in other
//! languages. Generated into `schemas/json/`; a test fails when the checked-in
//! files drift from the code (regenerate with `UPDATE_JSON_SCHEMAS=1 cargo
//! test -p arus-schemas`).

use schemars::{schema_for, JsonSchema};

use crate::accounts::AccountEvent;
use crate::audit::AuditRecord;
use crate::events::{Alert, CategoryFeedback, DeadLetter, Transaction, TxnRaw};
use crate::imports::ImportRequest;
use crate::media::MediaUpload;
use crate::plans::PlanEvent;
use crate::whatsapp::{WaInbound, WaOutbound};

fn render<T: JsonSchema>() -> String {
    let schema = schema_for!(T);
    let mut text = serde_json::to_string_pretty(&schema).expect("a JSON Schema serialises");
    text.push('\n');
    text
}

/// `(file name, document)` for every event type.
pub fn documents() -> Vec<(&'static str, String)> {
    vec![
        ("txn_raw.v1.json", render::<TxnRaw>()),
        ("transaction.v1.json", render::<Transaction>()),
        ("alert.v1.json", render::<Alert>()),
        ("dead_letter.v1.json", render::<DeadLetter>()),
        ("account_event.v1.json", render::<AccountEvent>()),
        ("audit_record.v1.json", render::<AuditRecord>()),
        ("import_request.v1.json", render::<ImportRequest>()),
        ("category_feedback.v1.json", render::<CategoryFeedback>()),
        ("media_upload.v1.json", render::<MediaUpload>()),
        ("wa_inbound.v1.json", render::<WaInbound>()),
        ("wa_outbound.v1.json", render::<WaOutbound>()),
        ("plan_event.v1.json", render::<PlanEvent>()),
    ]
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    #[test]
    fn checked_in_json_schemas_match_the_code() {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("json");
        let update = std::env::var_os("UPDATE_JSON_SCHEMAS").is_some();
        let mut stale = Vec::new();
        for (name, text) in super::documents() {
            let path = dir.join(name);
            if update {
                std::fs::create_dir_all(&dir).unwrap();
                std::fs::write(&path, &text).unwrap();
            } else if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
                stale.push(name);
            }
        }
        let listed: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(listed.len(), super::documents().len(), "schemas/json holds files no event type generates");
        assert!(
            stale.is_empty(),
            "schemas/json is out of date for {stale:?}; run `UPDATE_JSON_SCHEMAS=1 cargo test -p arus-schemas`"
        );
    }
}
