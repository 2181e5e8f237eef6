//! The web dashboard at `/`: one page of HTML, a script and a style sheet
//! written by hand (no build step, no packages to fetch), compiled into the
//! binary. It talks to the same `/api/v1` as everyone, draws charts from the
//! server's SVG, follows `/api/v1/events` for live updates, and keeps the
//! last answers in a service worker's cache so it opens offline.

use warp::http::HeaderValue;
use warp::{Filter, Rejection, Reply};

const INDEX: &str = include_str!("../web/index.html");
const APP_JS: &str = include_str!("../web/app.js");
const APP_CSS: &str = include_str!("../web/app.css");
const SW_JS: &str = include_str!("../web/sw.js");
const MANIFEST: &str = include_str!("../web/manifest.webmanifest");
const ICON: &str = include_str!("../web/icon.svg");

fn file(body: &'static str, content_type: &'static str) -> warp::reply::Response {
    let mut response = warp::reply::Response::new(body.into());
    let headers = response.headers_mut();
    headers.insert("content-type", HeaderValue::from_static(content_type));
    // Revalidated on every load; the service worker keeps a copy for offline use.
    headers.insert("cache-control", HeaderValue::from_static("no-cache"));
    headers.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    response
}

pub fn routes() -> impl Filter<Extract = (impl Reply,), Error = Rejection> + Clone {
    let index = warp::path::end().and(warp::get()).map(|| {
        let mut r = file(INDEX, "text/html; charset=utf-8");
        let h = r.headers_mut();
        h.insert(
            "content-security-policy",
            HeaderValue::from_static("default-src 'self'; img-src 'self' blob: data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'"),
        );
        h.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
        r
    });
    let asset = warp::path!("assets" / String).and(warp::get()).and_then(|name: String| async move {
        match name.as_str() {
            "app.js" => Ok(file(APP_JS, "text/javascript; charset=utf-8")),
            "app.css" => Ok(file(APP_CSS, "text/css; charset=utf-8")),
            "icon.svg" => Ok(file(ICON, "image/svg+xml")),
            _ => Err(warp::reject::not_found()),
        }
    });
    let sw = warp::path!("sw.js").and(warp::get()).map(|| file(SW_JS, "text/javascript; charset=utf-8"));
    let manifest = warp::path!("manifest.webmanifest").and(warp::get()).map(|| file(MANIFEST, "application/manifest+json"));
    index.or(asset).or(sw).or(manifest)
}
