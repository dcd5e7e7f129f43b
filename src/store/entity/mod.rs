//! sea-orm entities, one file per table, matching the migrations in `migrations/`.

pub mod activity;
pub mod customer_link;
pub mod data_export;
pub mod scim_group;
pub mod scim_group_member;
pub mod scim_list_block;
pub mod scim_sequence;
pub mod scim_token;
pub mod scim_user;
pub mod scim_user_email;
pub mod shop;
pub mod sync_job;
pub mod sync_shop;
pub mod webhook_delivery;
