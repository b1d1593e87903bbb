//! The mutation root, merged from one object per area.

mod append;

use async_graphql::MergedObject;

#[derive(Default, MergedObject)]
pub struct Mutation(append::AppendMutation);
