//! Row-level security: the one place that decides which rows of a table a
//! request may see. Every table query of the API starts from
//! [`Tables::scoped`], which applies the principal's [`Scope`] as a filter
//! on `user_id` before anything else; the DataFusion session itself is
//! private to this module. A row outside the scope is indistinguishable
//! from a row that does not exist (404, never 403).

use arus_lakehouse::LakeSession;
use arus_schemas::Role;
use datafusion::dataframe::DataFrame;
use datafusion::prelude::{col, lit, Expr};

use crate::auth::store::AuthStore;
use crate::auth::Principal;
use crate::error::ApiError;

/// Whose rows a principal sees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// One tenant's rows (role `user`).
    Own(String),
    /// The rows of these tenants (an officer: their partners and themselves).
    Tenants(Vec<String>),
    /// Every row (analysts, admins).
    All,
}

impl Scope {
    /// The scope of `principal`, with an officer's partners as they are now.
    pub fn of(principal: &Principal, auth: &AuthStore) -> Scope {
        match principal.role {
            Role::User => Scope::Own(principal.user_id.clone()),
            Role::Officer => {
                let mut tenants = auth.partners_of(&principal.user_id);
                tenants.push(principal.user_id.clone());
                Scope::Tenants(tenants)
            }
            Role::Analyst | Role::Admin => Scope::All,
        }
    }

    /// True when rows of `user_id` are visible.
    pub fn allows(&self, user_id: &str) -> bool {
        match self {
            Scope::Own(own) => own == user_id,
            Scope::Tenants(ids) => ids.iter().any(|id| id == user_id),
            Scope::All => true,
        }
    }

    /// The filter on `user_id`; `None` for every row.
    pub fn filter(&self) -> Option<Expr> {
        match self {
            Scope::Own(own) => Some(col("user_id").eq(lit(own.clone()))),
            Scope::Tenants(ids) if ids.is_empty() => Some(lit(false)),
            Scope::Tenants(ids) => Some(col("user_id").in_list(ids.iter().map(|id| lit(id.clone())).collect(), false)),
            Scope::All => None,
        }
    }
}

/// The tables, as seen by one principal.
#[derive(Clone)]
pub struct Tables {
    session: LakeSession,
}

impl Tables {
    pub fn new(session: LakeSession) -> Self {
        Tables { session }
    }

    /// The rows of one lender customer (`customer_number`) of a lending
    /// table; callers decide first whether the principal may see them
    /// (see `api::tiers`).
    pub async fn lending(&self, table: &str, customer_number: &str) -> Result<DataFrame, ApiError> {
        let frame = self.session.context().table(table).await.map_err(|e| ApiError::unavailable(table, &e))?;
        frame.filter(col("customer_number").eq(lit(customer_number.to_owned()))).map_err(|e| ApiError::unavailable(table, &e))
    }

    /// `table` restricted to `scope`: the only way the API reads a table
    /// that holds tenants' rows.
    pub async fn scoped(&self, scope: &Scope, table: &str) -> Result<DataFrame, ApiError> {
        let frame = self.session.context().table(table).await.map_err(|e| ApiError::unavailable(table, &e))?;
        match scope.filter() {
            Some(filter) => frame.filter(filter).map_err(|e| ApiError::unavailable(table, &e)),
            None => Ok(frame),
        }
    }

    /// The values partition column `column` of `table` has now, ascending
    /// (which months `transactions` holds). Not tenant data: a value says
    /// that some row exists, not whose.
    pub async fn partition_values(&self, table: &str, column: &str) -> Result<std::collections::BTreeSet<String>, ApiError> {
        let partitions = self.session.partitions(table).await.map_err(|e| ApiError::unavailable(table, &e))?;
        Ok(partitions.get(column).cloned().unwrap_or_default())
    }

    /// For readiness checks: a table answers a trivial query.
    pub async fn probe(&self, table: &str) -> Result<(), String> {
        self.session.sql(&format!("SELECT 1 FROM \"{table}\" LIMIT 1")).await.map(|_| ()).map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_allow_exactly_their_tenants() {
        let own = Scope::Own("a".into());
        assert!(own.allows("a") && !own.allows("b"));
        let tenants = Scope::Tenants(vec!["a".into(), "c".into()]);
        assert!(tenants.allows("c") && !tenants.allows("b"));
        assert!(Scope::All.allows("anyone"));
        assert!(Scope::All.filter().is_none());
        assert_eq!(Scope::Tenants(vec![]).filter(), Some(lit(false)));
    }
}
