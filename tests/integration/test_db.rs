//! One fresh, empty database per test (or bench): SQLite in a temp file
//! always, and PostgreSQL in a schema of its own when a URL is set. Shared
//! by the integration tests and the benches.
//!
//! The guard removes what it made when it goes out of scope, even when the
//! test panics (as sqlx's `#[sqlx::test]` does): the temp dir goes with it,
//! and the PostgreSQL schema is dropped on a thread of its own, since a
//! destructor cannot await.

use std::time::Duration;

use chronicle::{DatabaseArgs, EventStore};

/// One fresh database.
pub struct TestDb {
    pub name: &'static str,
    pub args: DatabaseArgs,
    _dir: Option<tempfile::TempDir>,
    pg_schema: Option<(String, String)>,
}

/// SQLite always; PostgreSQL too when the first of `vars` that is set
/// names a database.
pub async fn fresh_databases(vars: &[&str]) -> Vec<TestDb> {
    let mut dbs = vec![TestDb::sqlite()];
    if let Some(url) = vars
        .iter()
        .find_map(|var| std::env::var(var).ok().filter(|url| !url.is_empty()))
    {
        dbs.push(TestDb::postgres(&url).await);
    }
    dbs
}

impl TestDb {
    pub fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}", dir.path().join("chronicle.db").display());
        Self {
            name: "sqlite",
            args: DatabaseArgs {
                database_url: url,
                db_pool_size: 8,
                ..DatabaseArgs::default()
            },
            _dir: Some(dir),
            pg_schema: None,
        }
    }

    pub async fn postgres(base_url: &str) -> Self {
        use sea_orm::ConnectionTrait;
        let schema = format!("t_{}", uuid::Uuid::new_v4().simple());
        let admin = sea_orm::Database::connect(base_url)
            .await
            .expect("connect to the PostgreSQL URL");
        admin
            .execute_unprepared(&format!("CREATE SCHEMA {schema}"))
            .await
            .expect("create a schema");
        admin.close().await.ok();
        let sep = if base_url.contains('?') { '&' } else { '?' };
        Self {
            name: "postgres",
            args: DatabaseArgs {
                database_url: format!("{base_url}{sep}options[search_path]={schema}"),
                db_pool_size: 8,
                ..DatabaseArgs::default()
            },
            _dir: None,
            pg_schema: Some((base_url.to_owned(), schema)),
        }
    }

    /// A migrated store on this database (a new pool and writer each call:
    /// two calls behave like two server nodes).
    pub async fn store(&self) -> EventStore {
        let db = chronicle::connect_and_migrate(&self.args)
            .await
            .expect("migrate");
        EventStore::open(db).await.expect("open store")
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some((url, schema)) = self.pg_schema.take() else {
            return;
        };
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(drop_schema(&url, &schema))
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("warning: a test schema could not be dropped: {dropped:?}");
        }
    }
}

/// Drops the schema; a connection still holding one of its locks makes
/// it give up after a few seconds rather than hang the test.
async fn drop_schema(url: &str, schema: &str) -> std::io::Result<()> {
    use sea_orm::ConnectionTrait;
    let fail = std::io::Error::other;
    let admin = sea_orm::Database::connect(url).await.map_err(fail)?;
    let timeout = Duration::from_secs(10).as_millis();
    let sql = format!("SET lock_timeout = {timeout}; DROP SCHEMA {schema} CASCADE");
    let result = admin.execute_unprepared(&sql).await.map(drop).map_err(fail);
    admin.close().await.ok();
    result
}
