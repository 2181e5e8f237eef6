//! `POST /api/v1/sql`: read-only SQL over the lakehouse, for analysts and
//! for everyone over their own rows. One statement, a query (`SELECT`,
//! `WITH`, `VALUES`) or `EXPLAIN` of one; DataFusion's own plan checks
//! refuse DDL, DML (`INSERT`, `COPY`) and statements (`SET`) on top. The
//! query runs in a fresh context of the caller's scope
//! ([`crate::rows::Tables::sql_context`]): every table is a view with the
//! row filter under the query, so joins, subqueries, `UNION` and
//! `information_schema` see only the caller's rows and tables; no table
//! can be a file. Answers are limited in rows (`ARUS_SQL_MAX_ROWS`), time
//! (`ARUS_SQL_TIMEOUT_MS`) and memory (`ARUS_SQL_MEMORY_MB`), as JSON,
//! CSV (`Accept: text/csv`) or Arrow IPC (`Accept:
//! application/vnd.apache.arrow.stream`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::record_batch::RecordBatch;
use arus_schemas::{AuditOutcome, Lang, ValidationError};
use datafusion::execution::context::SQLOptions;
use datafusion::prelude::SessionContext;
use datafusion::sql::parser::{DFParser, Statement};
use datafusion::sql::sqlparser::ast::Statement as SqlStatement;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use warp::http::StatusCode;
use warp::{Filter, Rejection, Reply};

use super::with_state;
use crate::audit::Audit;
use crate::auth::{authenticated, Principal};
use crate::error::{decode_json, lang, ApiError, ErrorBody};
use crate::observe::{request_info, RequestInfo};
use crate::rows::Scope;
use crate::State;

pub const ARROW_STREAM: &str = "application/vnd.apache.arrow.stream";

pub fn routes(state: State) -> impl Filter<Extract = (impl Reply,), Error = Rejection> + Clone {
    warp::path("sql")
        .and(warp::path::end())
        .and(warp::post())
        .and(authenticated(state.clone()))
        .and(warp::header::optional::<String>("accept"))
        .and(warp::body::content_length_limit(state.config.http_max_body_bytes))
        .and(warp::body::bytes())
        .and(lang())
        .and(request_info())
        .and(with_state(state))
        .and_then(run)
}

/// A query.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SqlRequest {
    pub sql: String,
    /// At most this many rows (and never more than the server's limit).
    #[serde(default)]
    pub max_rows: Option<usize>,
}

/// A column of the answer.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SqlColumn {
    pub name: String,
    /// The Arrow type, e.g. `Int64`, `Utf8`, `Timestamp(µs, "UTC")`.
    pub data_type: String,
}

/// The answer as JSON.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SqlAnswer {
    pub columns: Vec<SqlColumn>,
    /// One object per row, by column name.
    #[schema(value_type = Vec<Object>)]
    pub rows: Vec<serde_json::Value>,
    pub row_count: usize,
    /// More rows matched than were returned.
    pub truncated: bool,
    pub elapsed_ms: u64,
}

fn refused(code: &str, message: impl Into<String>, lang: Lang) -> ApiError {
    ApiError::invalid(&[ValidationError::new("sql", code, message)], lang)
}

/// Whether `sql` is one read-only statement; why not otherwise.
pub fn check_read_only(sql: &str) -> Result<(), (&'static str, String)> {
    let statements = DFParser::parse_sql(sql).map_err(|e| ("syntax", e.to_string()))?;
    if statements.len() != 1 {
        return Err(("one_statement", format!("send exactly one statement ({} found)", statements.len())));
    }
    let query = |s: &SqlStatement| matches!(s, SqlStatement::Query(_));
    let ok = match &statements[0] {
        Statement::Statement(s) => match s.as_ref() {
            SqlStatement::Query(_) => true,
            SqlStatement::Explain { statement, .. } => query(statement),
            _ => false,
        },
        Statement::Explain(e) => matches!(e.statement.as_ref(), Statement::Statement(s) if query(s)),
        _ => false,
    };
    if ok { Ok(()) } else { Err(("read_only", "only a query (SELECT, WITH, VALUES) or EXPLAIN of one is allowed".to_owned())) }
}

