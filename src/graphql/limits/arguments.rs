//! Argument values checked against their declared types before any
//! resolver sees them: list lengths, string lengths, and NUL characters.
//!
//! The walk follows the schema, so it knows a `[String!]` filter from the
//! `JSON` payload of an event: lists and strings of API types are bounded
//! here, while JSON values are bounded by the store's event limits (an
//! event may legitimately hold a long array). A NUL character is refused
//! everywhere, JSON included, because PostgreSQL refuses to store one in
//! text or `jsonb` and would otherwise answer an internal error late.
//!
//! Each fragment is walked once, with its type condition, and each
//! variable once per type it is used as, so the walk costs the document's
//! and the variables' size, however often they are repeated.

use std::collections::HashSet;

use async_graphql::indexmap::IndexMap;
use async_graphql::parser::types::{ExecutableDocument, OperationType, Selection, SelectionSet};
use async_graphql::registry::{MetaType, MetaTypeName, Registry};
use async_graphql::{Name, Pos, Variables};
use async_graphql_value::{ConstValue, Value};

use super::Refusal;

/// The bounds this walk enforces.
#[derive(Clone, Copy, Debug)]
pub struct Bounds {
    pub max_list_length: usize,
    pub max_string_bytes: usize,
}

pub fn check(
    registry: &Registry,
    doc: &ExecutableDocument,
    variables: &Variables,
    bounds: Bounds,
) -> Result<(), Refusal> {
    let mut walk = Walk {
        registry,
        variables,
        bounds,
        seen_variables: HashSet::new(),
    };
    for (_, op) in doc.operations.iter() {
        let root = match op.node.ty {
            OperationType::Query => Some(registry.query_type.as_str()),
            OperationType::Mutation => registry.mutation_type.as_deref(),
            OperationType::Subscription => registry.subscription_type.as_deref(),
        };
        if let Some(root) = root {
            walk.selection_set(root, &op.node.selection_set.node)?;
        }
    }
    for fragment in doc.fragments.values() {
        let on = fragment.node.type_condition.node.on.node.as_str();
        walk.selection_set(on, &fragment.node.selection_set.node)?;
    }
    Ok(())
}

struct Walk<'a> {
    registry: &'a Registry,
    variables: &'a Variables,
    bounds: Bounds,
    /// (variable, type) pairs already checked.
    seen_variables: HashSet<(Name, String)>,
}

impl<'a> Walk<'a> {
    fn selection_set(&mut self, parent: &str, set: &SelectionSet) -> Result<(), Refusal> {
        for selection in &set.items {
            match &selection.node {
                Selection::Field(field) => {
                    let field = &field.node;
                    let Some(meta) = self.field(parent, field.name.node.as_str()) else {
                        continue; // unknown field: validation reports it
                    };
                    for (name, value) in &field.arguments {
                        if let Some(arg) = meta.args.get(name.node.as_str()) {
                            self.value(&arg.ty, &value.node, value.pos)?;
                        }
                    }
                    let child = MetaTypeName::concrete_typename(&meta.ty).to_owned();
                    self.selection_set(&child, &field.selection_set.node)?;
                }
                Selection::FragmentSpread(_) => {} // walked once, on its own
                Selection::InlineFragment(inline) => {
                    let on = inline
                        .node
                        .type_condition
                        .as_ref()
                        .map_or(parent, |t| t.node.on.node.as_str())
                        .to_owned();
                    self.selection_set(&on, &inline.node.selection_set.node)?;
                }
            }
        }
        Ok(())
    }

