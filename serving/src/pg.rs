//! The Postgres wire protocol on `ARUS_PG_ADDR`, for analysts' tools
//! (psql, JDBC and ODBC drivers, BI tools): the same read-only SQL over
//! the same row filter as `POST /api/v1/sql`.
//!
//! A connection logs in with an arus login (email or phone) and password
//! (cleartext password authentication: put it behind TLS or a tunnel off
//! this machine), throttled like the HTTP login. Once in, the connection
//! gets a DataFusion context of its own from
//! [`crate::rows::Tables::sql_context`] — every table a view with the
//! person's row filter under it, credentials never registered — with a
//! `pg_catalog` over that context (so `\dt` and drivers' metadata queries
//! list exactly those tables). datafusion-postgres speaks the protocol
//! (simple and extended queries, types); a hook in front of it lets
//! through only queries (and the session chatter clients send: `SET`,
//! `SHOW`, `BEGIN`/`COMMIT`, cursors) and refuses everything else —
//! DDL, DML, `COPY`, `SELECT … INTO`. Each query is bounded by
//! `ARUS_SQL_TIMEOUT_MS` and `ARUS_SQL_MEMORY_MB`. Logins and refused
//! statements are audited.

use std::fmt::Debug;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use arus_schemas::AuditOutcome;
use async_trait::async_trait;
use datafusion::common::ParamValues;
use datafusion::logical_expr::LogicalPlan;
use datafusion::prelude::SessionContext;
use datafusion::sql::sqlparser::ast::{SetExpr, Statement};
use datafusion_postgres::datafusion_pg_catalog::pg_catalog::context::EmptyContextProvider;
use datafusion_postgres::datafusion_pg_catalog::pg_catalog::setup_pg_catalog;
use datafusion_postgres::hooks::cursor::CursorStatementHook;
use datafusion_postgres::hooks::set_show::SetShowHook;
use datafusion_postgres::hooks::transactions::TransactionStatementHook;
use datafusion_postgres::hooks::{HookClient, QueryHook};
use datafusion_postgres::pgwire::api::auth::{
    finish_authentication, protocol_negotiation, save_startup_parameters_to_metadata, DefaultServerParameterProvider, StartupHandler,
};
use datafusion_postgres::pgwire::api::portal::Portal;
use datafusion_postgres::pgwire::api::query::{ExtendedQueryHandler, SimpleQueryHandler};
use datafusion_postgres::pgwire::api::results::Response;
use datafusion_postgres::pgwire::api::store::PortalStore;
use datafusion_postgres::pgwire::api::{ClientInfo, ClientPortalStore, PgWireConnectionState, PgWireServerHandlers};
use datafusion_postgres::pgwire::error::{ErrorInfo, PgWireError, PgWireResult};
use datafusion_postgres::pgwire::messages::startup::Authentication;
use datafusion_postgres::pgwire::messages::{PgWireBackendMessage, PgWireFrontendMessage};
use datafusion_postgres::{DfSessionService, Parser};
use futures::{Sink, SinkExt};
use tokio_util::sync::CancellationToken;

use crate::audit::Audit;
use crate::auth::{check_login, LoginRefused, Principal};
use crate::observe::RequestInfo;
use crate::rows::Scope;
use crate::State;

/// Serves the protocol on `addr` until `shutdown`; returns the bound address through `bound`.
pub async fn serve(state: State, addr: SocketAddr, shutdown: CancellationToken, bound: Option<tokio::sync::oneshot::Sender<SocketAddr>>) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    tracing::info!(%addr, "Postgres wire protocol listening (read-only SQL; log in with an arus login and password)");
    if let Some(bound) = bound {
        let _ = bound.send(addr);
    }
    loop {
        let (socket, remote) = tokio::select! {
            () = shutdown.cancelled() => return Ok(()),
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!(error = %e, "accepting a Postgres connection failed");
                    continue;
                }
            },
        };
        let connection = Arc::new(Connection { state: state.clone(), remote, session: OnceLock::new() });
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            tokio::select! {
                () = shutdown.cancelled() => {}
                done = datafusion_postgres::pgwire::tokio::process_socket(socket, None, Handlers(connection)) => {
                    if let Err(e) = done {
                        tracing::debug!(error = %e, %remote, "Postgres connection ended");
                    }
                }
            }
        });
    }
}

/// One client connection: who logged in, and their SQL session.
struct Connection {
    state: State,
    remote: SocketAddr,
    session: OnceLock<(Principal, Arc<DfSessionService>)>,
}

fn error(code: &str, message: impl Into<String>) -> PgWireError {
    PgWireError::UserError(Box::new(ErrorInfo::new("ERROR".to_owned(), code.to_owned(), message.into())))
}

/// What the audit trail and logs know of one exchange on a connection from `remote`.
fn request(remote: SocketAddr) -> RequestInfo {
    RequestInfo { id: format!("pg-{}", uuid::Uuid::new_v4().simple()), remote: Some(remote) }
}

