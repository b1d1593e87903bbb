//! What the writer knows of the log without reading it: the head and the
//! stream versions its own commits and reads left behind. A batch planned
//! against this view can go to the database in one message, a guard in
//! front of its write (`statements::GUARD_POSTGRES`, `GUARD_SQLITE`): the
//! guard checks that the stored state is the one the plan assumed, and
//! fails the transaction when it is not, and the batch then takes the
//! reading path.
//!
//! The view is a guess, never a source of truth: every value it hands out
//! is checked by the guard under the append lock (SQLite's write lock), so
//! a stale view (another node or process appended, a batch failed
//! half-way) costs a round trip, not a wrong answer.

use std::collections::HashMap;

use serde_json::{Value, json};

use super::{batch_now, stream_ids};
use crate::store::plan::BatchState;
use crate::store::{AppendRequest, ExpectedVersion};

/// Stream versions kept at most; past this the view starts again empty.
/// A command's expected version serves as the guess for streams the view
/// does not hold, so forgetting costs little.
const MAX_STREAMS: usize = 100_000;

/// Batches taken on the reading path after a miss, at most. Each miss
/// doubles the pause up to this and each held guess halves it, so where
/// another node appends all the time a miss's extra round trip comes
/// seldom, and a node left alone is soon guessing every batch again.
const MAX_PAUSE: u32 = 64;

#[derive(Default)]
pub(crate) struct View {
    head: Option<i64>,
    versions: HashMap<String, i64>,
    /// Batches left to take the reading path.
    pause: u32,
    /// The pause after the next miss.
    next_pause: u32,
}

/// A state to plan against without reading, and what the guard must find
/// for it to hold.
pub(crate) struct Guess {
    pub state: BatchState,
    /// The versions the plan assumes for every stream the batch touches
    /// (0: no stream), as a JSON array of `{id, version}`.
    pub streams: String,
}

impl View {
    /// The state `jobs` would read, when the view can say it: the head is
    /// known and so is every stream they touch, from the view or from the
    /// job's own expected version. No client-chosen event or command id is
    /// assumed stored: a retry fails the guard and is answered from what
    /// the reading path finds.
    pub(crate) fn guess(&mut self, jobs: &[AppendRequest]) -> Option<Guess> {
        if self.pause > 0 {
            self.pause -= 1;
            return None;
        }
        let head = self.head?;
        let mut versions = HashMap::new();
        for id in stream_ids(jobs) {
            let version = match self.versions.get(id) {
                Some(version) => *version,
                None => expected_of(jobs, id)?,
            };
            versions.insert(id.to_owned(), version);
        }
        let streams: Vec<Value> = versions
            .iter()
            .map(|(id, version)| json!({ "id": id, "version": version }))
            .collect();
        versions.retain(|_, version| *version > 0);
        let state = BatchState {
            versions,
            existing: HashMap::new(),
            commands: HashMap::new(),
            head,
            now: batch_now(),
        };
        Some(Guess {
            state,
            streams: Value::Array(streams).to_string(),
        })
    }

    /// What a read under the lock found: the head, and the version of
    /// each stream looked up (absent: none).
    pub(crate) fn read(&mut self, state: &BatchState, streams: &[&str]) {
        self.head = Some(state.head);
        for id in streams {
            let version = state.versions.get(*id).copied().unwrap_or(0);
            self.remember(id, version);
        }
    }

    /// A batch committed: its head and the streams it moved.
    pub(crate) fn committed(&mut self, head: i64, touched: &HashMap<String, i64>) {
        self.head = Some(head);
        for (id, version) in touched {
            self.remember(id, *version);
        }
    }

    /// A guess held: the next miss pauses half as long. Halving, not
    /// starting over, keeps the pause long where another node commits
    /// between most batches and a guess holds now and then.
    pub(crate) fn hit(&mut self) {
        self.next_pause /= 2;
    }

    /// A guess failed its guard: the next batches read first.
    pub(crate) fn missed(&mut self) {
        self.head = None;
        self.next_pause = (self.next_pause * 2).clamp(1, MAX_PAUSE);
        self.pause = self.next_pause;
    }

    /// A batch failed and what it left stored is unknown.
    pub(crate) fn forget(&mut self) {
        self.head = None;
        self.versions.clear();
    }

    fn remember(&mut self, id: &str, version: i64) {
        if self.versions.len() >= MAX_STREAMS && !self.versions.contains_key(id) {
            self.versions.clear();
        }
        self.versions.insert(id.to_owned(), version);
    }
}

