//! People and their access: roles, the rows of the `users` table and of the
//! `refresh_tokens` log. Both tables are written by the serving layer itself
//! (the one place that must answer "is this name taken?" at once); every
//! other table is materialised from a topic.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// What a person may do and see.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// A household or micro-business: its own rows only.
    User,
    /// A lender's field officer: the rows of the partners assigned to them.
    Officer,
    /// Reads every row, changes nothing.
    Analyst,
    /// Everything, including people's roles.
    Admin,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::User, Role::Officer, Role::Analyst, Role::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Officer => "officer",
            Role::Analyst => "analyst",
            Role::Admin => "admin",
        }
    }

    pub fn parse(text: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == text)
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One revision of a person: a row of the append-only `users` table. The
/// person is the highest `revision` of their `user_id`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRecord {
    pub user_id: String,
    /// 1 for the registration, then +1 for every change.
    pub revision: i64,
    /// Lower-cased; unique among people when present.
    pub email: Option<String>,
    /// Normalised to `62…` (see [`normalise_phone`]); unique when present.
    pub phone: Option<String>,
    pub display_name: String,
    /// PHC string of an argon2id hash; never leaves the serving layer.
    pub password_hash: String,
    pub role: Role,
    /// The field officer a partner is assigned to.
    pub officer_id: Option<String>,
    pub disabled: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Who made this revision (`None` for self-registration).
    pub updated_by: Option<String>,
}

/// What happened to a refresh token: a row of the append-only
/// `refresh_tokens` log. Tokens of one login form a family; a token is
/// used once, and a second use revokes the family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefreshEvent {
    Issued,
    Used,
    Revoked,
}

/// A row of `refresh_tokens`. Only the SHA-256 of a token is stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefreshTokenRecord {
    /// Hex SHA-256 of the token (for `revoked`, of the token that revoked it, if any).
    pub token_hash: String,
    pub family_id: String,
    pub user_id: String,
    pub event: RefreshEvent,
    pub at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    /// Why a family was revoked: `logout`, `reuse`, `disabled`.
    pub reason: Option<String>,
}

/// `raw` as an Indonesian mobile number in international form without `+`
/// (`0812-3456-789` → `628123456789`), or `None` when it is not one.
pub fn normalise_phone(raw: &str) -> Option<String> {
    let digits: String = raw.chars().filter(|c| !matches!(c, ' ' | '-' | '(' | ')' | '.')).collect();
    let digits = digits.strip_prefix('+').unwrap_or(&digits);
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let national = digits.strip_prefix("62").or_else(|| digits.strip_prefix('0'))?;
    // Mobile numbers start with 8 and have 9 to 12 digits after the 0.
    (national.starts_with('8') && (9..=12).contains(&national.len())).then(|| format!("62{national}"))
}

/// `raw` lower-cased and trimmed when it looks like an e-mail address.
pub fn normalise_email(raw: &str) -> Option<String> {
    let email = raw.trim().to_lowercase();
    let (local, domain) = email.split_once('@')?;
    let ok = !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && email.len() <= 254
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && !domain.contains('@');
    ok.then_some(email)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones_normalise_to_international_form() {
        assert_eq!(normalise_phone("0812-3456-7890").as_deref(), Some("6281234567890"));
        assert_eq!(normalise_phone("+62 812 3456 7890").as_deref(), Some("6281234567890"));
        assert_eq!(normalise_phone("6281234567890").as_deref(), Some("6281234567890"));
        assert_eq!(normalise_phone("021-555-1234"), None, "a landline");
        assert_eq!(normalise_phone("0812"), None);
        assert_eq!(normalise_phone("08123456789012345"), None);
        assert_eq!(normalise_phone("0812abc45678"), None);
    }

    #[test]
    fn emails_are_lower_cased_and_checked() {
        assert_eq!(normalise_email(" Ibu.Rini@Example.co.id ").as_deref(), Some("ibu.rini@example.co.id"));
        assert_eq!(normalise_email("rini"), None);
        assert_eq!(normalise_email("rini@localhost"), None);
        assert_eq!(normalise_email("a b@x.id"), None);
        assert_eq!(normalise_email("@x.id"), None);
    }

    #[test]
    fn roles_round_trip() {
        for role in Role::ALL {
            assert_eq!(Role::parse(role.as_str()), Some(role));
        }
        assert_eq!(Role::parse("root"), None);
    }
}
