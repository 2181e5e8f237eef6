//! The WhatsApp jobs: `wa-router` answers people ([`router`]) and
//! `notifier` sends what arus has to say through WAHA ([`notifier`]).
//! Who a number belongs to is in [`people`]; the figures replies quote in
//! [`facts`].

pub mod facts;
pub mod notifier;
pub mod people;
pub mod router;
