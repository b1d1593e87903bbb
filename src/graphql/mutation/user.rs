//! User mutations: registerUser, updateUser, deleteUser.

use async_graphql::{Context, ID, InputObject, Object};

use super::execute;
use crate::commands::{DeleteUser, RegisterUser, UpdateUser};
use crate::graphql::ApiError;
use crate::graphql::scalars::Long;
use crate::graphql::types::CommandResult;

#[derive(InputObject)]
pub struct RegisterUserInput {
    pub user_id: Option<ID>,
    pub email: String,
    pub name: String,
    pub command_id: Option<ID>,
}

#[derive(InputObject)]
pub struct UpdateUserInput {
    pub user_id: ID,
    pub email: Option<String>,
    pub name: Option<String>,
    pub command_id: Option<ID>,
    pub expected_version: Option<Long>,
}

#[derive(InputObject)]
pub struct DeleteUserInput {
    pub user_id: ID,
    pub command_id: Option<ID>,
    pub expected_version: Option<Long>,
}

#[derive(Default)]
pub struct UserMutation;

#[Object]
impl UserMutation {
    async fn register_user(
        &self,
        ctx: &Context<'_>,
        input: RegisterUserInput,
    ) -> Result<CommandResult, ApiError> {
        let register = RegisterUser::new(input.user_id.map(|id| id.0), input.email, input.name);
        execute(ctx, input.command_id, register).await
    }

    async fn update_user(
        &self,
        ctx: &Context<'_>,
        input: UpdateUserInput,
    ) -> Result<CommandResult, ApiError> {
        let update = UpdateUser {
            user_id: input.user_id.0,
            email: input.email,
            name: input.name,
            expected_version: input.expected_version.map(|v| v.0),
        };
        execute(ctx, input.command_id, update).await
    }

    async fn delete_user(
        &self,
        ctx: &Context<'_>,
        input: DeleteUserInput,
    ) -> Result<CommandResult, ApiError> {
        let delete = DeleteUser {
            user_id: input.user_id.0,
            expected_version: input.expected_version.map(|v| v.0),
        };
        execute(ctx, input.command_id, delete).await
    }
}