impl Connection {
    fn service(&self) -> PgWireResult<&Arc<DfSessionService>> {
        self.session.get().map(|(_, s)| s).ok_or_else(|| error("28000", "not logged in"))
    }

    /// Checks `login`/`secret` as the HTTP login does; the principal on success.
    async fn log_in(&self, login: &str, secret: String) -> Result<Principal, PgWireError> {
        let info = request(self.remote);
        let user = match check_login(&self.state, &info, "pg.login", login, secret).await {
            Ok(user) => user,
            Err(LoginRefused::Throttled(retry_after)) => {
                return Err(error("28P01", format!("too many failed logins; try again in {} s", retry_after.as_secs().max(1))));
            }
            Err(LoginRefused::Failed) => return Err(PgWireError::InvalidPassword(login.to_owned())),
        };
        let principal = Principal { user_id: user.user_id.clone(), role: user.role, session_id: format!("pg:{}", self.remote) };
        let audit = Audit { action: "pg.login", outcome: AuditOutcome::Success, actor: Some(&principal), target: Some(&user.user_id), detail: None };
        self.state.auditor.record(&info, audit).await;
        Ok(principal)
    }

    /// The person's SQL session: their scoped tables, a pg_catalog over them, the read-only hook.
    fn open_session(&self, principal: &Principal) -> Result<Arc<DfSessionService>, PgWireError> {
        let state = &self.state;
        let scope = Scope::of(principal, &state.auth);
        let ctx = state.tables.sql_context(&scope, state.config.sql_memory_mb * 1024 * 1024).map_err(|e| error("XX000", format!("{e:?}")))?;
        setup_pg_catalog(&ctx, "arus", EmptyContextProvider).map_err(|e| error("XX000", e.to_string()))?;
        let hooks: Vec<Arc<dyn QueryHook>> = vec![
            Arc::new(ReadOnly { state: state.clone(), principal: principal.clone(), remote: self.remote }),
            Arc::new(CursorStatementHook),
            Arc::new(SetShowHook),
            Arc::new(TransactionStatementHook),
        ];
        Ok(Arc::new(DfSessionService::new_with_hooks(Arc::new(ctx), hooks)))
    }
}

/// The handlers of one connection.
struct Handlers(Arc<Connection>);

impl PgWireServerHandlers for Handlers {
    fn simple_query_handler(&self) -> Arc<impl SimpleQueryHandler> {
        self.0.clone()
    }

    fn extended_query_handler(&self) -> Arc<impl ExtendedQueryHandler> {
        self.0.clone()
    }

    fn startup_handler(&self) -> Arc<impl StartupHandler> {
        self.0.clone()
    }
}

fn parameters() -> DefaultServerParameterProvider {
    let mut p = DefaultServerParameterProvider::default();
    p.is_superuser = false;
    p.default_transaction_read_only = true;
    p.search_path = "lake".to_owned();
    p
}

#[async_trait]
impl StartupHandler for Connection {
    async fn on_startup<C>(&self, client: &mut C, message: PgWireFrontendMessage) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        match message {
            PgWireFrontendMessage::Startup(ref startup) => {
                protocol_negotiation(client, startup).await?;
                save_startup_parameters_to_metadata(client, startup);
                client.set_state(PgWireConnectionState::AuthenticationInProgress);
                client.send(PgWireBackendMessage::Authentication(Authentication::CleartextPassword)).await?;
            }
            PgWireFrontendMessage::PasswordMessageFamily(pwd) => {
                let pwd = pwd.into_password()?;
                let login = client.metadata().get("user").cloned().unwrap_or_default();
                let principal = self.log_in(&login, pwd.password).await?;
                let service = self.open_session(&principal)?;
                let _ = self.session.set((principal, service));
                finish_authentication(client, &parameters()).await?;
            }
            _ => {}
        }
        Ok(())
    }
}

/// Refuses what is not a query before DataFusion sees it; lets the
/// session statements through to the hooks after it.
struct ReadOnly {
    state: State,
    principal: Principal,
    remote: SocketAddr,
}

/// `None` when `statement` may run; else why not.
pub fn refusal(statement: &Statement) -> Option<String> {
    let into = |q: &datafusion::sql::sqlparser::ast::Query| matches!(q.body.as_ref(), SetExpr::Select(s) if s.into.is_some());
    match statement {
        Statement::Query(q) if into(q) => Some("SELECT … INTO writes a table; arus SQL is read-only".into()),
        Statement::Query(_) => None,
        Statement::Explain { statement, .. } if matches!(statement.as_ref(), Statement::Query(q) if !into(q)) => None,
        // What clients say to set up a session, and cursors over queries.
        Statement::Set(_)
        | Statement::ShowVariable { .. }
        | Statement::ShowVariables { .. }
        | Statement::StartTransaction { .. }
        | Statement::Commit { .. }
        | Statement::Rollback { .. }
        | Statement::Declare { .. }
        | Statement::Fetch { .. }
        | Statement::Close { .. } => None,
        other => {
            let first = other.to_string().split_whitespace().next().unwrap_or("this").to_uppercase();
            Some(format!("{first} is not allowed: arus SQL is read-only (queries, EXPLAIN, SET/SHOW)"))
        }
    }
}

