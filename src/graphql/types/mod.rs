//! API types: what clients see, converted from the store's values.

mod event;
mod stats;
mod stream;

pub use event::{Event, EventFilter, event_page};
pub use stats::Stats;
pub use stream::Stream;