/// Runs `sql` in `ctx` under the limits; the batches and whether more rows matched.
pub async fn query(ctx: &SessionContext, sql: &str, max_rows: usize, timeout: Duration) -> Result<(Vec<RecordBatch>, bool), (&'static str, String)> {
    let options = SQLOptions::new().with_allow_ddl(false).with_allow_dml(false).with_allow_statements(false);
    let run = async {
        let frame = ctx.sql_with_options(sql, options).await.map_err(|e| ("invalid_query", e.to_string()))?;
        // EXPLAIN [ANALYZE] must stay the plan's root (its few rows need no limit).
        let explain = matches!(frame.logical_plan(), datafusion::logical_expr::LogicalPlan::Explain(_) | datafusion::logical_expr::LogicalPlan::Analyze(_));
        let frame = if explain { frame } else { frame.limit(0, Some(max_rows + 1)).map_err(|e| ("invalid_query", e.to_string()))? };
        frame.collect().await.map_err(|e| ("query_failed", e.to_string()))
    };
    let batches = tokio::time::timeout(timeout, run).await.map_err(|_| ("timeout", format!("the query took longer than {} ms", timeout.as_millis())))??;
    let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
    if rows <= max_rows {
        return Ok((batches, false));
    }
    // Drop the one row past the limit.
    let mut kept = Vec::new();
    let mut left = max_rows;
    for b in batches {
        if left == 0 {
            break;
        }
        let n = b.num_rows().min(left);
        kept.push(b.slice(0, n));
        left -= n;
    }
    Ok((kept, true))
}

fn json_rows(batches: &[RecordBatch]) -> Result<Vec<serde_json::Value>, String> {
    let mut writer = arrow::json::ArrayWriter::new(Vec::new());
    for b in batches {
        writer.write(b).map_err(|e| e.to_string())?;
    }
    writer.finish().map_err(|e| e.to_string())?;
    let bytes = writer.into_inner();
    if bytes.is_empty() {
        return Ok(Vec::new());
    }
    serde_json::from_slice(&bytes).map_err(|e| e.to_string())
}

fn csv_bytes(schema: &arrow::datatypes::Schema, batches: &[RecordBatch]) -> Result<Vec<u8>, String> {
    if batches.is_empty() {
        // The writer writes the header with the first batch: no batch, no header.
        return Ok(format!("{}\n", schema.fields().iter().map(|f| f.name().as_str()).collect::<Vec<_>>().join(",")).into_bytes());
    }
    let mut writer = arrow::csv::WriterBuilder::new().with_header(true).build(Vec::new());
    for b in batches {
        writer.write(b).map_err(|e| e.to_string())?;
    }
    Ok(writer.into_inner())
}

fn ipc_bytes(schema: &arrow::datatypes::Schema, batches: &[RecordBatch]) -> Result<Vec<u8>, String> {
    let mut writer = arrow::ipc::writer::StreamWriter::try_new(Vec::new(), schema).map_err(|e| e.to_string())?;
    for b in batches {
        writer.write(b).map_err(|e| e.to_string())?;
    }
    writer.finish().map_err(|e| e.to_string())?;
    writer.into_inner().map_err(|e| e.to_string())
}

#[utoipa::path(post, path = "/api/v1/sql", operation_id = "sql", tag = "sql", security(("bearer" = [])), request_body = SqlRequest,
    responses(
        (status = 200, description = "The rows: JSON, or CSV / Arrow IPC stream by `Accept`", body = SqlAnswer),
        (status = 400, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "Not one read-only query, a table or column that is not there (or not yours), a failure or a timeout", body = ErrorBody),
    ))]
