//! `dailySummaries(from, to)`: the DailySummary read model by day.

use async_graphql::{Context, Object};
use chrono::NaiveDate;

use crate::graphql::ApiError;
use crate::graphql::consistency::reflect;
use crate::graphql::scalars::Long;
use crate::graphql::types::DailySummary;
use crate::read_models::daily_summary;
use crate::store::EventStore;

const READS: &[&str] = &["DailySummary"];

#[derive(Default)]
pub struct DailySummariesQuery;

#[Object]
impl DailySummariesQuery {
    /// Days from..to inclusive, YYYY-MM-DD (UTC); either bound may be
    /// omitted. Ascending by date, then currency. Deposits include opening
    /// balances; transfers count in transactionCount only (see
    /// DailySummary).
    async fn daily_summaries(
        &self,
        ctx: &Context<'_>,
        from: Option<String>,
        to: Option<String>,
        min_position: Option<Long>,
    ) -> Result<Vec<DailySummary>, ApiError> {
        let from = from.as_deref().map(|d| parse_day("from", d)).transpose()?;
        let to = to.as_deref().map(|d| parse_day("to", d)).transpose()?;
        if let (Some(from), Some(to)) = (&from, &to)
            && from > to
        {
            return Err(ApiError::bad_input(format!(
                "from ({from}) must not be after to ({to})"
            )));
        }
        reflect(ctx, READS, min_position).await?;
        let db = ctx.data_unchecked::<EventStore>().db();
        let rows = daily_summary::range(db, from.as_deref(), to.as_deref()).await?;
        rows.into_iter().map(DailySummary::try_from).collect()
    }
}

/// A day exactly as stored (`YYYY-MM-DD`, which compares as text in date
/// order): chrono alone would also take "2026-1-5".
fn parse_day(argument: &str, input: &str) -> Result<String, ApiError> {
    NaiveDate::parse_from_str(input, "%Y-%m-%d")
        .ok()
        .map(|d| d.format("%Y-%m-%d").to_string())
        .filter(|canonical| canonical == input)
        .ok_or_else(|| {
            ApiError::bad_input(format!(
                "{argument} must be a date written YYYY-MM-DD, got {input:?}"
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::parse_day;

    #[test]
    fn only_canonical_dates_are_days() {
        assert_eq!(parse_day("from", "2026-11-22").unwrap(), "2026-11-22");
        for bad in [
            "2026-1-5",
            "2026-02-30",
            "22-11-2026",
            "2026-11-22T00:00:00Z",
            "",
        ] {
            assert!(parse_day("from", bad).is_err(), "{bad}");
        }
    }
}
