//! A slice of an ordered list, as a Relay connection asks for it: the
//! items between two keys, taken from the start (`first`) or from the end
//! (`last`). The store and the read models turn it into SQL with
//! [`Slice::apply`]; the GraphQL layer turns the rows back into a page.
//!
//! Keys are the list's unique sort key (a position, a version, an id), so
//! a slice is one indexed range scan in either direction, and a page stays
//! stable while rows are added elsewhere in the list.

use sea_orm::{ColumnTrait, EntityTrait, Order, QueryFilter, QueryOrder, QuerySelect, Select};

/// How a list is sorted by its key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ListOrder {
    Ascending,
    Descending,
}

/// Which items of a list to read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Slice<K> {
    /// Only items after this key, in the list's order.
    pub after: Option<K>,
    /// Only items before this key, in the list's order.
    pub before: Option<K>,
    /// At most this many rows.
    pub limit: u64,
    /// Take the rows nearest `before` (`last`) rather than those nearest
    /// `after` (`first`). The rows then come in reverse list order: the
    /// caller, which asked for one row more than it shows to learn whether
    /// there are more, drops that row before it reverses them.
    pub from_end: bool,
}

impl<K> Slice<K> {
    /// The first `limit` items after `after`.
    pub fn first(after: Option<K>, limit: u64) -> Self {
        Self {
            after,
            before: None,
            limit,
            from_end: false,
        }
    }

    /// The bounds in key order: (exclusive lower, exclusive upper).
    fn bounds(&self, order: ListOrder) -> (Option<&K>, Option<&K>) {
        match order {
            ListOrder::Ascending => (self.after.as_ref(), self.before.as_ref()),
            ListOrder::Descending => (self.before.as_ref(), self.after.as_ref()),
        }
    }

    /// Whether the rows are read in ascending key order.
    pub fn reads_ascending(&self, order: ListOrder) -> bool {
        (order == ListOrder::Ascending) != self.from_end
    }
}

impl<K: Clone + Into<sea_orm::Value>> Slice<K> {
    /// `query` restricted to the slice of a list sorted by `column`.
    pub fn apply<E: EntityTrait>(
        &self,
        mut query: Select<E>,
        column: impl ColumnTrait,
        order: ListOrder,
    ) -> Select<E> {
        let (lower, upper) = self.bounds(order);
        if let Some(lower) = lower {
            query = query.filter(column.gt(lower.clone()));
        }
        if let Some(upper) = upper {
            query = query.filter(column.lt(upper.clone()));
        }
        let direction = if self.reads_ascending(order) {
            Order::Asc
        } else {
            Order::Desc
        };
        query.order_by(column, direction).limit(self.limit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use entity::events;
    use sea_orm::{DbBackend, QueryTrait};

    fn sql(slice: &Slice<i64>, order: ListOrder) -> String {
        slice
            .apply(events::Entity::find(), events::Column::Position, order)
            .build(DbBackend::Sqlite)
            .to_string()
    }

    #[test]
    fn the_last_items_of_an_ascending_list_are_read_descending_below_before() {
        let slice = Slice {
            after: Some(3),
            before: Some(10),
            limit: 5,
            from_end: true,
        };
        let text = sql(&slice, ListOrder::Ascending);
        assert!(text.contains("\"position\" > 3"), "{text}");
        assert!(text.contains("\"position\" < 10"), "{text}");
        assert!(
            text.contains("ORDER BY \"events\".\"position\" DESC LIMIT 5"),
            "{text}"
        );
    }

    #[test]
    fn in_a_descending_list_after_means_a_smaller_key() {
        let text = sql(&Slice::first(Some(7), 2), ListOrder::Descending);
        assert!(text.contains("\"position\" < 7"), "{text}");
        assert!(text.contains("DESC LIMIT 2"), "{text}");
        let from_end = Slice {
            before: Some(7),
            from_end: true,
            ..Slice::first(None, 2)
        };
        let text = sql(&from_end, ListOrder::Descending);
        assert!(text.contains("\"position\" > 7"), "{text}");
        assert!(text.contains("ASC LIMIT 2"), "{text}");
    }
}
