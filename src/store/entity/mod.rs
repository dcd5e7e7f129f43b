//! sea-orm entities, one file per table, matching the migrations in `migrations/`.

pub mod scim_group;
pub mod scim_group_member;
pub mod scim_token;
pub mod scim_user;
pub mod shop;
pub mod sync_job;
