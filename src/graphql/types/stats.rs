//! `Stats`: counts over the whole store.

use async_graphql::SimpleObject;

use crate::graphql::scalars::Long;
use crate::store::StoreStats;

#[derive(Clone, Debug, SimpleObject)]
pub struct TypeCount {
    #[graphql(name = "type")]
    pub event_type: String,
    pub count: Long,
}

#[derive(Clone, Debug, SimpleObject)]
pub struct CategoryCount {
    pub category: String,
    pub streams: Long,
    pub events: Long,
}

#[derive(Clone, Debug, SimpleObject)]
pub struct Stats {
    pub total_events: Long,
    pub total_streams: Long,
    pub total_snapshots: Long,
    pub head_position: Long,
    pub events_by_type: Vec<TypeCount>,
    pub streams_by_category: Vec<CategoryCount>,
}

impl Stats {
    pub fn new(stats: StoreStats, snapshots: i64, head_position: i64) -> Self {
        Self {
            total_snapshots: Long(snapshots),
            total_events: Long(stats.total_events),
            total_streams: Long(stats.total_streams),
            head_position: Long(head_position),
            events_by_type: stats
                .events_by_type
                .into_iter()
                .map(|(event_type, count)| TypeCount {
                    event_type,
                    count: Long(count),
                })
                .collect(),
            streams_by_category: stats
                .streams_by_category
                .into_iter()
                .map(|(category, streams, events)| CategoryCount {
                    category,
                    streams: Long(streams),
                    events: Long(events),
                })
                .collect(),
        }
    }
}
