//! What a projection in the node's joint turn remembers of its own rows
//! from one transaction to the next, so that a turn need not read back
//! what the last one wrote.
//!
//! On SQLite every statement of a read-model turn holds the one write lock
//! the event writer waits on, and at one command per turn the reads of the
//! rows about to be folded were three of its ten statements. A caught-up
//! projection mostly touches rows it wrote a moment ago; remembered, they
//! are not read again.
//!
//! What is remembered is exactly what the table holds, because:
//! - only the joint turn remembers (a runner applying on its own passes
//!   [`Memo::off`]), and it is the table's one writer while the projection
//!   is its member: a runner leaves the turn to obey a control, and a
//!   rebuild, a pause or another node's takeover shows in the checkpoint
//!   row the turn reads under its lock before it writes;
//! - the turn folds a batch before its transaction begins, on the rows as
//!   it left them; when a checkpoint row is not what it assumed, it
//!   forgets every member's rows and folds the batch again in the
//!   transaction. It also forgets a member's rows whenever that row is not
//!   exactly what the member last wrote, and drops the memos of every
//!   member of a transaction that failed (their members leave it);
//! - a projection remembers only rows it read or wrote for a batch that
//!   is then committed, with its checkpoint as the turn assumed.
//!
//! A memo holds at most [`Memo::CAPACITY`] rows and starts over once full:
//! a working set larger than that is read from the table as before.

use std::any::Any;
use std::collections::HashMap;
use std::hash::Hash;

/// One projection's remembered rows, by key; or nothing, off the turn.
pub struct Memo {
    slot: Option<Box<dyn Any + Send>>,
    on: bool,
}

impl Memo {
    /// Rows one projection remembers at most.
    pub const CAPACITY: usize = 50_000;

    /// A memo that remembers (the joint turn's).
    pub fn on() -> Self {
        Self {
            slot: None,
            on: true,
        }
    }

    /// A memo that remembers nothing: every row is read from the table.
    pub fn off() -> Self {
        Self {
            slot: None,
            on: false,
        }
    }

    /// Forgets every row.
    pub fn clear(&mut self) {
        self.slot = None;
    }

    /// The rows remembered, as the map the projection keeps them in; `None`
    /// when the memo is off. A projection uses one key and value type.
    pub fn rows<K, V>(&mut self) -> Option<&mut Rows<K, V>>
    where
        K: Eq + Hash + Send + 'static,
        V: Send + 'static,
    {
        if !self.on {
            return None;
        }
        let fits = self
            .slot
            .as_ref()
            .is_some_and(|slot| slot.is::<Rows<K, V>>());
        if !fits {
            self.slot = Some(Box::new(Rows::<K, V>(HashMap::new())));
        }
        self.slot.as_mut()?.downcast_mut::<Rows<K, V>>()
    }
}

/// Remembered rows by key.
pub struct Rows<K, V>(HashMap<K, V>);

impl<K: Eq + Hash + Clone, V: Clone> Rows<K, V> {
    /// Splits `keys` into the rows remembered and the keys to read.
    pub fn recall<'k>(&self, keys: impl IntoIterator<Item = &'k K>) -> (HashMap<K, V>, Vec<K>)
    where
        K: 'k,
    {
        let mut known = HashMap::new();
        let mut missing = Vec::new();
        for key in keys {
            match self.0.get(key) {
                Some(value) => {
                    known.insert(key.clone(), value.clone());
                }
                None => missing.push(key.clone()),
            }
        }
        (known, missing)
    }

    /// Remembers rows as the transaction leaves them.
    pub fn keep(&mut self, rows: impl IntoIterator<Item = (K, V)>) {
        for (key, value) in rows {
            if self.0.len() >= Memo::CAPACITY && !self.0.contains_key(&key) {
                self.0.clear();
            }
            self.0.insert(key, value);
        }
    }
}

