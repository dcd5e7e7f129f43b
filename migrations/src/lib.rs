//! Database schema of shopify-scim as ordered sea-orm migrations.
//!
//! One change per file, named `mYYYYMMDD_NNNNNN_<verb>_<object>.rs`. Every migration must
//! stay compatible with the code that runs before it (expand, deploy, then contract), and
//! uses only DDL that SQLite and PostgreSQL both accept.

use sea_orm_migration::MigrationTrait;
use sea_orm_migration::async_trait::async_trait;
pub use sea_orm_migration::{MigrationStatus, MigratorTrait};

mod m20261203_000001_create_shops;
mod m20261203_000002_create_scim_tokens;
mod m20261203_000003_create_scim_users;
mod m20261203_000004_create_scim_groups;
mod m20261203_000005_create_sync_jobs;
mod m20261203_000006_add_list_positions;
mod m20261203_000007_create_scim_user_emails;
mod m20261203_000008_index_group_members_by_group;
mod m20261204_000009_create_webhook_inbox;
mod m20261204_000010_create_data_exports;
mod m20261204_000011_create_sync_state;

/// How many consecutive positions (`seq`) of one shop's users or groups share a row of
/// `scim_list_blocks`. Stored counts depend on it: changing it needs a migration that
/// rebuilds that table.
pub const LIST_BLOCK_SIZE: i64 = 512;

/// How many rows of `scim_list_blocks` share the count of one block.
///
/// Position `seq` counts in stripe `seq % LIST_BLOCK_STRIPES`, so that concurrent inserts,
/// which take consecutive positions, update different rows instead of waiting for each
/// other's lock.
pub const LIST_BLOCK_STRIPES: i64 = 8;

/// Applies and inspects the migrations in order.
pub struct Migrator;

#[async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261203_000001_create_shops::Migration),
            Box::new(m20261203_000002_create_scim_tokens::Migration),
            Box::new(m20261203_000003_create_scim_users::Migration),
            Box::new(m20261203_000004_create_scim_groups::Migration),
            Box::new(m20261203_000005_create_sync_jobs::Migration),
            Box::new(m20261203_000006_add_list_positions::Migration),
            Box::new(m20261203_000007_create_scim_user_emails::Migration),
            Box::new(m20261203_000008_index_group_members_by_group::Migration),
            Box::new(m20261204_000009_create_webhook_inbox::Migration),
            Box::new(m20261204_000010_create_data_exports::Migration),
            Box::new(m20261204_000011_create_sync_state::Migration),
        ]
    }
}
