//! The browser pages the binary serves: GraphiQL and the dashboard with
//! their embedded assets (cached for good, the pages revalidated), and
//! `--disable-graphiql`, which turns GraphiQL off but not the API or the
//! dashboard. The pages do not touch the database: SQLite is enough.

use chronicle::Config;
use reqwest::header::{ACCEPT, CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE};

use crate::common::{TestServer, databases};

const BROWSER: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";

fn header(response: &reqwest::Response, name: reqwest::header::HeaderName) -> String {
    response
        .headers()
        .get(&name)
        .map(|v| v.to_str().expect("ASCII").to_owned())
        .unwrap_or_default()
}

/// The `/ui/assets/...` paths a page loads.
fn assets(page: &str) -> Vec<String> {
    page.match_indices("/ui/assets/")
        .map(|(at, _)| {
            let rest = &page[at..];
            rest[..rest.find(['"', '\'']).expect("a quoted path")].to_owned()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_pages_load_only_assets_this_server_serves_with_their_media_types() {
    let db = databases().await.remove(0);
    let server = TestServer::start(&db).await;
    for path in ["/", "/dashboard", "/dashboard/"] {
        let response = server
            .client
            .get(server.url(path))
            .header(ACCEPT, BROWSER)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "GET {path}");
        assert!(
            header(&response, CONTENT_TYPE).starts_with("text/html"),
            "{path}"
        );
        assert_eq!(header(&response, CACHE_CONTROL), "no-cache", "{path}");
        let policy = header(&response, CONTENT_SECURITY_POLICY);
        assert!(policy.contains("connect-src 'self'"), "{path}: {policy}");
        let page = response.text().await.unwrap();
        let assets = assets(&page);
        assert!(
            !assets.is_empty(),
            "{path} loads its scripts from /ui/assets/"
        );
        assert!(!page.contains("https://"), "{path} names another host");
        for asset in assets {
            let response = server.client.get(server.url(&asset)).send().await.unwrap();
            assert_eq!(response.status(), 200, "{asset}");
            let media = header(&response, CONTENT_TYPE);
            let expected = if asset.ends_with(".css") {
                "text/css"
            } else {
                "text/javascript"
            };
            assert!(media.starts_with(expected), "{asset}: {media}");
            assert!(
                header(&response, CACHE_CONTROL).contains("immutable"),
                "{asset}"
            );
        }
    }
    for missing in [
        "/ui/assets/nothing.js",
        "/ui/assets/../graphiql.html",
        "/ui/assets/",
    ] {
        let response = server.client.get(server.url(missing)).send().await.unwrap();
        assert_eq!(response.status(), 404, "{missing}");
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disable_graphiql_turns_off_graphiql_but_not_the_api_or_the_dashboard() {
    let db = databases().await.remove(0);
    let mut config = Config::default();
    config.server.disable_graphiql = true;
    let server = TestServer::start_with(&db, config).await;
    let get = |path: &str, accept: &str| {
        server
            .client
            .get(server.url(path))
            .header(ACCEPT, accept)
            .send()
    };

    let root = get("/", BROWSER).await.unwrap();
    assert_eq!(root.status(), 404);
    assert!(root.text().await.unwrap().contains("disabled"));
    let browser = get("/graphql", BROWSER).await.unwrap();
    assert_eq!(
        browser.status(),
        400,
        "a GET without a query, as for any client"
    );
    assert!(!header(&browser, CONTENT_TYPE).starts_with("text/html"));

    let query = get(
        "/graphql?query=%7B%20stats%20%7B%20totalEvents%20%7D%20%7D",
        BROWSER,
    )
    .await
    .unwrap();
    assert_eq!(query.status(), 200, "the API still answers a browser");
    let dashboard = get("/dashboard", BROWSER).await.unwrap();
    assert_eq!(dashboard.status(), 200, "the dashboard stays");
    server.stop().await;
}
