//! Gives every user and group a position within its shop (`seq`) and keeps, per block of
//! [`LIST_BLOCK_SIZE`] positions, how many rows are live (split over
//! [`LIST_BLOCK_STRIPES`] rows), so that a list page at any depth is found by summing a few
//! block counts instead of counting and skipping every row.
//!
//! `scim_sequences` holds the last position handed out per shop and resource type;
//! positions are never reused, so deleted rows leave gaps that the block counts account for.
//!
//! Existing rows are numbered in key order. The new `seq` is required by the code of this
//! release, so writers of the previous release must be stopped before it runs.

use sea_orm_migration::async_trait::async_trait;
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{big_integer, integer, string_len};

use crate::{LIST_BLOCK_SIZE, LIST_BLOCK_STRIPES};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The tables that get positions, with the resource type stored for their counters.
const TABLES: [(&str, &str); 2] = [("scim_users", "User"), ("scim_groups", "Group")];

#[async_trait]
#[expect(
    elided_lifetimes_in_paths,
    reason = "the trait's signature elides SchemaManager's lifetime; naming it breaks the impl"
)]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.create_table(sequences_table()).await?;
        manager.create_table(blocks_table()).await?;

        let db = manager.get_connection();
        for (table, resource_type) in TABLES {
            manager
                .alter_table(
                    Table::alter()
                        .table(Alias::new(table))
                        .add_column(big_integer(Alias::new("seq")).default(0))
                        .to_owned(),
                )
                .await?;

            // Number existing rows 1, 2, 3... per shop in key order.
            db.execute_unprepared(&format!(
                "UPDATE {table} SET seq = (SELECT COUNT(*) FROM {table} AS earlier \
                 WHERE earlier.shop_id = {table}.shop_id AND earlier.pk <= {table}.pk)"
            ))
            .await?;
            db.execute_unprepared(&format!(
                "INSERT INTO scim_sequences (shop_id, resource_type, last_seq) \
                 SELECT shop_id, '{resource_type}', MAX(seq) FROM {table} GROUP BY shop_id"
            ))
            .await?;
            db.execute_unprepared(&format!(
                "INSERT INTO scim_list_blocks (shop_id, resource_type, block, stripe, live) \
                 SELECT shop_id, '{resource_type}', seq / {LIST_BLOCK_SIZE}, \
                 seq % {LIST_BLOCK_STRIPES}, COUNT(*) FROM {table} \
                 GROUP BY shop_id, seq / {LIST_BLOCK_SIZE}, seq % {LIST_BLOCK_STRIPES}"
            ))
            .await?;

            manager
                .create_index(
                    Index::create()
                        .name(format!("uq_{table}_shop_seq"))
                        .table(Alias::new(table))
                        .col(Alias::new("shop_id"))
                        .col(Alias::new("seq"))
                        .unique()
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (table, _) in TABLES {
            manager
                .drop_index(
                    Index::drop()
                        .name(format!("uq_{table}_shop_seq"))
                        .table(Alias::new(table))
                        .to_owned(),
                )
                .await?;
            manager
                .alter_table(
                    Table::alter()
                        .table(Alias::new(table))
                        .drop_column(Alias::new("seq"))
                        .to_owned(),
                )
                .await?;
        }
        manager
            .drop_table(Table::drop().table(ScimListBlocks::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(ScimSequences::Table).to_owned())
            .await
    }
}

fn sequences_table() -> TableCreateStatement {
    Table::create()
        .table(ScimSequences::Table)
        .col(big_integer(ScimSequences::ShopId))
        // `User` or `Group`.
        .col(string_len(ScimSequences::ResourceType, 16))
        // The last position handed out; the next row gets one more.
        .col(big_integer(ScimSequences::LastSeq))
        .primary_key(
            Index::create()
                .name("pk_scim_sequences")
                .col(ScimSequences::ShopId)
                .col(ScimSequences::ResourceType),
        )
        .foreign_key(
            ForeignKey::create()
                .name("fk_scim_sequences_shop")
                .from(ScimSequences::Table, ScimSequences::ShopId)
                .to(Shops::Table, Shops::Id)
                .on_delete(ForeignKeyAction::Cascade),
        )
        .to_owned()
}

fn blocks_table() -> TableCreateStatement {
    Table::create()
        .table(ScimListBlocks::Table)
        .col(big_integer(ScimListBlocks::ShopId))
        .col(string_len(ScimListBlocks::ResourceType, 16))
        // `seq / LIST_BLOCK_SIZE`.
        .col(big_integer(ScimListBlocks::Block))
        // `seq % LIST_BLOCK_STRIPES`.
        .col(integer(ScimListBlocks::Stripe))
        // How many rows with a position in this block and stripe exist.
        .col(big_integer(ScimListBlocks::Live))
        .primary_key(
            Index::create()
                .name("pk_scim_list_blocks")
                .col(ScimListBlocks::ShopId)
                .col(ScimListBlocks::ResourceType)
                .col(ScimListBlocks::Block)
                .col(ScimListBlocks::Stripe),
        )
        .foreign_key(
            ForeignKey::create()
                .name("fk_scim_list_blocks_shop")
                .from(ScimListBlocks::Table, ScimListBlocks::ShopId)
                .to(Shops::Table, Shops::Id)
                .on_delete(ForeignKeyAction::Cascade),
        )
        .to_owned()
}

#[derive(DeriveIden)]
enum ScimSequences {
    Table,
    ShopId,
    ResourceType,
    LastSeq,
}

#[derive(DeriveIden)]
enum ScimListBlocks {
    Table,
    ShopId,
    ResourceType,
    Block,
    Stripe,
    Live,
}

#[derive(DeriveIden)]
enum Shops {
    Table,
    Id,
}
