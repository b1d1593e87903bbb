//! Concurrency guarantees of the store.
