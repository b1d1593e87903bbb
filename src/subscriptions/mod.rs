//! Where subscriptions are fed: `hub.rs` takes every commit and hands each
//! subscriber what its filter matches, `event_feed.rs` streams one
//! subscriber's events (catch-up from the store, then live from the hub,
//! with no gap and no duplicate), `status_feed.rs` streams projection
//! status.

mod event_feed;
mod hub;
mod status_feed;

pub use event_feed::event_feed;
pub use hub::Hub;
pub use status_feed::status_feed;