pub(crate) async fn run(
    principal: Principal,
    accept: Option<String>,
    body: bytes::Bytes,
    lang: Lang,
    info: RequestInfo,
    state: State,
) -> Result<warp::reply::Response, Rejection> {
    let request: SqlRequest = decode_json(&body, lang)?;
    let started = Instant::now();
    let audit = |outcome| Audit { action: "sql.query", outcome, actor: Some(&principal), target: None, detail: Some(request.sql.chars().take(500).collect()) };
    if let Err((code, why)) = check_read_only(&request.sql) {
        state.auditor.record(&info, audit(AuditOutcome::Refused)).await;
        return Err(refused(code, why, lang).into());
    }
    let scope = Scope::of(&principal, &state.auth);
    let limits = &state.config;
    let ctx = state.tables.sql_context(&scope, limits.sql_memory_mb << 20)?;
    let max_rows = request.max_rows.unwrap_or(limits.sql_max_rows).clamp(1, limits.sql_max_rows);
    let (batches, truncated) = match query(&ctx, &request.sql, max_rows, Duration::from_millis(limits.sql_timeout_ms)).await {
        Ok(answer) => answer,
        Err((code, why)) => {
            state.auditor.record(&info, audit(AuditOutcome::Failure)).await;
            return Err(refused(code, why, lang).into());
        }
    };
    state.auditor.record(&info, audit(AuditOutcome::Success)).await;
    let schema = batches.first().map(|b| b.schema()).unwrap_or_else(|| Arc::new(arrow::datatypes::Schema::empty()));
    let internal = |e: String| ApiError::internal(StatusCode::INTERNAL_SERVER_ERROR, "the answer could not be written", &e);
    let accept = accept.unwrap_or_default();
    let with_type = |bytes: Vec<u8>, content_type: &str| {
        let mut response = warp::reply::Response::new(bytes.into());
        response.headers_mut().insert("content-type", content_type.parse().expect("a valid header"));
        response.headers_mut().insert("x-arus-truncated", if truncated { "true" } else { "false" }.parse().expect("a valid header"));
        response
    };
    if accept.contains("text/csv") {
        return Ok(with_type(csv_bytes(&schema, &batches).map_err(internal)?, "text/csv; charset=utf-8"));
    }
    if accept.contains(ARROW_STREAM) {
        return Ok(with_type(ipc_bytes(&schema, &batches).map_err(internal)?, ARROW_STREAM));
    }
    let rows = json_rows(&batches).map_err(internal)?;
    let answer = SqlAnswer {
        columns: schema.fields().iter().map(|f| SqlColumn { name: f.name().clone(), data_type: f.data_type().to_string() }).collect(),
        row_count: rows.len(),
        rows,
        truncated,
        elapsed_ms: started.elapsed().as_millis() as u64,
    };
    Ok(warp::reply::json(&answer).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_one_read_only_query_passes() {
        for ok in ["SELECT 1", "WITH t AS (SELECT 1 AS x) SELECT x FROM t", "EXPLAIN SELECT 1", "VALUES (1), (2)", "select * from transactions where amount < 0"] {
            assert_eq!(check_read_only(ok), Ok(()), "{ok}");
        }
        for (bad, code) in [
            ("DROP TABLE transactions", "read_only"),
            ("INSERT INTO transactions VALUES (1)", "read_only"),
            ("DELETE FROM transactions", "read_only"),
            ("UPDATE transactions SET amount = 0", "read_only"),
            ("CREATE EXTERNAL TABLE x STORED AS CSV LOCATION '/etc/passwd'", "read_only"),
            ("COPY (SELECT 1) TO '/tmp/x.csv'", "read_only"),
            ("CREATE VIEW v AS SELECT 1", "read_only"),
            ("SET datafusion.execution.batch_size = 1", "read_only"),
            ("EXPLAIN DELETE FROM transactions", "read_only"),
            ("SELECT 1; SELECT 2", "one_statement"),
            ("SELEC 1", "syntax"),
        ] {
            assert_eq!(check_read_only(bad).map_err(|e| e.0), Err(code), "{bad}");
        }
    }
}