/// The rows for `keys`: those `memo` remembers, and the rest by `load`,
/// called once with the keys it does not (and not at all when it has
/// every one).
pub async fn recall<K, V, E, F, Fut>(
    memo: &mut Memo,
    keys: impl IntoIterator<Item = K>,
    load: F,
) -> Result<HashMap<K, V>, E>
where
    K: Eq + Hash + Clone + Send + 'static,
    V: Clone + Send + 'static,
    F: FnOnce(Vec<K>) -> Fut,
    Fut: Future<Output = Result<HashMap<K, V>, E>>,
{
    let keys: Vec<K> = keys.into_iter().collect();
    let (mut known, missing) = match memo.rows::<K, V>() {
        Some(rows) => rows.recall(&keys),
        None => (HashMap::new(), keys),
    };
    if !missing.is_empty() {
        known.extend(load(missing).await?);
    }
    Ok(known)
}

/// Remembers `rows` as the transaction leaves them (nothing when `memo` is
/// off).
pub fn keep<K, V>(memo: &mut Memo, rows: impl IntoIterator<Item = (K, V)>)
where
    K: Eq + Hash + Clone + Send + 'static,
    V: Clone + Send + 'static,
{
    if let Some(remembered) = memo.rows::<K, V>() {
        remembered.keep(rows);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn given_rows_kept_when_recalled_then_only_the_others_are_loaded() {
        let mut memo = Memo::on();
        keep(&mut memo, [("a".to_owned(), 1), ("b".to_owned(), 2)]);

        let mut asked = Vec::new();
        let rows = recall(&mut memo, ["a", "c"].map(String::from), |missing| {
            asked = missing.clone();
            async move { Ok::<_, ()>(missing.into_iter().map(|k| (k, 3)).collect()) }
        })
        .await
        .unwrap();

        assert_eq!(asked, vec!["c".to_owned()]);
        assert_eq!(rows.len(), 2);
        assert_eq!((rows["a"], rows["c"]), (1, 3));
    }

    #[tokio::test]
    async fn given_every_row_kept_when_recalled_then_nothing_is_loaded() {
        let mut memo = Memo::on();
        keep(&mut memo, [(7_i64, "x".to_owned())]);

        let rows = recall(&mut memo, [7_i64], |_| async {
            panic!("loaded a row the memo holds");
            #[allow(unreachable_code)]
            Ok::<HashMap<i64, String>, ()>(HashMap::new())
        })
        .await
        .unwrap();

        assert_eq!(rows[&7], "x");
    }

    #[tokio::test]
    async fn given_a_memo_off_when_recalled_then_every_row_is_loaded() {
        let mut memo = Memo::off();
        keep(&mut memo, [(1_u8, 1_u8)]);

        let mut asked = Vec::new();
        recall(&mut memo, [1_u8], |missing| {
            asked = missing.clone();
            async { Ok::<_, ()>(HashMap::<u8, u8>::new()) }
        })
        .await
        .unwrap();

        assert_eq!(asked, vec![1]);
    }

    #[test]
    fn given_a_full_memo_when_a_new_row_is_kept_then_it_starts_over() {
        let mut memo = Memo::on();
        keep(&mut memo, (0..Memo::CAPACITY).map(|k| (k, k)));
        keep(&mut memo, [(0_usize, 9_usize)]);
        assert_eq!(memo.rows::<usize, usize>().unwrap().0.len(), Memo::CAPACITY);

        keep(&mut memo, [(Memo::CAPACITY, 1_usize)]);

        let rows = memo.rows::<usize, usize>().unwrap();
        assert_eq!(rows.0.len(), 1);
        assert_eq!(rows.0.get(&Memo::CAPACITY), Some(&1));
    }

    #[test]
    fn given_rows_kept_when_cleared_then_none_is_remembered() {
        let mut memo = Memo::on();
        keep(&mut memo, [(1_u8, 1_u8)]);
        memo.clear();
        assert!(memo.rows::<u8, u8>().unwrap().0.is_empty());
    }
}
