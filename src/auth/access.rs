//! Which role each root field needs: one table for the whole API, applied
//! to every operation before it runs. A test walks every root field of the
//! schema and fails on one missing here, so a new field cannot be
//! forgotten.

use std::collections::HashSet;

use async_graphql::Name;
use async_graphql::parser::types::{
    DocumentOperations, ExecutableDocument, OperationType, Selection, SelectionSet,
};

use super::Role;

/// Queries: reading is a reader's.
const QUERY: &[(&str, Role)] = &[
    ("account", Role::Reader),
    ("accountAt", Role::Reader),
    ("accounts", Role::Reader),
    ("command", Role::Reader),
    ("commands", Role::Reader),
    ("dailySummaries", Role::Reader),
    ("event", Role::Reader),
    ("events", Role::Reader),
    ("nodes", Role::Reader),
    ("projection", Role::Reader),
    ("projections", Role::Reader),
    ("snapshots", Role::Reader),
    ("stats", Role::Reader),
    ("stream", Role::Reader),
    ("transactions", Role::Reader),
    ("user", Role::Reader),
    ("users", Role::Reader),
    ("viewer", Role::Reader),
];

/// Mutations: commands and appends are a writer's; operating projections
/// and snapshots is an admin's.
const MUTATION: &[(&str, Role)] = &[
    ("appendEvents", Role::Writer),
    ("closeAccount", Role::Writer),
    ("deleteUser", Role::Writer),
    ("deposit", Role::Writer),
    ("openAccount", Role::Writer),
    ("registerUser", Role::Writer),
    ("transfer", Role::Writer),
    ("updateUser", Role::Writer),
    ("withdraw", Role::Writer),
    ("createSnapshot", Role::Admin),
    ("dropSnapshots", Role::Admin),
    ("pauseProjection", Role::Admin),
    ("rebuildProjection", Role::Admin),
    ("resumeProjection", Role::Admin),
    ("skipEvent", Role::Admin),
];

const SUBSCRIPTION: &[(&str, Role)] = &[
    ("eventAppended", Role::Reader),
    ("projectionStatus", Role::Reader),
];

/// The role a root field needs; `None` for a field this table does not
/// know (validation then refuses it as unknown).
pub fn required(
    operation: OperationType,
    field: &str,
    introspection_for_admins_only: bool,
) -> Option<Role> {
    match field {
        "__typename" => return Some(Role::Reader),
        "__schema" | "__type" if introspection_for_admins_only => return Some(Role::Admin),
        "__schema" | "__type" => return Some(Role::Reader),
        _ => {}
    }
    let table = match operation {
        OperationType::Query => QUERY,
        OperationType::Mutation => MUTATION,
        OperationType::Subscription => SUBSCRIPTION,
    };
    table
        .iter()
        .find(|(name, _)| *name == field)
        .map(|(_, role)| *role)
}

/// Every root field of `operation` and the role it needs.
#[cfg(test)]
pub fn table(operation: OperationType) -> &'static [(&'static str, Role)] {
    match operation {
        OperationType::Query => QUERY,
        OperationType::Mutation => MUTATION,
        OperationType::Subscription => SUBSCRIPTION,
    }
}

/// A root field the caller's role may not use.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Denied {
    pub field: String,
    pub needs: Role,
}

/// Checks every root field the operation to run selects (through
/// fragments too) against `role`. An operation the document does not have
/// is left to execution to report.
pub fn check(
    doc: &ExecutableDocument,
    operation_name: Option<&str>,
    role: Role,
    introspection_for_admins_only: bool,
) -> Result<(), Denied> {
    let operation = match (&doc.operations, operation_name) {
        (DocumentOperations::Single(op), _) => op,
        (DocumentOperations::Multiple(ops), Some(name)) => match ops.get(name) {
            Some(op) => op,
            None => return Ok(()),
        },
        (DocumentOperations::Multiple(ops), None) => match ops.values().next() {
            Some(op) if ops.len() == 1 => op,
            _ => return Ok(()),
        },
    };
    let ty = operation.node.ty;
    let mut fields = Vec::new();
    let mut seen = HashSet::new();
    root_fields(
        doc,
        &operation.node.selection_set.node,
        &mut seen,
        &mut fields,
    );
    for field in fields {
        if let Some(needs) = required(ty, &field, introspection_for_admins_only)
            && needs > role
        {
            return Err(Denied { field, needs });
        }
    }
    Ok(())
}

/// The names of the fields `set` selects at the root, through fragment
/// spreads and inline fragments (each fragment visited once).
fn root_fields(
    doc: &ExecutableDocument,
    set: &SelectionSet,
    seen: &mut HashSet<Name>,
    out: &mut Vec<String>,
) {
    for selection in &set.items {
        match &selection.node {
            Selection::Field(field) => out.push(field.node.name.node.to_string()),
            Selection::InlineFragment(inline) => {
                root_fields(doc, &inline.node.selection_set.node, seen, out)
            }
            Selection::FragmentSpread(spread) => {
                let name = &spread.node.fragment_name.node;
                if seen.insert(name.clone())
                    && let Some(fragment) = doc.fragments.get(name)
                {
                    root_fields(doc, &fragment.node.selection_set.node, seen, out);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use async_graphql::parser::parse_query;

    use super::*;

    fn verdict(query: &str, role: Role) -> Result<(), Denied> {
        check(&parse_query(query).unwrap(), None, role, false)
    }

    #[test]
    fn each_role_may_do_what_the_ones_below_may() {
        assert!(verdict("{ stats { totalEvents } }", Role::Reader).is_ok());
        let deposit = "mutation { deposit(input: {}) { version } }";
        assert_eq!(
            verdict(deposit, Role::Reader),
            Err(Denied {
                field: "deposit".into(),
                needs: Role::Writer
            })
        );
        assert!(verdict(deposit, Role::Writer).is_ok());
        let rebuild = "mutation { rebuildProjection(name: \"Users\") { name } }";
        assert!(verdict(rebuild, Role::Writer).is_err());
        assert!(verdict(rebuild, Role::Admin).is_ok());
    }

    #[test]
    fn fields_behind_fragments_and_aliases_are_checked_too() {
        let hidden = "mutation { ...F } fragment F on Mutation { x: skipEvent(projection: \"A\", position: 1) { name } }";
        assert!(verdict(hidden, Role::Writer).is_err());
        let inline = "mutation { ... on Mutation { pauseProjection(name: \"A\") { name } } }";
        assert!(verdict(inline, Role::Writer).is_err());
    }

    #[test]
    fn introspection_can_be_kept_for_admins() {
        let doc = parse_query("{ __schema { types { name } } }").unwrap();
        assert!(check(&doc, None, Role::Reader, false).is_ok());
        assert!(check(&doc, None, Role::Writer, true).is_err());
        assert!(check(&doc, None, Role::Admin, true).is_ok());
    }
}
