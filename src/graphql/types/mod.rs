//! API types: what clients see, converted from the store's values.

mod command;
mod event;
mod stats;
mod stream;

pub use command::{CommandConnection, CommandRecord, CommandResult, CommandStatus};
pub use event::{Event, EventFilter, event_page};
pub use stats::Stats;
pub use stream::Stream;
