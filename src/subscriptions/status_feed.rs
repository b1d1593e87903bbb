//! The status feed behind `projectionStatus`: every state change at once,
//! progress at most a few times a second (the newest, never a stale one).

use std::time::Duration;

use futures::Stream;
use futures::stream::{self, StreamExt};
use tokio::sync::watch;
use tokio::time::Instant;

use crate::read_models::ProjectionStatus;

/// Least time between two progress reports of one projection.
const PROGRESS_EVERY: Duration = Duration::from_millis(250);

/// The current status first, then its changes. Several projections' feeds
/// are merged when `statuses` holds more than one.
pub fn status_feed(
    statuses: Vec<watch::Receiver<ProjectionStatus>>,
) -> impl Stream<Item = ProjectionStatus> + Send + 'static {
    stream::select_all(statuses.into_iter().map(|rx| one(rx).boxed()))
}

fn one(
    rx: watch::Receiver<ProjectionStatus>,
) -> impl Stream<Item = ProjectionStatus> + Send + 'static {
    let first = rx.borrow().clone();
    let state = Throttle {
        rx,
        last: first.clone(),
        sent_at: Instant::now(),
    };
    stream::once(async move { first }).chain(stream::unfold(state, Throttle::next))
}

struct Throttle {
    rx: watch::Receiver<ProjectionStatus>,
    last: ProjectionStatus,
    sent_at: Instant,
}

impl Throttle {
    async fn next(mut self) -> Option<(ProjectionStatus, Self)> {
        loop {
            self.rx.changed().await.ok()?;
            let current = self.rx.borrow_and_update().clone();
            if current == self.last {
                continue;
            }
            if current.state == self.last.state {
                // Progress only: wait out the interval, then report the
                // newest status (which may have moved on meanwhile).
                tokio::time::sleep_until(self.sent_at + PROGRESS_EVERY).await;
            }
            let newest = self.rx.borrow_and_update().clone();
            let report = if newest.state == current.state {
                newest
            } else {
                // The state changed meanwhile: report the progress first,
                // and keep the change pending (the borrow above marked it
                // seen) so that the next call reports it.
                self.rx.mark_changed();
                current
            };
            self.last = report.clone();
            self.sent_at = Instant::now();
            return Some((report, self));
        }
    }
}
