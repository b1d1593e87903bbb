//! DataLoaders: fields that every node of a list asks for, answered for
//! the whole list at once.
//!
//! `accounts(first: 100) { ... transactions(first: 10) }` asks for 100
//! pages of transactions; [`TransactionsLoader`] reads them in one
//! statement per distinct (page size, cursor), not one per account. The
//! loader is schema data shared by all requests and caches nothing, so no
//! request sees another's stale rows.
//!
//! A DataLoader batches what arrives within its delay (1 ms), and on a
//! busy machine a list's nodes can straggle past it. So the nodes of one
//! list share [`Siblings`]: the first to need its page asks the loader for
//! every sibling's at once, which makes one batch however the nodes are
//! scheduled.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_graphql::dataloader::{DataLoader, Loader};
use sea_orm::DbErr;
use tokio::sync::OnceCell;

use crate::read_models::transaction_history::{self, TransactionRow};
use crate::store::EventStore;

/// One account's page of transactions, newest first.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TransactionPage {
    pub account_id: String,
    /// How many rows to read (a page asks one more than it shows, to know
    /// whether there is a next page).
    pub rows: u64,
    /// Only transactions at positions below this (the page's cursor).
    pub before: Option<i64>,
}

pub struct TransactionsLoader {
    store: EventStore,
}

impl TransactionsLoader {
    pub fn new(store: EventStore) -> Self {
        Self { store }
    }
}

/// The accounts of one list page, and the transaction pages loaded for
/// all of them, per (rows, cursor) asked.
#[derive(Debug, Default)]
pub struct Siblings {
    account_ids: Vec<String>,
    loaded: Mutex<HashMap<PageShape, Arc<OnceCell<Pages>>>>,
}

/// What a page asks beside its account: how many rows, below which cursor.
type PageShape = (u64, Option<i64>);
type Pages = HashMap<TransactionPage, Vec<TransactionRow>>;

impl Siblings {
    pub fn new(account_ids: Vec<String>) -> Self {
        Self {
            account_ids,
            loaded: Mutex::default(),
        }
    }

    /// `page`, loaded with the same page of every sibling the first time
    /// any of them asks.
    pub async fn load(
        &self,
        loader: &DataLoader<TransactionsLoader>,
        page: &TransactionPage,
    ) -> Result<Vec<TransactionRow>, Arc<DbErr>> {
        let cell = {
            // Held for a lookup only, never across an await; a poisoned
            // map is still a valid map.
            let mut loaded = self.loaded.lock().unwrap_or_else(|e| e.into_inner());
            loaded.entry((page.rows, page.before)).or_default().clone()
        };
        let pages = cell
            .get_or_try_init(|| {
                loader.load_many(self.account_ids.iter().map(|id| TransactionPage {
                    account_id: id.clone(),
                    rows: page.rows,
                    before: page.before,
                }))
            })
            .await?;
        Ok(pages.get(page).cloned().unwrap_or_default())
    }
}

/// Accounts per statement, well under both databases' bind limits.
const ACCOUNTS_PER_STATEMENT: usize = 500;

impl Loader<TransactionPage> for TransactionsLoader {
    type Value = Vec<TransactionRow>;
    type Error = Arc<DbErr>;

    async fn load(
        &self,
        keys: &[TransactionPage],
    ) -> Result<HashMap<TransactionPage, Vec<TransactionRow>>, Arc<DbErr>> {
        // Usually every key shares its page size and cursor (one list's
        // nodes); each distinct pair is one statement.
        let mut groups: HashMap<(u64, Option<i64>), Vec<&str>> = HashMap::new();
        for key in keys {
            groups
                .entry((key.rows, key.before))
                .or_default()
                .push(&key.account_id);
        }
        let db = self.store.db();
        let mut pages: HashMap<TransactionPage, Vec<TransactionRow>> =
            keys.iter().map(|k| (k.clone(), Vec::new())).collect();
        for ((rows, before), accounts) in groups {
            for chunk in accounts.chunks(ACCOUNTS_PER_STATEMENT) {
                let found = transaction_history::newest_per_account(db, chunk, rows, before)
                    .await
                    .map_err(Arc::new)?;
                // Rows come ordered by account, then newest first.
                for m in found {
                    let key = TransactionPage {
                        account_id: m.account_id.clone(),
                        rows,
                        before,
                    };
                    if let Some(page) = pages.get_mut(&key) {
                        page.push(m);
                    }
                }
            }
        }
        Ok(pages)
    }
}
