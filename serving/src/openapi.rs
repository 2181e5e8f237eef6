//! The OpenAPI 3.1 document, generated from the handlers' annotations and
//! types (utoipa), served at `/openapi.json`, and Swagger UI at `/docs/`
//! from files vendored into the binary (no CDN).

use std::sync::Arc;

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use warp::http::{StatusCode, Uri};
use warp::{Filter, Rejection, Reply};

use crate::api;
use crate::error::{ErrorBody, ErrorDetail, FieldError};

#[derive(OpenApi)]
#[openapi(
    info(title = "arus API", description = "Money of Indonesian micro-businesses and households: transactions, accounts, statement imports, receipt photos, people. \
        Authenticate with `POST /api/v1/auth/login` and send `Authorization: Bearer <access_token>`. \
        Validation messages follow `Accept-Language` (`id` or `en`)."),
    paths(
        api::auth::register, api::auth::login, api::auth::refresh, api::auth::logout, api::auth::me,
        api::users::list, api::users::get, api::users::update,
        api::accounts::list, api::accounts::create, api::accounts::get, api::accounts::update, api::accounts::delete,
        api::transactions::create, api::transactions::list, api::transactions::get, api::transactions::patch, api::transactions::list_categories,
        api::imports::create, api::imports::list, api::imports::get,
        api::receipts::create, api::receipts::list, api::receipts::get, api::receipts::image, api::receipts::confirm,
        api::whatsapp::webhook, api::whatsapp::create, api::whatsapp::list, api::whatsapp::delete,
        api::tiers::predict, api::tiers::history,
        api::plans::list_budgets, api::plans::set_budget, api::plans::remove_budget, api::plans::list_goals, api::plans::set_goal, api::plans::remove_goal,
        api::advice::insights, api::advice::forecasts, api::advice::anomalies,
        api::dashboard::summary, api::dashboard::cashflow, api::dashboard::categories, api::dashboard::income_expense, api::dashboard::partners, api::dashboard::report, api::dashboard::cashflow_chart, api::dashboard::categories_chart, crate::events::events,
        api::sql::run,
    ),
    components(schemas(ErrorBody, ErrorDetail, FieldError)),
    modifiers(&BearerAuth),
    tags(
        (name = "auth", description = "Registration, login, tokens"),
        (name = "users", description = "People, roles and officer assignments"),
        (name = "accounts", description = "Bank accounts, e-wallets, cash"),
        (name = "transactions", description = "Money in and out"),
        (name = "imports", description = "Bank statement imports (CSV, XLSX, XLS)"),
        (name = "receipts", description = "Receipt and cash-book photos: OCR, review, booking"),
        (name = "whatsapp", description = "WhatsApp through WAHA: the webhook and which number belongs to whom"),
        (name = "tiers", description = "A lender's customers: Bronze/Silver/Gold by the rule and by k-means segment"),
        (name = "plans", description = "Monthly budgets per category and savings goals"),
        (name = "advice", description = "Insights, forecasts and unusual spending found by the advisor"),
        (name = "dashboard", description = "Totals, cash flow, categories and reports from the aggregate kept in the stream; officers' partner list"),
        (name = "sql", description = "Read-only SQL over the lakehouse: analysts over everything, everyone else over their own rows"),
    )
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("JWT").build()),
        );
    }
}

/// The document as served.
pub fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

/// Every path template of the API plus the operational routes, for metric labels.
pub fn route_templates() -> Vec<String> {
    let mut templates: Vec<String> = document().paths.paths.keys().cloned().collect();
    templates.extend(["/healthz", "/readyz", "/metrics", "/openapi.json", "/docs", "/docs/{file}", "/", "/assets/{file}", "/sw.js", "/manifest.webmanifest"].map(String::from));
    templates
}

pub fn routes() -> impl Filter<Extract = (impl Reply,), Error = Rejection> + Clone {
    let json = Arc::new(document().to_json().unwrap_or_else(|_| "{}".into()));
    let spec = warp::path("openapi.json").and(warp::path::end()).and(warp::get()).map(move || {
        warp::reply::with_header(json.as_str().to_owned(), "content-type", "application/json")
    });
    let config = Arc::new(utoipa_swagger_ui::Config::from("/openapi.json"));
    let docs = warp::path("docs")
        .and(warp::get())
        .and(warp::path::full())
        .and(warp::path::tail())
        .and(warp::any().map(move || Arc::clone(&config)))
        .and_then(swagger);
    spec.or(docs)
}

async fn swagger(
    full: warp::path::FullPath,
    tail: warp::path::Tail,
    config: Arc<utoipa_swagger_ui::Config<'static>>,
) -> Result<warp::reply::Response, Rejection> {
    if full.as_str() == "/docs" {
        return Ok(warp::redirect::found(Uri::from_static("/docs/")).into_response());
    }
    match utoipa_swagger_ui::serve(tail.as_str(), config) {
        Ok(Some(file)) => {
            Ok(warp::reply::with_header(file.bytes.into_owned(), "content-type", file.content_type).into_response())
        }
        Ok(None) => Err(warp::reject::not_found()),
        Err(e) => Ok(crate::error::ApiError::internal(StatusCode::INTERNAL_SERVER_ERROR, "Swagger UI unavailable", &e).into_response()),
    }
}
