//! `viewer`: the caller, for clients that show who is signed in.

use async_graphql::{Context, Object};

use crate::auth::Principal;
use crate::error_code::ErrorCode;
use crate::graphql::ApiError;
use crate::graphql::types::Viewer;

#[derive(Default)]
pub struct ViewerQuery;

#[Object]
impl ViewerQuery {
    async fn viewer(&self, ctx: &Context<'_>) -> Result<Viewer, ApiError> {
        ctx.data_opt::<Principal>()
            .map(Viewer::from)
            .ok_or_else(|| {
                ApiError::new(ErrorCode::Unauthenticated, "this request carries no caller")
            })
    }
}
