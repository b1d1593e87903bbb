//! The real server binary as a child process, for tests that kill it or
//! signal it.

use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::common::TestDb;

/// The server binary, started on `db`; `url` once it is ready.
pub struct Node {
    pub url: String,
    /// Every line the server has logged to stdout so far.
    pub log: Arc<Mutex<Vec<String>>>,
    child: Child,
}

impl Node {
    pub async fn start(db: &TestDb) -> Node {
        Self::start_with(db, &[]).await
    }

    /// Started with `args` after the database's.
    pub async fn start_with(db: &TestDb, args: &[&str]) -> Node {
        let mut child = Command::new(env!("CARGO_BIN_EXE_chronicle"))
            .args(["serve", "--listen", "127.0.0.1:0", "--database-url"])
            .arg(&db.args.database_url)
            .args(args)
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("start the server binary");
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let log = Arc::new(Mutex::new(Vec::new()));
        let url = tokio::time::timeout(Duration::from_secs(60), async {
            while let Some(line) = lines.next_line().await.expect("read the log") {
                log.lock().unwrap().push(line.clone());
                if let Some(rest) = line.split("listening on ").nth(1) {
                    return rest.split_whitespace().next().map(str::to_owned);
                }
            }
            None
        })
        .await
        .expect("the server says where it listens")
        .expect("a listening line");
        // Keep draining the log, or the server blocks on a full pipe.
        let kept = log.clone();
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                kept.lock().unwrap().push(line);
            }
        });
        Node { child, url, log }
    }

    pub async fn kill(mut self) {
        self.child.start_kill().expect("SIGKILL");
        let _ = self.child.wait().await;
    }
}

impl Node {
    /// Sends SIGTERM and waits (at most `within`) for the process to exit.
    pub async fn terminate(mut self, within: Duration) -> Option<ExitStatus> {
        let pid = self.child.id().expect("a running child");
        let sent = std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .expect("kill -TERM");
        assert!(sent.success());
        tokio::time::timeout(within, self.child.wait())
            .await
            .ok()
            .and_then(Result::ok)
    }
}