impl ReadOnly {
    async fn check(&self, statement: &Statement) -> Option<PgWireError> {
        let why = refusal(statement)?;
        let info = request(self.remote);
        let sql: String = statement.to_string().chars().take(500).collect();
        self.state
            .auditor
            .record(&info, Audit { action: "pg.query", outcome: AuditOutcome::Refused, actor: Some(&self.principal), target: None, detail: Some(sql) })
            .await;
        // 25006: read_only_sql_transaction.
        Some(error("25006", why))
    }
}

#[async_trait]
impl QueryHook for ReadOnly {
    async fn handle_simple_query(&self, statement: &Statement, _: &SessionContext, _: &mut dyn HookClient) -> Option<PgWireResult<Response>> {
        self.check(statement).await.map(Err)
    }

    async fn handle_extended_parse_query(&self, statement: &Statement, _: &SessionContext, _: &(dyn ClientInfo + Send + Sync)) -> Option<PgWireResult<LogicalPlan>> {
        self.check(statement).await.map(Err)
    }

    async fn handle_extended_query(&self, statement: &Statement, _: &LogicalPlan, _: &ParamValues, _: &SessionContext, _: &mut dyn HookClient) -> Option<PgWireResult<Response>> {
        self.check(statement).await.map(Err)
    }
}

impl Connection {
    fn timeout(&self) -> Duration {
        Duration::from_millis(self.state.config.sql_timeout_ms)
    }

    fn timed_out(&self) -> PgWireError {
        // 57014: query_canceled.
        error("57014", format!("the query took longer than {} ms (ARUS_SQL_TIMEOUT_MS)", self.state.config.sql_timeout_ms))
    }
}

#[async_trait]
impl SimpleQueryHandler for Connection {
    async fn do_query<C>(&self, client: &mut C, query: &str) -> PgWireResult<Vec<Response>>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let service = self.service()?.clone();
        tokio::time::timeout(self.timeout(), SimpleQueryHandler::do_query(service.as_ref(), client, query)).await.map_err(|_| self.timed_out())?
    }
}

#[async_trait]
impl ExtendedQueryHandler for Connection {
    type Statement = <DfSessionService as ExtendedQueryHandler>::Statement;
    type QueryParser = Parser;

    fn query_parser(&self) -> Arc<Parser> {
        match self.service() {
            Ok(service) => service.query_parser(),
            // Not reachable: pgwire takes no Parse before the login ends.
            Err(_) => DfSessionService::new(Arc::new(SessionContext::new())).query_parser(),
        }
    }

    async fn do_query<C>(&self, client: &mut C, portal: &Portal<Self::Statement>, max_rows: usize) -> PgWireResult<Response>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let service = self.service()?.clone();
        tokio::time::timeout(self.timeout(), ExtendedQueryHandler::do_query(service.as_ref(), client, portal, max_rows)).await.map_err(|_| self.timed_out())?
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
    use datafusion::sql::sqlparser::parser::Parser as SqlParser;

    fn refused(sql: &str) -> bool {
        let statements = SqlParser::parse_sql(&PostgreSqlDialect {}, sql).unwrap();
        refusal(&statements[0]).is_some()
    }

    #[test]
    fn only_queries_and_session_statements_pass() {
        for ok in [
            "SELECT 1",
            "WITH t AS (SELECT 1 AS x) SELECT x FROM t",
            "EXPLAIN SELECT * FROM transactions",
            "SET extra_float_digits = 3",
            "SHOW search_path",
            "BEGIN",
            "COMMIT",
            "ROLLBACK",
        ] {
            assert!(!refused(ok), "{ok}");
        }
        for bad in [
            "INSERT INTO transactions VALUES (1)",
            "UPDATE transactions SET amount = 0",
            "DELETE FROM transactions",
            "CREATE TABLE t (x INT)",
            "CREATE EXTERNAL TABLE t STORED AS CSV LOCATION '/etc/passwd'",
            "DROP TABLE transactions",
            "COPY transactions TO '/tmp/x.csv'",
            "SELECT * INTO t FROM transactions",
            "EXPLAIN DELETE FROM transactions",
        ] {
            // DataFusion's own dialect parses CREATE EXTERNAL TABLE; the Postgres one may not: either way it never runs.
            match SqlParser::parse_sql(&PostgreSqlDialect {}, bad) {
                Ok(s) => assert!(refusal(&s[0]).is_some(), "{bad}"),
                Err(_) => {}
            }
        }
    }
}
