//! The browser pages: GraphiQL (at `/` and on a browser's GET of
//! `/graphql`) and the dashboard (`/dashboard`), with their scripts and
//! styles under `/ui/assets/`.
//!
//! Both are built from `dashboard/` into `dashboard/dist` (checked in, so
//! building the server needs no npm) and embedded in the binary: the pages
//! work on a machine without internet and fetch nothing from elsewhere.
//! The assets' names carry a hash of their content, so they are cached for
//! a year; the two HTML pages are revalidated on every load, so a new
//! binary's pages are seen at once.
//!
//! The pages use the public GraphQL API only, with the caller's own
//! credentials: serving them grants nothing.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use rust_embed::RustEmbed;

use super::HttpState;

#[derive(RustEmbed)]
#[folder = "dashboard/dist"]
struct Dist;

const GRAPHIQL_PAGE: &str = "graphiql.html";
const DASHBOARD_PAGE: &str = "dashboard.html";

/// The pages may load scripts, styles and images from this server only,
/// and talk to it only (`'self'` covers its WebSocket too): a page that
/// tried to reach another host is stopped by the browser. GraphiQL sets
/// inline styles, hence `'unsafe-inline'` for styles (never scripts).
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; \
     connect-src 'self'; worker-src 'self' blob:; frame-ancestors 'none'; \
     base-uri 'none'; form-action 'none'";

/// GraphiQL, unless it is turned off (`--disable-graphiql`, or
/// introspection refused, without which it could show nothing).
pub(super) async fn root(State(state): State<Arc<HttpState>>) -> Response {
    if state.graphiql {
        graphiql()
    } else {
        (
            StatusCode::NOT_FOUND,
            "GraphiQL is disabled on this server; the API is at /graphql",
        )
            .into_response()
    }
}

/// The GraphiQL page; the caller has checked that it is served.
pub(super) fn graphiql() -> Response {
    page(GRAPHIQL_PAGE)
}

pub(super) async fn dashboard() -> Response {
    page(DASHBOARD_PAGE)
}

fn page(name: &str) -> Response {
    let Some(file) = Dist::get(name) else {
        return missing_build();
    };
    let mut response = (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        file.data,
    )
        .into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

/// A binary built from a tree whose `dashboard/dist` lacks the pages.
fn missing_build() -> Response {
    (
        StatusCode::NOT_FOUND,
        "this server was built without its pages: run scripts/build-ui.sh and rebuild",
    )
        .into_response()
}

pub(super) async fn asset(Path(file): Path<String>) -> Response {
    let Some(content_type) = content_type(&file) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    match Dist::get(&format!("assets/{file}")) {
        Some(found) => (
            [
                (header::CONTENT_TYPE, content_type),
                // Names carry a hash of the content: a name never changes
                // meaning.
                (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            ],
            found.data,
        )
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// The media type of an asset by its extension; `None` for a kind of file
/// the build does not produce.
fn content_type(file: &str) -> Option<&'static str> {
    let (_, extension) = file.rsplit_once('.')?;
    Some(match extension {
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "woff2" => "font/woff2",
        "woff" => "font/woff",
        "ttf" => "font/ttf",
        "json" | "map" => "application/json",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_pages_are_embedded_and_load_their_assets_from_this_server() {
        for name in [GRAPHIQL_PAGE, DASHBOARD_PAGE] {
            let page = Dist::get(name).unwrap_or_else(|| panic!("{name} is not embedded"));
            let html = std::str::from_utf8(&page.data).unwrap();
            assert!(html.contains("/ui/assets/"), "{name}");
            assert!(!html.contains("src=\"http"), "{name} loads a remote script");
            assert!(!html.contains("href=\"http"), "{name} loads a remote style");
        }
    }

    #[test]
    fn every_embedded_asset_is_served_with_a_media_type() {
        let assets: Vec<_> = Dist::iter()
            .filter_map(|name| name.strip_prefix("assets/").map(str::to_owned))
            .collect();
        assert!(!assets.is_empty());
        for asset in assets {
            assert!(content_type(&asset).is_some(), "{asset}");
        }
    }

    #[test]
    fn an_unknown_extension_is_not_served() {
        assert_eq!(content_type("../../Cargo.toml"), None);
        assert_eq!(content_type("index"), None);
        assert_eq!(
            content_type("app.js"),
            Some("text/javascript; charset=utf-8")
        );
    }
}
