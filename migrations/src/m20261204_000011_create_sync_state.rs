//! Creates what the sync engine keeps besides its jobs: `sync_shops` (the per-shop lease
//! and the last known Shopify cost bucket), `customer_links` (which customer a SCIM user
//! became and what was last pushed) and `activity` (what the admin page shows).

use sea_orm_migration::async_trait::async_trait;
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{
    big_integer, big_pk_auto, boolean, double_null, string_len, string_len_null, string_null, text,
    text_null, timestamp_with_time_zone, timestamp_with_time_zone_null,
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
                    .table(SyncShops::Table)
                    .col(big_integer(SyncShops::ShopId).primary_key())
                    // The worker holding the shop: one at a time, so its Shopify cost
                    // bucket is tracked in one place.
                    .col(string_null(SyncShops::LeaseHolder))
                    .col(timestamp_with_time_zone_null(SyncShops::LeaseUntil))
                    // The bucket as the last `throttleStatus` reported it.
                    .col(double_null(SyncShops::BucketAvailable))
                    .col(double_null(SyncShops::BucketMaximum))
                    .col(double_null(SyncShops::RestoreRate))
                    .col(timestamp_with_time_zone_null(SyncShops::BucketMeasuredAt))
                    // Whether the app-owned `id` metafield definition exists in the shop.
                    .col(boolean(SyncShops::MetafieldDefined).default(false))
                    .col(timestamp_with_time_zone(SyncShops::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_sync_shops_shop")
                            .from(SyncShops::Table, SyncShops::ShopId)
                            .to(Shops::Table, Shops::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(CustomerLinks::Table)
                    .col(big_integer(CustomerLinks::ShopId))
                    .col(string_len(CustomerLinks::ScimUserId, 36))
                    // `gid://shopify/Customer/...`, once the customer exists.
                    .col(string_null(CustomerLinks::CustomerGid))
                    // SHA-256 of the customer fields last written, to skip empty pushes.
                    .col(string_len_null(CustomerLinks::Fingerprint, 64))
                    // JSON list of the tags the app added and has not removed; the app
                    // never removes any other tag.
                    .col(text(CustomerLinks::TagsOwned).default("[]"))
                    // active | inactive | deleted | erased: the deprovisioning last applied.
                    .col(string_len(CustomerLinks::State, 16).default("active"))
                    .col(timestamp_with_time_zone(CustomerLinks::CreatedAt))
                    .col(timestamp_with_time_zone(CustomerLinks::UpdatedAt))
                    .primary_key(
                        Index::create()
                            .col(CustomerLinks::ShopId)
                            .col(CustomerLinks::ScimUserId),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_customer_links_shop")
                            .from(CustomerLinks::Table, CustomerLinks::ShopId)
                            .to(Shops::Table, Shops::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_customer_links_shop_customer")
                    .table(CustomerLinks::Table)
                    .col(CustomerLinks::ShopId)
                    .col(CustomerLinks::CustomerGid)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Activity::Table)
                    .col(big_pk_auto(Activity::Id))
                    .col(big_integer(Activity::ShopId))
                    // pushed | adopted | deprovisioned | deleted | erased | failed | warning
                    .col(string_len(Activity::Kind, 16))
                    .col(string_len_null(Activity::ScimUserId, 36))
                    .col(string_null(Activity::CustomerGid))
                    // What happened, without PII beyond what the admin sees in Shopify.
                    .col(text_null(Activity::Message))
                    .col(timestamp_with_time_zone(Activity::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_activity_shop")
                            .from(Activity::Table, Activity::ShopId)
                            .to(Shops::Table, Shops::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_activity_shop_id")
                    .table(Activity::Table)
                    .col(Activity::ShopId)
                    .col(Activity::Id)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            Activity::Table.into_iden(),
            CustomerLinks::Table.into_iden(),
            SyncShops::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum SyncShops {
    Table,
    ShopId,
    LeaseHolder,
    LeaseUntil,
    BucketAvailable,
    BucketMaximum,
    RestoreRate,
    BucketMeasuredAt,
    MetafieldDefined,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum CustomerLinks {
    Table,
    ShopId,
    ScimUserId,
    CustomerGid,
    Fingerprint,
    TagsOwned,
    State,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Activity {
    Table,
    Id,
    ShopId,
    Kind,
    ScimUserId,
    CustomerGid,
    Message,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Shops {
    Table,
    Id,
}
