//! Who is behind a WhatsApp number, and which number reaches a person:
//! the `whatsapp_links` table (set by an admin or officer through
//! `/api/v1/whatsapp/links`) first, else the mobile number a person
//! registered with. Both tables are append-only logs read whole when they
//! change: the router checks their Delta logs on every message (a listing
//! of two `_delta_log`s), so a number linked or unlinked a moment ago
//! counts on its next message; the notifier checks every few seconds.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use arus_lakehouse::{AppendLog, Lake, LakeError};
use arus_schemas::whatsapp::{chat_id_of, WaLink};
use arus_schemas::{tables, Role, UserRecord};

/// A person as the WhatsApp jobs need them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    pub user_id: String,
    pub name: String,
    pub role: Role,
    pub officer_id: Option<String>,
    /// Their number in the lender's book, when a link says it.
    pub customer_id: Option<String>,
}

pub struct Directory {
    users: AppendLog<UserRecord>,
    links: AppendLog<WaLink>,
    people: HashMap<String, UserRecord>,
    /// Active links by phone: (user, customer).
    by_phone: HashMap<String, (String, Option<String>)>,
    /// Active link phones by user (the most recently linked first).
    phones_of: HashMap<String, String>,
    loaded: Option<Instant>,
    every: Duration,
}

impl Directory {
    pub async fn open(lake: &Lake, every: Duration) -> Result<Self, LakeError> {
        let users = AppendLog::open(lake, &tables::USERS).await?;
        let links = AppendLog::open(lake, &tables::WHATSAPP_LINKS).await?;
        let mut directory = Directory { users, links, people: HashMap::new(), by_phone: HashMap::new(), phones_of: HashMap::new(), loaded: None, every };
        directory.reload().await?;
        Ok(directory)
    }

    /// Reloads when the last load is older than the refresh interval.
    pub async fn refresh(&mut self) -> Result<(), LakeError> {
        if self.loaded.is_none_or(|at| at.elapsed() >= self.every) {
            self.reload().await?;
        }
        Ok(())
    }

    /// Reads the tables again now (when someone is not found: a link made
    /// a moment ago must not wait for the refresh interval).
    pub async fn refresh_now(&mut self) -> Result<(), LakeError> {
        self.reload().await
    }

    /// Reads the tables again when either changed since the last read.
    async fn reload(&mut self) -> Result<(), LakeError> {
        let users_changed = self.users.refresh().await?;
        let links_changed = self.links.refresh().await?;
        let first = self.loaded.is_none();
        self.loaded = Some(Instant::now());
        if !(first || users_changed || links_changed) {
            return Ok(());
        }
        let mut people: HashMap<String, UserRecord> = HashMap::new();
        for u in self.users.rows().await? {
            if people.get(&u.user_id).is_none_or(|seen| seen.revision < u.revision) {
                people.insert(u.user_id.clone(), u);
            }
        }
        let mut latest: HashMap<String, WaLink> = HashMap::new();
        for l in self.links.rows().await? {
            if latest.get(&l.phone).is_none_or(|seen| seen.revision < l.revision) {
                latest.insert(l.phone.clone(), l);
            }
        }
        let mut active: Vec<WaLink> = latest.into_values().filter(|l| l.active).collect();
        active.sort_by_key(|l| l.updated_at);
        self.by_phone = active.iter().map(|l| (l.phone.clone(), (l.user_id.clone(), l.customer_id.clone()))).collect();
        // Later links overwrite earlier ones: a person's newest number wins.
        self.phones_of = active.into_iter().map(|l| (l.user_id, l.phone)).collect();
        self.people = people;
        Ok(())
    }

    fn person_of(&self, user_id: &str, customer_id: Option<String>) -> Option<Person> {
        let u = self.people.get(user_id).filter(|u| !u.disabled)?;
        Some(Person { user_id: u.user_id.clone(), name: u.display_name.clone(), role: u.role, officer_id: u.officer_id.clone(), customer_id })
    }

    /// The person behind `phone` (`628…`), as loaded.
    pub fn by_phone(&self, phone: &str) -> Option<Person> {
        if let Some((user, customer)) = self.by_phone.get(phone) {
            return self.person_of(user, customer.clone());
        }
        let u = self.people.values().find(|u| u.phone.as_deref() == Some(phone) && !u.disabled)?;
        self.person_of(&u.user_id.clone(), None)
    }

    /// [`Directory::by_phone`] as the tables are now (a link made or
    /// removed a moment ago counts).
    pub async fn find(&mut self, phone: &str) -> Result<Option<Person>, LakeError> {
        self.reload().await?;
        Ok(self.by_phone(phone))
    }

    /// The person `user_id`, or the person whose lender customer number it is.
    pub fn person(&self, user_id: &str) -> Option<Person> {
        let customer = self.by_phone.values().find(|(u, _)| u == user_id).and_then(|(_, c)| c.clone());
        if let Some(p) = self.person_of(user_id, customer) {
            return Some(p);
        }
        let (user, customer) = self.by_phone.values().find(|(_, c)| c.as_deref() == Some(user_id))?;
        self.person_of(user, customer.clone())
    }

    /// The chat that reaches `user_id`: their linked number, else the one they registered.
    pub fn chat_of(&self, user_id: &str) -> Option<String> {
        if let Some(phone) = self.phones_of.get(user_id) {
            return Some(chat_id_of(phone));
        }
        let u = self.people.get(user_id).filter(|u| !u.disabled)?;
        u.phone.as_deref().map(chat_id_of)
    }
}
