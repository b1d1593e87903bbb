//! Which web pages may call the API: the CORS policy on `/graphql`, and the
//! same list checked on the WebSocket upgrade (browsers send `Origin` on
//! both; a client that sends none, such as a backend or curl, is not a
//! page and is let through: credentials still apply to it).
//!
//! `--cors-origin` lists the origins; without it, a server listening on
//! loopback admits loopback pages (a developer's front end on another
//! port) and any other server admits none.

use std::sync::Arc;
use std::time::Duration;

use axum::http::{HeaderName, HeaderValue, Method, header};
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::auth::ADMIN_SECRET_HEADER;

#[derive(Clone, Debug)]
pub enum Origins {
    /// `*`: any page, without credentials.
    Any,
    List(Arc<[HeaderValue]>),
    /// Pages served from localhost, 127.0.0.1 or [::1], any port.
    Loopback,
    None,
}

impl Origins {
    /// The policy for `configured` origins on a server listening on a
    /// loopback address or not; `Err` names an origin that is not one.
    pub fn new(configured: &[String], loopback: bool) -> Result<Self, String> {
        if configured.iter().any(|o| o == "*") {
            return Ok(Self::Any);
        }
        if configured.is_empty() {
            return Ok(if loopback { Self::Loopback } else { Self::None });
        }
        let list = configured
            .iter()
            .map(|origin| {
                let trimmed = origin.trim().trim_end_matches('/');
                let valid = (trimmed.starts_with("http://") || trimmed.starts_with("https://"))
                    && !trimmed["https://".len().min(trimmed.len())..].contains('/');
                if !valid {
                    return Err(format!(
                        "--cors-origin {origin:?} is not an origin such as https://app.example.com"
                    ));
                }
                HeaderValue::from_str(trimmed)
                    .map_err(|_| format!("--cors-origin {origin:?} is not valid"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self::List(list.into()))
    }

    pub fn allows(&self, origin: &HeaderValue) -> bool {
        match self {
            Self::Any => true,
            Self::List(list) => list
                .iter()
                .any(|o| o.as_bytes().eq_ignore_ascii_case(origin.as_bytes())),
            Self::Loopback => origin.to_str().is_ok_and(is_loopback_origin),
            Self::None => false,
        }
    }

    /// tower-http's CORS layer for this policy: preflights answered,
    /// `Access-Control-Allow-Origin` set for the admitted origins only.
    pub fn cors(&self) -> CorsLayer {
        let allow = match self {
            Self::Any => AllowOrigin::any(),
            Self::List(list) => AllowOrigin::list(list.iter().cloned()),
            Self::Loopback => {
                AllowOrigin::predicate(|origin, _| origin.to_str().is_ok_and(is_loopback_origin))
            }
            Self::None => AllowOrigin::list([]),
        };
        let layer = CorsLayer::new()
            .allow_origin(allow)
            .allow_methods([Method::GET, Method::POST])
            .allow_headers([
                header::CONTENT_TYPE,
                header::AUTHORIZATION,
                header::ACCEPT,
                HeaderName::from_static(ADMIN_SECRET_HEADER),
                HeaderName::from_static("x-correlation-id"),
                HeaderName::from_static("x-request-id"),
            ])
            .expose_headers([HeaderName::from_static("x-request-id")])
            .max_age(Duration::from_secs(600));
        // Credentials (the Authorization header) may be sent by a listed
        // page; never by "any page".
        match self {
            Self::Any => layer,
            _ => layer.allow_credentials(true),
        }
    }
}

fn is_loopback_origin(origin: &str) -> bool {
    let Some(rest) = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"))
    else {
        return false;
    };
    let host = match rest.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => rest.split(':').next().unwrap_or_default(),
    };
    matches!(host, "localhost" | "127.0.0.1" | "::1")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origin(text: &str) -> HeaderValue {
        HeaderValue::from_str(text).unwrap()
    }

    #[test]
    fn loopback_servers_admit_loopback_pages_by_default() {
        let policy = Origins::new(&[], true).unwrap();
        assert!(policy.allows(&origin("http://localhost:5173")));
        assert!(policy.allows(&origin("http://127.0.0.1:3000")));
        assert!(policy.allows(&origin("http://[::1]:8080")));
        assert!(!policy.allows(&origin("http://localhost.evil.com")));
        assert!(!policy.allows(&origin("https://example.com")));
        assert!(
            !Origins::new(&[], false)
                .unwrap()
                .allows(&origin("http://localhost:5173"))
        );
    }

    #[test]
    fn a_list_admits_exactly_its_origins() {
        let policy = Origins::new(&["https://app.example.com/".into()], false).unwrap();
        assert!(policy.allows(&origin("https://app.example.com")));
        assert!(!policy.allows(&origin("https://evil.example.com")));
        assert!(Origins::new(&["app.example.com".into()], false).is_err());
        assert!(Origins::new(&["https://a.com/path".into()], false).is_err());
        assert!(
            Origins::new(&["*".into()], false)
                .unwrap()
                .allows(&origin("https://x.y"))
        );
    }
}
