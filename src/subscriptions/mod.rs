//! Where subscriptions are fed: `event_feed.rs` streams the global log
//! (catch-up from the store, then live from the writer's broadcast, with no
//! gap and no duplicate), `status_feed.rs` streams projection status.

mod event_feed;
mod status_feed;

pub use event_feed::event_feed;
pub use status_feed::status_feed;