/// The version the first append to `stream` in `jobs` expects, when it
/// expects one.
fn expected_of(jobs: &[AppendRequest], stream: &str) -> Option<i64> {
    let append = jobs
        .iter()
        .flat_map(|j| &j.streams)
        .find(|a| a.stream.as_str() == stream)?;
    match append.expected {
        ExpectedVersion::Any => None,
        ExpectedVersion::NoStream => Some(0),
        ExpectedVersion::Exact(version) => Some(version),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{NewEvent, StreamAppend, StreamId};

    fn job(stream: &str, expected: ExpectedVersion) -> AppendRequest {
        AppendRequest {
            streams: vec![StreamAppend {
                stream: StreamId::parse(stream).unwrap(),
                expected,
                events: vec![NewEvent::new("Happened", serde_json::json!({}))],
            }],
            ..AppendRequest::default()
        }
    }

    fn committed(view: &mut View, head: i64, stream: &str, version: i64) {
        view.committed(head, &HashMap::from([(stream.to_owned(), version)]));
    }

    #[test]
    fn given_no_commit_yet_when_guessing_then_the_batch_reads_first() {
        let mut view = View::default();
        assert!(
            view.guess(&[job("a-1", ExpectedVersion::NoStream)])
                .is_none()
        );
    }

    #[test]
    fn given_a_commit_when_guessing_then_the_view_gives_head_and_versions() {
        let mut view = View::default();
        committed(&mut view, 7, "a-1", 3);
        let guess = view.guess(&[job("a-1", ExpectedVersion::Any)]).unwrap();
        assert_eq!(guess.state.head, 7);
        assert_eq!(guess.state.versions.get("a-1"), Some(&3));
        assert_eq!(guess.streams, r#"[{"id":"a-1","version":3}]"#);
    }

    #[test]
    fn given_an_unknown_stream_when_guessing_then_the_expected_version_stands_in() {
        let mut view = View::default();
        committed(&mut view, 7, "a-1", 3);
        let guess = view
            .guess(&[job("b-1", ExpectedVersion::NoStream)])
            .unwrap();
        assert!(guess.state.versions.is_empty(), "no stream");
        assert_eq!(guess.streams, r#"[{"id":"b-1","version":0}]"#);
        let guess = view
            .guess(&[job("b-1", ExpectedVersion::Exact(4))])
            .unwrap();
        assert_eq!(guess.state.versions.get("b-1"), Some(&4));
        assert!(view.guess(&[job("b-1", ExpectedVersion::Any)]).is_none());
    }

    #[test]
    fn given_a_read_when_guessing_then_absent_streams_are_known_absent() {
        let mut view = View::default();
        let state = BatchState {
            versions: HashMap::from([("a-1".to_owned(), 2)]),
            existing: HashMap::new(),
            commands: HashMap::new(),
            head: 9,
            now: batch_now(),
        };
        view.read(&state, &["a-1", "b-1"]);
        let guess = view.guess(&[job("b-1", ExpectedVersion::Any)]).unwrap();
        assert_eq!(guess.state.head, 9);
        assert_eq!(guess.streams, r#"[{"id":"b-1","version":0}]"#);
    }

    #[test]
    fn given_misses_when_guessing_then_each_doubles_the_pause_and_each_hit_halves_it() {
        let mut view = View::default();
        let jobs = [job("a-1", ExpectedVersion::Any)];
        let mut pauses = Vec::new();
        for _ in 0..4 {
            committed(&mut view, 1, "a-1", 1);
            view.missed();
            committed(&mut view, 1, "a-1", 1);
            let mut paused = 0;
            while view.guess(&jobs).is_none() {
                paused += 1;
            }
            pauses.push(paused);
        }
        assert_eq!(pauses, [1, 2, 4, 8]);
        view.hit();
        view.missed();
        committed(&mut view, 1, "a-1", 1);
        for _ in 0..8 {
            assert!(view.guess(&jobs).is_none(), "8 halved, then doubled");
        }
        assert!(view.guess(&jobs).is_some());
        for _ in 0..5 {
            view.hit();
        }
        view.missed();
        committed(&mut view, 1, "a-1", 1);
        assert!(view.guess(&jobs).is_none());
        assert!(
            view.guess(&jobs).is_some(),
            "held guesses bring it back to one"
        );
    }

    #[test]
    fn given_a_failed_batch_when_guessing_then_the_batch_reads_first() {
        let mut view = View::default();
        committed(&mut view, 7, "a-1", 3);
        view.forget();
        assert!(
            view.guess(&[job("a-1", ExpectedVersion::Exact(3))])
                .is_none()
        );
    }
}
