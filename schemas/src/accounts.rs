//! Financial accounts (a bank account, an e-wallet, the cash box): the events
//! on [`crate::topics::ACCOUNT`] and the rows of the `accounts` table they
//! become. The table keeps every revision; an account is the highest
//! `revision` of its `account_id`.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::ValidationError;

/// What kind of place money is kept in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AccountKind {
    Bank,
    Ewallet,
    Cash,
}

/// What an [`AccountEvent`] does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AccountOp {
    Create,
    Update,
    Delete,
}

/// Fields of an account a person sets; in an update, absent means unchanged.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AccountFields {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<AccountKind>,
    /// Bank or e-wallet, e.g. `BCA`, `GoPay`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub institution: Option<String>,
    /// Last four digits of the account number; never the whole number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number_last4: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    /// Balance in rupiah when the account was added to arus.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub opening_balance: Option<i64>,
}

impl AccountFields {
    /// Every reason these fields are not acceptable; for a create, `name`
    /// and `kind` are also required.
    pub fn validate(&self, creating: bool) -> Result<(), Vec<ValidationError>> {
        let mut errors = Vec::new();
        match &self.name {
            None if creating => errors.push(ValidationError::required("name")),
            Some(name) if name.trim().is_empty() => errors.push(ValidationError::required("name")),
            Some(name) if name.chars().count() > 100 => {
                errors.push(ValidationError::with_param("name", "too_long", "name is longer than 100 characters", 100))
            }
            Some(name) if name.chars().any(char::is_control) => {
                errors.push(ValidationError::new("name", "control_characters", "name contains control characters"))
            }
            _ => {}
        }
        if creating && self.kind.is_none() {
            errors.push(ValidationError::required("kind"));
        }
        if let Some(institution) = &self.institution {
            if institution.chars().count() > 60 || institution.chars().any(char::is_control) {
                errors.push(ValidationError::with_param("institution", "too_long", "institution is longer than 60 characters", 60));
            }
        }
        if let Some(last4) = &self.number_last4 {
            if last4.len() != 4 || !last4.bytes().all(|b| b.is_ascii_digit()) {
                errors.push(ValidationError::with_param(
                    "number_last4",
                    "invalid_type",
                    "number_last4 must be exactly four digits",
                    "4 digit",
                ));
            }
        }
        if let Some(currency) = &self.currency {
            if currency.len() != 3 || !currency.bytes().all(|b| b.is_ascii_uppercase()) {
                errors.push(ValidationError::new("currency", "invalid_currency", "currency must be an ISO 4217 code such as IDR"));
            }
        }
        if let Some(balance) = self.opening_balance {
            if balance.unsigned_abs() > crate::events::MAX_ABS_AMOUNT as u64 {
                errors.push(ValidationError::with_param(
                    "opening_balance",
                    "too_large",
                    "opening_balance is out of range",
                    crate::events::MAX_ABS_AMOUNT,
                ));
            }
        }
        if !creating && self == &AccountFields::default() {
            errors.push(ValidationError::new("body", "empty_update", "nothing to change"));
        }
        if errors.is_empty() { Ok(()) } else { Err(errors) }
    }
}

/// A change to an account, published on [`crate::topics::ACCOUNT`] keyed by
/// `user_id`. The `accounts` job turns it into a new revision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct AccountEvent {
    pub schema_version: u32,
    /// Unique per event (UUIDv4).
    pub event_id: String,
    pub op: AccountOp,
    pub account_id: String,
    /// Tenant owning the account.
    pub user_id: String,
    /// Who asked for the change.
    pub actor_id: String,
    pub at: DateTime<Utc>,
    #[serde(default)]
    pub fields: AccountFields,
}

/// One revision of an account: a row of the `accounts` table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema, utoipa::ToSchema)]
pub struct Account {
    pub account_id: String,
    pub user_id: String,
    pub revision: i64,
    pub name: String,
    pub kind: AccountKind,
    pub institution: Option<String>,
    pub number_last4: Option<String>,
    pub currency: String,
    pub opening_balance: i64,
    pub deleted: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The event this revision came from.
    pub event_id: String,
}

impl Account {
    /// The first revision, from a validated create event.
    pub fn created(event: &AccountEvent) -> Option<Account> {
        let f = &event.fields;
        Some(Account {
            account_id: event.account_id.clone(),
            user_id: event.user_id.clone(),
            revision: 1,
            name: f.name.clone()?,
            kind: f.kind?,
            institution: f.institution.clone(),
            number_last4: f.number_last4.clone(),
            currency: f.currency.clone().unwrap_or_else(|| "IDR".into()),
            opening_balance: f.opening_balance.unwrap_or(0),
            deleted: false,
            created_at: event.at,
            updated_at: event.at,
            event_id: event.event_id.clone(),
        })
    }

    /// The next revision: `event` applied to this one.
    pub fn apply(&self, event: &AccountEvent) -> Account {
        let f = &event.fields;
        Account {
            revision: self.revision + 1,
            name: f.name.clone().unwrap_or_else(|| self.name.clone()),
            kind: f.kind.unwrap_or(self.kind),
            institution: f.institution.clone().or_else(|| self.institution.clone()),
            number_last4: f.number_last4.clone().or_else(|| self.number_last4.clone()),
            currency: f.currency.clone().unwrap_or_else(|| self.currency.clone()),
            opening_balance: f.opening_balance.unwrap_or(self.opening_balance),
            deleted: self.deleted || event.op == AccountOp::Delete,
            updated_at: event.at,
            event_id: event.event_id.clone(),
            ..self.clone()
        }
    }
}
