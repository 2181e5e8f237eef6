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

    /// The scope of a list request: `principal`'s, or only `user_id` when
    /// given and in it; `None` when `user_id` is outside it (an empty list).
    pub fn of_or_one(principal: &Principal, auth: &AuthStore, user_id: Option<String>) -> Option<Scope> {
        let scope = Scope::of(principal, auth);
        match user_id {
            Some(user) if scope.allows(&user) => Some(Scope::Own(user)),
            Some(_) => None,
            None => Some(scope),
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
        self.lending_of(table, &[customer_number.to_owned()]).await
    }

    /// The rows of several lender customers of a lending table (the
    /// officers' partner list); callers decide who may see them.
    pub async fn lending_of(&self, table: &str, customer_numbers: &[String]) -> Result<DataFrame, ApiError> {
        let frame = self.session.context().table(table).await.map_err(|e| ApiError::unavailable(table, &e))?;
        let numbers = customer_numbers.iter().map(|c| lit(c.clone())).collect();
        frame.filter(col("customer_number").in_list(numbers, false)).map_err(|e| ApiError::unavailable(table, &e))
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

    /// The version of `table` the next query reads.
    pub async fn version(&self, table: &str) -> Result<Option<u64>, ApiError> {
        self.session.version(table).await.map_err(|e| ApiError::unavailable(table, &e))
    }

    /// A fresh SQL context for one query of a principal with `scope` (the
    /// SQL endpoint): every table they may read is registered under its
    /// own name as a view of the lake table with the scope's filter under
    /// it, so joins, subqueries, `UNION` and `information_schema` see only
    /// those rows and tables. Credentials (`users`, `refresh_tokens`) are
    /// never registered; the lender's and operators' tables only for
    /// everyone-scoped roles (analysts, admins); tenant tables for all.
    /// URL tables stay off: a query cannot name a file. Its operators get
    /// at most `memory_bytes`.
    pub fn sql_context(&self, scope: &Scope, memory_bytes: usize) -> Result<datafusion::prelude::SessionContext, ApiError> {
        use datafusion::datasource::{provider_as_source, ViewTable};
        use datafusion::execution::runtime_env::RuntimeEnvBuilder;
        use datafusion::logical_expr::LogicalPlanBuilder;
        use datafusion::prelude::SessionContext;
        let fail = |e: &dyn std::fmt::Display| ApiError::unavailable("the SQL session", e);
        let config = arus_lakehouse::LakeSession::config().with_information_schema(true).with_default_catalog_and_schema("arus", "lake");
        let runtime = RuntimeEnvBuilder::new().with_memory_limit(memory_bytes, 1.0).build_arc().map_err(|e| fail(&e))?;
        let ctx = SessionContext::new_with_config_rt(config, runtime);
        for def in arus_schemas::tables::ALL {
            if matches!(def.name, "users" | "refresh_tokens") {
                continue;
            }
            let tenant = def.schema.field_with_name("user_id").is_ok();
            // The dead-letter table is the operators' (raw payloads, internal reasons).
            let operators = def.name == "dlq";
            let filter = match (tenant && !operators, scope.filter()) {
                (_, None) => None,
                (true, Some(filter)) => Some(filter),
                // Not a person's rows: not for a person-scoped principal.
                (false, Some(_)) => continue,
            };
            let provider = self.session.provider(def.name).ok_or_else(|| fail(&format!("no table {}", def.name)))?;
            let mut plan = LogicalPlanBuilder::scan(def.name, provider_as_source(provider), None).map_err(|e| fail(&e))?;
            if let Some(filter) = filter {
                plan = plan.filter(filter).map_err(|e| fail(&e))?;
            }
            let view = ViewTable::new(plan.build().map_err(|e| fail(&e))?, None);
            ctx.register_table(def.name, std::sync::Arc::new(ScopedTable(view))).map_err(|e| fail(&e))?;
        }
        Ok(ctx)
    }

    /// For readiness checks: a table answers a trivial query.
    pub async fn probe(&self, table: &str) -> Result<(), String> {
        self.session.sql(&format!("SELECT 1 FROM \"{table}\" LIMIT 1")).await.map(|_| ()).map_err(|e| e.to_string())
    }
}

/// A lake table as a person sees it: a view with their row filter under
/// it, that calls itself a table (it is one to them), so clients that list
/// tables — `information_schema`, psql's `\dt`, drivers' metadata — show
/// it as one.
#[derive(Debug)]
struct ScopedTable(datafusion::datasource::ViewTable);

#[async_trait::async_trait]
impl datafusion::catalog::TableProvider for ScopedTable {
    fn schema(&self) -> arrow::datatypes::SchemaRef {
        self.0.schema()
    }

    fn table_type(&self) -> datafusion::datasource::TableType {
        datafusion::datasource::TableType::Base
    }

    fn get_logical_plan(&self) -> Option<std::borrow::Cow<'_, datafusion::logical_expr::LogicalPlan>> {
        self.0.get_logical_plan()
    }

    fn supports_filters_pushdown(&self, filters: &[&Expr]) -> datafusion::error::Result<Vec<datafusion::logical_expr::TableProviderFilterPushDown>> {
        self.0.supports_filters_pushdown(filters)
    }

    async fn scan(
        &self,
        state: &dyn datafusion::catalog::Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> datafusion::error::Result<std::sync::Arc<dyn datafusion::physical_plan::ExecutionPlan>> {
        self.0.scan(state, projection, filters, limit).await
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
