//! API types: what clients see, converted from the store's values.

mod account;
mod command;
mod event;
mod projection;
mod stats;
mod stream;

pub use account::{Account, AccountFilter, AccountStatus};
pub use command::{CommandConnection, CommandRecord, CommandResult, CommandStatus};
pub use event::{Event, EventFilter, event_page};
pub use projection::Projection;
pub use stats::Stats;
pub use stream::Stream;
