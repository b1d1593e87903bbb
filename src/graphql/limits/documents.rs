//! Parsed documents kept by their text. A client sends the same few
//! documents over and over with new variables (every deposit is one
//! mutation text), and parsing was 6 % of the server's CPU under load:
//! the guard parses a text once, keeps the document and its shape, and
//! hands each request a copy. Variables are not part of the key: the
//! argument checks that read them still run on every request.

use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};

use async_graphql::parser::types::ExecutableDocument;
use lru::LruCache;

use super::document::{self, Shape};

/// Distinct documents kept: a frontend's whole set, with room to spare.
const KEPT: NonZeroUsize = NonZeroUsize::new(512).unwrap();
/// Longer texts are parsed every time, so the cache holds at most
/// `KEPT` × this many bytes of text.
const LONGEST_KEPT: usize = 8 * 1024;

/// A parsed document and what the guard measures of it.
pub struct Parsed {
    pub document: ExecutableDocument,
    pub shape: Shape,
}

pub struct Documents {
    kept: Mutex<LruCache<String, Arc<Parsed>>>,
}

impl Documents {
    pub fn new() -> Self {
        Self {
            kept: Mutex::new(LruCache::new(KEPT)),
        }
    }

    /// The document `query` parses to, from the cache when it was seen
    /// before; `None` for a syntax error (never kept: async-graphql
    /// reports it).
    pub fn parse(&self, query: &str) -> Option<Arc<Parsed>> {
        if let Some(parsed) = self.lock().get(query) {
            return Some(parsed.clone());
        }
        let document = async_graphql::parser::parse_query(query).ok()?;
        let parsed = Arc::new(Parsed {
            shape: document::shape(&document),
            document,
        });
        if query.len() <= LONGEST_KEPT {
            self.lock().put(query.to_owned(), parsed.clone());
        }
        Some(parsed)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LruCache<String, Arc<Parsed>>> {
        // The cache holds no invariant a panic could break half-way.
        self.kept.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_a_document_seen_before_when_it_comes_again_then_the_same_parse_is_handed_out() {
        let documents = Documents::new();
        let query = "mutation($in: DepositInput!) { deposit(input: $in) { version } }";
        let first = documents.parse(query).expect("parses");
        let again = documents.parse(query).expect("parses");
        assert!(Arc::ptr_eq(&first, &again));
        assert_eq!(first.shape.selections, 2);
    }

    #[test]
    fn given_a_syntax_error_when_it_is_parsed_then_nothing_is_kept() {
        let documents = Documents::new();
        assert!(documents.parse("{ account(").is_none());
        assert_eq!(documents.lock().len(), 0);
    }

    #[test]
    fn given_a_long_document_when_it_is_parsed_then_it_is_not_kept() {
        let documents = Documents::new();
        let long = format!("{{ {} }}", "__typename ".repeat(LONGEST_KEPT / 10));
        assert!(documents.parse(&long).is_some());
        assert_eq!(documents.lock().len(), 0);
    }
}