    fn field(&self, parent: &str, name: &str) -> Option<&'a async_graphql::registry::MetaField> {
        let registry: &'a Registry = self.registry;
        match registry.types.get(parent)? {
            MetaType::Object { fields, .. } | MetaType::Interface { fields, .. } => {
                fields.get(name)
            }
            _ => None,
        }
    }

    /// Checks `value` as an input of type `ty` (e.g. `[String!]!`).
    fn value<N: Node>(&mut self, ty: &str, value: &N, pos: Pos) -> Result<(), Refusal> {
        if let Kind::Variable(name) = value.kind() {
            return self.variable(ty, name, pos);
        }
        match MetaTypeName::create(ty) {
            MetaTypeName::NonNull(inner) => self.value(inner, value, pos),
            MetaTypeName::List(inner) => match value.kind() {
                Kind::List(items) => {
                    if items.len() > self.bounds.max_list_length {
                        return Err(Refusal::new(
                            "maxListLength",
                            self.bounds.max_list_length,
                            format!(
                                "a list argument has {} items; the limit is {}",
                                items.len(),
                                self.bounds.max_list_length
                            ),
                            Some(pos),
                        ));
                    }
                    items
                        .iter()
                        .try_for_each(|item| self.value(inner, item, pos))
                }
                // A single value where a list is expected is a list of one.
                _ => self.value(inner, value, pos),
            },
            MetaTypeName::Named(name) => self.named(name, value, pos),
        }
    }

    fn named<N: Node>(&mut self, name: &str, value: &N, pos: Pos) -> Result<(), Refusal> {
        let registry: &'a Registry = self.registry;
        match registry.types.get(name) {
            Some(MetaType::InputObject { input_fields, .. }) => {
                let Kind::Object(fields) = value.kind() else {
                    return Ok(()); // wrong shape: validation reports it
                };
                for (key, field_value) in fields {
                    if let Some(field) = input_fields.get(key.as_str()) {
                        self.value(&field.ty, field_value, pos)?;
                    }
                }
                Ok(())
            }
            // Event payloads: bounded by the event limits, but never NUL.
            Some(MetaType::Scalar { .. }) if name == "JSON" => no_nul_anywhere(value, pos),
            _ => match value.kind() {
                Kind::String(s) => self.string(s, pos),
                _ => Ok(()),
            },
        }
    }

    fn string(&self, s: &str, pos: Pos) -> Result<(), Refusal> {
        if s.len() > self.bounds.max_string_bytes {
            return Err(Refusal::new(
                "maxStringBytes",
                self.bounds.max_string_bytes,
                format!(
                    "a string argument is {} bytes long; the limit is {}",
                    s.len(),
                    self.bounds.max_string_bytes
                ),
                Some(pos),
            ));
        }
        check_nul(s, pos)
    }

    fn variable(&mut self, ty: &str, name: &Name, pos: Pos) -> Result<(), Refusal> {
        if !self.seen_variables.insert((name.clone(), ty.to_owned())) {
            return Ok(());
        }
        match self.variables.get(name) {
            Some(value) => self.value(ty, value, pos),
            None => Ok(()), // a missing variable is validation's to report
        }
    }
}

fn check_nul(s: &str, pos: Pos) -> Result<(), Refusal> {
    if s.contains('\0') {
        return Err(Refusal::new(
            "noNulCharacters",
            0,
            "strings must not contain the NUL character (U+0000)".to_owned(),
            Some(pos),
        ));
    }
    Ok(())
}

fn no_nul_anywhere<N: Node>(value: &N, pos: Pos) -> Result<(), Refusal> {
    match value.kind() {
        Kind::String(s) => check_nul(s, pos),
        Kind::List(items) => items.iter().try_for_each(|v| no_nul_anywhere(v, pos)),
        Kind::Object(fields) => fields.iter().try_for_each(|(k, v)| {
            check_nul(k.as_str(), pos)?;
            no_nul_anywhere(v, pos)
        }),
        Kind::Variable(_) | Kind::Other => Ok(()),
    }
}

/// A literal (`Value`, which may name variables) or a variable's value
/// (`ConstValue`), seen the same way by the walk.
trait Node: Sized {
    fn kind(&self) -> Kind<'_, Self>;
}

enum Kind<'a, N> {
    Variable(&'a Name),
    String(&'a str),
    List(&'a [N]),
    Object(&'a IndexMap<Name, N>),
    Other,
}

impl Node for Value {
    fn kind(&self) -> Kind<'_, Self> {
        match self {
            Value::Variable(name) => Kind::Variable(name),
            Value::String(s) => Kind::String(s),
            Value::List(items) => Kind::List(items),
            Value::Object(fields) => Kind::Object(fields),
            _ => Kind::Other,
        }
    }
}

impl Node for ConstValue {
    fn kind(&self) -> Kind<'_, Self> {
        match self {
            ConstValue::String(s) => Kind::String(s),
            ConstValue::List(items) => Kind::List(items),
            ConstValue::Object(fields) => Kind::Object(fields),
            _ => Kind::Other,
        }
    }
}
