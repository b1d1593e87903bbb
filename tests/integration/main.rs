//! Integration tests: the store against real databases, and the server
//! over HTTP on a random port. Each test runs on SQLite, and on PostgreSQL
//! too when `TEST_DATABASE_URL` is set.

mod cluster;
mod commands_account;
mod commands_concurrency;
mod commands_idempotency;
mod commands_log;
mod commands_support;
mod commands_user;
mod commands_versions;
mod common;
mod concurrency;
mod crash;
mod fuzz;
mod history;
mod http_api;
mod http_errors;
mod http_pages;
mod http_persisted;
mod http_protocol;
mod node;
mod observability;
mod operations;
mod paging;
mod projection_interval;
mod projections;
mod read_model_fold;
mod read_model_statements;
mod read_models;
mod robustness_requests;
mod robustness_store;
mod security;
mod security_ws;
mod store;
mod store_in_doubt;
mod store_transactions;
mod subscriptions;
mod subscriptions_limits;
mod subscriptions_load;
mod subscriptions_status;
mod subscriptions_support;
mod test_db;
mod ws_client;
mod ws_protocol;
