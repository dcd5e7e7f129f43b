//! Creates `data_exports`: what we held about a customer when Shopify relayed their data
//! request (`customers/data_request`), kept for the shop's admin to download.

use sea_orm_migration::async_trait::async_trait;
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{
    big_integer, big_pk_auto, string, string_null, text, timestamp_with_time_zone,
};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait]
#[expect(
    elided_lifetimes_in_paths,
    reason = "the trait's signature elides SchemaManager's lifetime; naming it breaks the impl"
)]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(DataExports::Table)
                    .col(big_pk_auto(DataExports::Id))
                    .col(big_integer(DataExports::ShopId))
                    // Shopify's numeric customer id from the request.
                    .col(string(DataExports::CustomerId))
                    // Shopify's `data_request.id`, when given.
                    .col(string_null(DataExports::DataRequestId))
                    // The export: JSON of every SCIM resource we hold about the customer.
                    .col(text(DataExports::Body))
                    .col(timestamp_with_time_zone(DataExports::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_data_exports_shop")
                            .from(DataExports::Table, DataExports::ShopId)
                            .to(Shops::Table, Shops::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_data_exports_shop_created")
                    .table(DataExports::Table)
                    .col(DataExports::ShopId)
                    .col(DataExports::CreatedAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(DataExports::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum DataExports {
    Table,
    Id,
    ShopId,
    CustomerId,
    DataRequestId,
    Body,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Shops {
    Table,
    Id,
}
