//! People and login sessions, held in memory over two append-only Delta
//! tables the serving layer writes itself (`users`, `refresh_tokens`, see
//! [`arus_lakehouse::AppendLog`]). Reads come from memory and never wait;
//! writes are serialised in this process by a mutex and across processes by
//! the log's commit guard, and every rule (a name not taken, a token not yet
//! used) is checked against the state the commit is made on. Changes made
//! by other instances are picked up by [`AuthStore::reload`].

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::RwLock;

use arus_lakehouse::{AppendLog, Lake, LakeError};
use arus_schemas::people::{RefreshEvent, RefreshTokenRecord};
use arus_schemas::tables;
use arus_schemas::{Role, UserRecord};
use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::sync::Mutex;

use super::tokens::{new_refresh_token, refresh_token_hash};

/// Attempts at a write that keeps meeting other writers' commits.
const MAX_ATTEMPTS: usize = 10;

/// A write to the store failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{field} is already registered")]
    Taken { field: &'static str },
    #[error("no such user")]
    NoSuchUser,
    #[error(transparent)]
    Lake(#[from] LakeError),
    #[error("gave up after {MAX_ATTEMPTS} conflicting commits to {table}")]
    Contended { table: &'static str },
    #[error("password could not be hashed: {0}")]
    Hash(String),
}

/// What a write decided on the state it looked at.
enum Step<T, R> {
    /// Append these rows; once they are stored, answer `R`.
    Append(Vec<T>, R),
    /// Nothing to write.
    Answer(R),
}

/// A row of one of the two logs.
trait Logged: Serialize + DeserializeOwned + Sized {
    const TABLE: &'static str;
    fn log(logs: &mut Logs) -> &mut AppendLog<Self>;
    fn apply(self, view: &mut View);
}

impl Logged for UserRecord {
    const TABLE: &'static str = tables::USERS.name;
    fn log(logs: &mut Logs) -> &mut AppendLog<Self> {
        &mut logs.users
    }
    fn apply(self, view: &mut View) {
        view.apply_user(self)
    }
}

impl Logged for RefreshTokenRecord {
    const TABLE: &'static str = tables::REFRESH_TOKENS.name;
    fn log(logs: &mut Logs) -> &mut AppendLog<Self> {
        &mut logs.tokens
    }
    fn apply(self, view: &mut View) {
        view.apply_token(self)
    }
}

/// Why a refresh token was not accepted. Every variant answers 401.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RefreshRefused {
    #[error("unknown refresh token")]
    Unknown,
    #[error("refresh token expired")]
    Expired,
    #[error("refresh token already used; the session is revoked")]
    Reused,
    #[error("session revoked")]
    Revoked,
    #[error("account disabled")]
    Disabled,
}

/// A refresh token handed to a client, with its session.
#[derive(Debug, Clone)]
pub struct IssuedRefresh {
    pub token: String,
    pub family_id: String,
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
struct TokenState {
    family_id: String,
    user_id: String,
    expires_at: Option<DateTime<Utc>>,
    used: bool,
}

/// What requests read: current people and live sessions.
#[derive(Debug, Default)]
struct View {
    users: HashMap<String, UserRecord>,
    by_email: HashMap<String, String>,
    by_phone: HashMap<String, String>,
    /// Partner ids by the officer they are assigned to.
    by_officer: HashMap<String, BTreeSet<String>>,
    tokens: HashMap<String, TokenState>,
    revoked_families: HashSet<String>,
}

impl View {
    fn apply_user(&mut self, user: UserRecord) {
        if self.users.get(&user.user_id).is_some_and(|u| u.revision >= user.revision) {
            return;
        }
        if let Some(old) = self.users.get(&user.user_id) {
            if let Some(email) = &old.email {
                self.by_email.remove(email);
            }
            if let Some(phone) = &old.phone {
                self.by_phone.remove(phone);
            }
            if let Some(officer) = &old.officer_id {
                if let Some(partners) = self.by_officer.get_mut(officer) {
                    partners.remove(&old.user_id);
                }
            }
        }
        if let Some(email) = &user.email {
            self.by_email.insert(email.clone(), user.user_id.clone());
        }
        if let Some(phone) = &user.phone {
            self.by_phone.insert(phone.clone(), user.user_id.clone());
        }
        if let Some(officer) = &user.officer_id {
            self.by_officer.entry(officer.clone()).or_default().insert(user.user_id.clone());
        }
        self.users.insert(user.user_id.clone(), user);
    }

    fn apply_token(&mut self, record: RefreshTokenRecord) {
        match record.event {
            RefreshEvent::Issued => {
                let entry = self.tokens.entry(record.token_hash).or_insert(TokenState {
                    family_id: record.family_id,
                    user_id: record.user_id,
                    expires_at: record.expires_at,
                    used: false,
                });
                entry.expires_at = record.expires_at;
            }
            RefreshEvent::Used => {
                // `used` may be read before `issued` when rows come unordered.
                let entry = self.tokens.entry(record.token_hash).or_insert(TokenState {
                    family_id: record.family_id,
                    user_id: record.user_id,
                    expires_at: record.expires_at,
                    used: true,
                });
                entry.used = true;
            }
            RefreshEvent::Revoked => {
                self.revoked_families.insert(record.family_id);
            }
        }
    }
}

struct Logs {
    users: AppendLog<UserRecord>,
    tokens: AppendLog<RefreshTokenRecord>,
}

/// People and sessions; see the module documentation.
pub struct AuthStore {
    logs: Mutex<Logs>,
    view: RwLock<View>,
}

/// A new person, before it is stored.
#[derive(Debug, Clone)]
pub struct NewUser {
    /// A chosen id (demo data); a new UUID when `None`.
    pub user_id: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub display_name: String,
    pub password_hash: String,
    pub role: Role,
    pub officer_id: Option<String>,
    pub created_by: Option<String>,
}

/// Changes to a person; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct UserChange {
    pub display_name: Option<String>,
    pub role: Option<Role>,
    /// `Some(None)` removes the assignment.
    pub officer_id: Option<Option<String>>,
    pub disabled: Option<bool>,
    pub password_hash: Option<String>,
}

impl AuthStore {
    /// Opens (creating if needed) both tables and loads them.
    pub async fn open(lake: &Lake) -> Result<AuthStore, StoreError> {
        let logs = Logs {
            users: AppendLog::open(lake, &tables::USERS).await?,
            tokens: AppendLog::open(lake, &tables::REFRESH_TOKENS).await?,
        };
        let store = AuthStore { logs: Mutex::new(logs), view: RwLock::new(View::default()) };
        {
            let logs = store.logs.lock().await;
            store.rebuild(&logs).await?;
        }
        Ok(store)
    }

    async fn rebuild(&self, logs: &Logs) -> Result<(), StoreError> {
        let mut view = View::default();
        for user in logs.users.rows().await? {
            view.apply_user(user);
        }
        let now = Utc::now();
        for record in logs.tokens.rows().await? {
            view.apply_token(record);
        }
        view.tokens.retain(|_, t| t.expires_at.is_none_or(|e| e > now));
        *self.view.write().unwrap_or_else(|p| p.into_inner()) = view;
        Ok(())
    }

    /// Picks up commits made by other instances. Returns true when anything changed.
    pub async fn reload(&self) -> Result<bool, StoreError> {
        let mut logs = self.logs.lock().await;
        let users = logs.users.refresh().await?;
        let tokens = logs.tokens.refresh().await?;
        if users || tokens {
            self.rebuild(&logs).await?;
        }
        Ok(users || tokens)
    }

    fn read<R>(&self, f: impl FnOnce(&View) -> R) -> R {
        f(&self.view.read().unwrap_or_else(|p| p.into_inner()))
    }

    fn write(&self, f: impl FnOnce(&mut View)) {
        f(&mut self.view.write().unwrap_or_else(|p| p.into_inner()))
    }

    /// The current revision of `user_id`.
    pub fn user(&self, user_id: &str) -> Option<UserRecord> {
        self.read(|v| v.users.get(user_id).cloned())
    }

    /// The person whose e-mail or phone (already normalised) is `login`.
    pub fn find_login(&self, email: Option<&str>, phone: Option<&str>) -> Option<UserRecord> {
        self.read(|v| {
            let id = email.and_then(|e| v.by_email.get(e)).or_else(|| phone.and_then(|p| v.by_phone.get(p)))?;
            v.users.get(id).cloned()
        })
    }

    /// Ids of the partners assigned to officer `officer_id`.
    pub fn partners_of(&self, officer_id: &str) -> Vec<String> {
        self.read(|v| v.by_officer.get(officer_id).map(|ids| ids.iter().cloned().collect()).unwrap_or_default())
    }

    /// Every person, ordered by id.
    pub fn users(&self) -> Vec<UserRecord> {
        self.read(|v| {
            let mut all: Vec<UserRecord> = v.users.values().cloned().collect();
            all.sort_by(|a, b| a.user_id.cmp(&b.user_id));
            all
        })
    }

    /// Number of people.
    pub fn user_count(&self) -> usize {
        self.read(|v| v.users.len())
    }

    /// True while session `family_id` has not been revoked.
    pub fn session_active(&self, family_id: &str) -> bool {
        self.read(|v| !v.revoked_families.contains(family_id))
    }

    /// Makes one write: `plan` looks at the current state and says what to
    /// append (and what to answer once it is stored) or answers without
    /// writing. When another instance committed first, the state is reloaded
    /// and `plan` decides again, so every rule it checks held when the commit
    /// landed.
    async fn commit<T: Logged, R>(
        &self,
        logs: &mut Logs,
        mut plan: impl FnMut(&View) -> Result<Step<T, R>, StoreError>,
    ) -> Result<R, StoreError> {
        for _ in 0..MAX_ATTEMPTS {
            let (rows, answer) = match self.read(&mut plan)? {
                Step::Answer(answer) => return Ok(answer),
                Step::Append(rows, answer) => (rows, answer),
            };
            match T::log(logs).append(&rows).await {
                Ok(_) => {
                    self.write(|v| rows.into_iter().for_each(|row| row.apply(v)));
                    return Ok(answer);
                }
                Err(LakeError::Conflict { .. }) => self.catch_up(logs).await?,
                Err(e) => return Err(e.into()),
            }
        }
        Err(StoreError::Contended { table: T::TABLE })
    }

    async fn catch_up(&self, logs: &mut Logs) -> Result<(), StoreError> {
        logs.users.refresh().await?;
        logs.tokens.refresh().await?;
        self.rebuild(logs).await
    }

    /// Stores a new person; their e-mail and phone must not be taken.
    pub async fn register(&self, new: NewUser) -> Result<UserRecord, StoreError> {
        let now = Utc::now();
        let user = UserRecord {
            user_id: new.user_id.unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
            revision: 1,
            email: new.email,
            phone: new.phone,
            display_name: new.display_name,
            password_hash: new.password_hash,
            role: new.role,
            officer_id: new.officer_id,
            disabled: false,
            created_at: now,
            updated_at: now,
            updated_by: new.created_by,
        };
        let mut logs = self.logs.lock().await;
        self.commit(&mut logs, |v| {
            let taken = if v.users.contains_key(&user.user_id) {
                Some("user_id")
            } else if user.email.as_ref().is_some_and(|e| v.by_email.contains_key(e)) {
                Some("email")
            } else if user.phone.as_ref().is_some_and(|p| v.by_phone.contains_key(p)) {
                Some("phone")
            } else {
                None
            };
            match taken {
                Some(field) => Err(StoreError::Taken { field }),
                None => Ok(Step::Append(vec![user.clone()], user.clone())),
            }
        })
        .await
    }

    /// Stores the next revision of `user_id` with `change` applied by `actor`.
    pub async fn update(&self, user_id: &str, change: UserChange, actor: &str) -> Result<UserRecord, StoreError> {
        let mut logs = self.logs.lock().await;
        self.commit(&mut logs, |v| {
            let current = v.users.get(user_id).cloned().ok_or(StoreError::NoSuchUser)?;
            let next = UserRecord {
                revision: current.revision + 1,
                display_name: change.display_name.clone().unwrap_or_else(|| current.display_name.clone()),
                role: change.role.unwrap_or(current.role),
                officer_id: change.officer_id.clone().unwrap_or_else(|| current.officer_id.clone()),
                disabled: change.disabled.unwrap_or(current.disabled),
                password_hash: change.password_hash.clone().unwrap_or_else(|| current.password_hash.clone()),
                updated_at: Utc::now(),
                updated_by: Some(actor.to_owned()),
                ..current
            };
            Ok(Step::Append(vec![next.clone()], next))
        })
        .await
    }

    /// Starts a new session (token family) for `user_id`.
    pub async fn start_session(&self, user_id: &str, ttl_s: u64) -> Result<IssuedRefresh, StoreError> {
        let (issued, record) = issue(user_id, &uuid::Uuid::new_v4().to_string(), ttl_s);
        let mut logs = self.logs.lock().await;
        self.commit(&mut logs, |_| Ok(Step::Append(vec![record.clone()], issued.clone()))).await
    }

    /// Exchanges `token` for a new one in the same session. A token can be
    /// used once: presenting it again revokes its whole session (someone
    /// holds a copy). Returns the person and the new token.
    pub async fn rotate(&self, token: &str, ttl_s: u64) -> Result<Result<(UserRecord, IssuedRefresh), RefreshRefused>, StoreError> {
        let hash = refresh_token_hash(token);
        let mut logs = self.logs.lock().await;
        self.commit(&mut logs, |v| {
            let Some(state) = v.tokens.get(&hash) else { return Ok(Step::Answer(Err(RefreshRefused::Unknown))) };
            if v.revoked_families.contains(&state.family_id) {
                return Ok(Step::Answer(Err(RefreshRefused::Revoked)));
            }
            // Reuse or a disabled account revokes the session, then refuses.
            let revoke = |reason, refused| {
                let record = revocation(&state.family_id, &state.user_id, Some(&hash), reason);
                Ok(Step::Append(vec![record], Err(refused)))
            };
            if state.used {
                return revoke("reuse", RefreshRefused::Reused);
            }
            let now = Utc::now();
            if state.expires_at.is_some_and(|e| e <= now) {
                return Ok(Step::Answer(Err(RefreshRefused::Expired)));
            }
            let Some(user) = v.users.get(&state.user_id).filter(|u| !u.disabled) else {
                return revoke("disabled", RefreshRefused::Disabled);
            };
            let used = RefreshTokenRecord {
                token_hash: hash.clone(),
                family_id: state.family_id.clone(),
                user_id: state.user_id.clone(),
                event: RefreshEvent::Used,
                at: now,
                expires_at: state.expires_at,
                reason: None,
            };
            let (issued, record) = issue(&state.user_id, &state.family_id, ttl_s);
            Ok(Step::Append(vec![used, record], Ok((user.clone(), issued))))
        })
        .await
    }

    /// Ends session `family_id` (logout): its refresh tokens and access
    /// tokens stop working at once.
    pub async fn revoke_session(&self, family_id: &str, user_id: &str, reason: &str) -> Result<(), StoreError> {
        let record = revocation(family_id, user_id, None, reason);
        let mut logs = self.logs.lock().await;
        self.commit(&mut logs, |v| {
            Ok(if v.revoked_families.contains(family_id) {
                Step::Answer(())
            } else {
                Step::Append(vec![record.clone()], ())
            })
        })
        .await
    }

    /// The session a refresh token belongs to, if known.
    pub fn session_of(&self, token: &str) -> Option<(String, String)> {
        let hash = refresh_token_hash(token);
        self.read(|v| v.tokens.get(&hash).map(|t| (t.family_id.clone(), t.user_id.clone())))
    }
}

fn issue(user_id: &str, family_id: &str, ttl_s: u64) -> (IssuedRefresh, RefreshTokenRecord) {
    let token = new_refresh_token();
    let now = Utc::now();
    let expires_at = now + chrono::Duration::seconds(ttl_s as i64);
    let record = RefreshTokenRecord {
        token_hash: refresh_token_hash(&token),
        family_id: family_id.to_owned(),
        user_id: user_id.to_owned(),
        event: RefreshEvent::Issued,
        at: now,
        expires_at: Some(expires_at),
        reason: None,
    };
    (IssuedRefresh { token, family_id: family_id.to_owned(), expires_at }, record)
}

fn revocation(family_id: &str, user_id: &str, token_hash: Option<&str>, reason: &str) -> RefreshTokenRecord {
    RefreshTokenRecord {
        token_hash: token_hash.unwrap_or_default().to_owned(),
        family_id: family_id.to_owned(),
        user_id: user_id.to_owned(),
        event: RefreshEvent::Revoked,
        at: Utc::now(),
        expires_at: None,
        reason: Some(reason.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new_user(email: &str) -> NewUser {
        NewUser {
            user_id: None,
            email: Some(email.into()),
            phone: None,
            display_name: "Ibu Rini".into(),
            password_hash: "$argon2id$x".into(),
            role: Role::User,
            officer_id: None,
            created_by: None,
        }
    }

    #[tokio::test]
    async fn names_stay_unique_across_two_instances() {
        let dir = tempfile::tempdir().unwrap();
        let lake = Lake::at(dir.path().to_str().unwrap()).unwrap();
        let a = AuthStore::open(&lake).await.unwrap();
        let b = AuthStore::open(&lake).await.unwrap();
        a.register(new_user("rini@example.id")).await.unwrap();
        // b has not reloaded: its commit meets a's, it catches up and refuses.
        let err = b.register(new_user("rini@example.id")).await.unwrap_err();
        assert!(matches!(err, StoreError::Taken { field: "email" }), "{err}");
        let other = b.register(new_user("budi@example.id")).await.unwrap();
        assert!(a.reload().await.unwrap());
        assert_eq!(a.find_login(Some("budi@example.id"), None).unwrap().user_id, other.user_id);
    }

    #[tokio::test]
    async fn a_refresh_token_works_once_and_its_reuse_revokes_the_session() {
        let dir = tempfile::tempdir().unwrap();
        let lake = Lake::at(dir.path().to_str().unwrap()).unwrap();
        let store = AuthStore::open(&lake).await.unwrap();
        let user = store.register(new_user("rini@example.id")).await.unwrap();
        let first = store.start_session(&user.user_id, 3600).await.unwrap();
        let (_, second) = store.rotate(&first.token, 3600).await.unwrap().unwrap();
        assert_eq!(second.family_id, first.family_id);
        assert!(store.session_active(&first.family_id));
        assert_eq!(store.rotate(&first.token, 3600).await.unwrap().unwrap_err(), RefreshRefused::Reused);
        assert!(!store.session_active(&first.family_id));
        assert_eq!(store.rotate(&second.token, 3600).await.unwrap().unwrap_err(), RefreshRefused::Revoked);
        assert_eq!(store.rotate("nonsense", 3600).await.unwrap().unwrap_err(), RefreshRefused::Unknown);

        // A reopened store knows all of it from the tables alone.
        let reopened = AuthStore::open(&lake).await.unwrap();
        assert!(!reopened.session_active(&first.family_id));
        assert_eq!(reopened.rotate(&second.token, 3600).await.unwrap().unwrap_err(), RefreshRefused::Revoked);
        let fresh = reopened.start_session(&user.user_id, 3600).await.unwrap();
        reopened.revoke_session(&fresh.family_id, &user.user_id, "logout").await.unwrap();
        assert_eq!(reopened.rotate(&fresh.token, 3600).await.unwrap().unwrap_err(), RefreshRefused::Revoked);
    }
}
