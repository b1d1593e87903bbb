//! The parsed document's size once its fragments are expanded.
//!
//! Fragments may spread each other, so a one-kilobyte document can stand
//! for 2^30 fields (`F1 { ...F0 ...F0 }`, `F2 { ...F1 ...F1 }`, ...), and
//! everything downstream that expands them (validation, execution) does
//! that much work. Here each fragment's size is computed once and reused
//! wherever it is spread, so the count costs the document's length, not
//! the expansion's; the sums saturate instead of overflowing.
//!
//! Fragment chains are resolved with an explicit stack rather than by
//! recursion, so a long chain cannot exhaust the thread's stack either;
//! selection sets themselves nest only as deep as the text scan allowed.

use std::collections::HashMap;

use async_graphql::Name;
use async_graphql::parser::types::{ExecutableDocument, Selection, SelectionSet};

/// What executing a document would select.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Shape {
    /// Fields, fragment spreads and inline fragments, fragments expanded.
    pub selections: usize,
    /// Fields with an alias, fragments expanded.
    pub aliases: usize,
}

impl Shape {
    fn add(self, other: Shape) -> Shape {
        Shape {
            selections: self.selections.saturating_add(other.selections),
            aliases: self.aliases.saturating_add(other.aliases),
        }
    }
}

/// The largest shape of the document's operations (only one runs, but a
/// document names which only in the request, so the largest counts).
pub fn shape(doc: &ExecutableDocument) -> Shape {
    let fragments = fragment_shapes(doc);
    doc.operations
        .iter()
        .map(|(_, op)| selection_set(&op.node.selection_set.node, &fragments))
        .fold(Shape::default(), |a, b| Shape {
            selections: a.selections.max(b.selections),
            aliases: a.aliases.max(b.aliases),
        })
}

/// Every fragment's expanded shape, each computed once. A fragment in a
/// cycle counts as empty where it recurs (validation refuses cycles).
fn fragment_shapes(doc: &ExecutableDocument) -> HashMap<Name, Shape> {
    let mut done: HashMap<Name, Shape> = HashMap::new();
    let mut in_progress: std::collections::HashSet<Name> = Default::default();
    for name in doc.fragments.keys() {
        let mut stack = vec![name.clone()];
        while let Some(top) = stack.last().cloned() {
            if done.contains_key(&top) {
                stack.pop();
                continue;
            }
            let Some(fragment) = doc.fragments.get(&top) else {
                // Spread of an unknown fragment: validation reports it.
                done.insert(top, Shape::default());
                stack.pop();
                continue;
            };
            let set = &fragment.node.selection_set.node;
            let mut pending = Vec::new();
            spreads(set, &mut |spread| {
                if !done.contains_key(spread) && !in_progress.contains(spread) {
                    pending.push(spread.clone());
                }
            });
            if pending.is_empty() {
                in_progress.remove(&top);
                let shape = selection_set(set, &done);
                done.insert(top, shape);
                stack.pop();
            } else {
                in_progress.insert(top);
                stack.extend(pending);
            }
        }
    }
    done
}

/// Calls `f` with the name of every fragment spread directly in `set`
/// (inside fields and inline fragments, not inside other fragments).
fn spreads(set: &SelectionSet, f: &mut impl FnMut(&Name)) {
    for selection in &set.items {
        match &selection.node {
            Selection::Field(field) => spreads(&field.node.selection_set.node, f),
            Selection::FragmentSpread(spread) => f(&spread.node.fragment_name.node),
            Selection::InlineFragment(inline) => spreads(&inline.node.selection_set.node, f),
        }
    }
}

/// The shape of `set`, with the fragments it spreads looked up in `known`
/// (a fragment not there, being in a cycle, counts as empty).
fn selection_set(set: &SelectionSet, known: &HashMap<Name, Shape>) -> Shape {
    let mut shape = Shape::default();
    for selection in &set.items {
        let one = Shape {
            selections: 1,
            aliases: 0,
        };
        let inner = match &selection.node {
            Selection::Field(field) => {
                let mut own = one;
                if field.node.alias.is_some() {
                    own.aliases = 1;
                }
                own.add(selection_set(&field.node.selection_set.node, known))
            }
            Selection::FragmentSpread(spread) => one.add(
                known
                    .get(&spread.node.fragment_name.node)
                    .copied()
                    .unwrap_or_default(),
            ),
            Selection::InlineFragment(inline) => {
                one.add(selection_set(&inline.node.selection_set.node, known))
            }
        };
        shape = shape.add(inner);
    }
    shape
}

#[cfg(test)]
mod tests {
    use async_graphql::parser::parse_query;

    use super::*;

    fn shape_of(query: &str) -> Shape {
        shape(&parse_query(query).expect("valid document"))
    }

    /// `fragment F0 on Query { __typename }`, then each fragment spreading
    /// the one before twice, then `query { ...F<levels> }`.
    fn explosion(levels: usize) -> String {
        let mut doc = String::from("query { ...F");
        doc.push_str(&levels.to_string());
        doc.push_str(" }\nfragment F0 on Query { __typename }\n");
        for i in 1..=levels {
            doc.push_str(&format!(
                "fragment F{i} on Query {{ ...F{p} ...F{p} }}\n",
                p = i - 1
            ));
        }
        doc
    }

    #[test]
    fn counts_fields_and_aliases() {
        let s = shape_of("{ a: stats { totalEvents } b: stats { totalEvents headPosition } }");
        assert_eq!(
            s,
            Shape {
                selections: 5,
                aliases: 2
            }
        );
    }

    #[test]
    fn a_fragment_counts_wherever_it_is_spread() {
        let s = shape_of(
            "{ ...F ...F x: stats { ...G } } fragment F on Query { y: stats { totalEvents } } \
             fragment G on Stats { headPosition }",
        );
        // Two spreads of F (1 + y + totalEvents each), x, its spread, G's field.
        assert_eq!(
            s,
            Shape {
                selections: 9,
                aliases: 3
            }
        );
    }

    #[test]
    fn an_exponential_fragment_chain_is_counted_without_expanding_it() {
        let started = std::time::Instant::now();
        let s = shape_of(&explosion(30));
        assert!(s.selections > 1 << 30, "{s:?}");
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
    }

    #[test]
    fn a_very_long_chain_does_not_recurse() {
        let mut doc = String::from("query { ...F20000 }\nfragment F0 on Query { __typename }\n");
        for i in 1..=20_000 {
            doc.push_str(&format!("fragment F{i} on Query {{ ...F{} }}\n", i - 1));
        }
        // Run on a small stack: a recursive resolution would overflow it.
        let s = std::thread::Builder::new()
            .stack_size(256 * 1024)
            .spawn(move || shape_of(&doc))
            .unwrap()
            .join()
            .unwrap();
        assert_eq!(s.selections, 20_002);
    }

    #[test]
    fn cycles_and_unknown_fragments_count_as_empty() {
        let s = shape_of(
            "{ ...A ...Missing } fragment A on Query { ...B } fragment B on Query { ...A }",
        );
        assert!(s.selections <= 4, "{s:?}");
    }
}
