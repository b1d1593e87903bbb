//! API types: what clients see, converted from the store's values.

mod account;
mod command;
mod daily_summary;
mod event;
mod node;
mod projection;
mod snapshot;
mod stats;
mod stream;
mod transaction;
mod user;
mod viewer;

pub use account::{Account, AccountFilter, AccountStatus};
pub use command::{CommandConnection, CommandRecord, CommandResult, CommandStatus};
pub use daily_summary::DailySummary;
pub use event::{Event, EventFilter, event_page};
pub use node::Node;
pub use projection::Projection;
pub use snapshot::{AccountState, Snapshot};
pub use stats::Stats;
pub use stream::Stream;
pub use transaction::{TransactionConnection, transaction_page, transaction_window};
pub use user::User;
pub use viewer::Viewer;
