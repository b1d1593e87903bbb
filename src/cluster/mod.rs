//! Several nodes on one PostgreSQL database: what crosses between them.
//!
//! - `listener.rs`: each node LISTENs for the commits and projection
//!   changes of the others (NOTIFY carries a head position or a projection
//!   name, a hint to read the table, never the data) and reads what a lost
//!   connection may have hidden once it is back.
//! - `registry.rs`: the live nodes, each with a heartbeat, its role and
//!   the projections it runs.
//!
//! Who runs a projection is decided in `read_models/runtime/lease.rs`;
//! appends are ordered by the store's advisory lock (`store/commit/`).
//! SQLite is one node: there is nothing to listen to, and the registry
//! holds that node alone.

mod listener;
mod registry;

pub use listener::{Listener, ListenerState};
pub use registry::{LiveNode, Registry};
