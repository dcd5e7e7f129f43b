//! Creates `webhook_inbox`: every verified Shopify webhook delivery, stored before it is
//! acknowledged and processed later, at most once per `X-Shopify-Webhook-Id`.

use sea_orm_migration::async_trait::async_trait;
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{
    big_pk_auto, integer, string, string_len, string_null, text, text_null,
    timestamp_with_time_zone, timestamp_with_time_zone_null,
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
                    .table(WebhookInbox::Table)
                    .col(big_pk_auto(WebhookInbox::Id))
                    // `X-Shopify-Webhook-Id`: the same on every retry of one delivery.
                    .col(string_len(WebhookInbox::WebhookId, 255))
                    // The shop by domain, not by key: deliveries also arrive for shops we
                    // do not (or no longer) hold, and `shop/redact` must find them all.
                    .col(string(WebhookInbox::ShopDomain))
                    .col(string_len(WebhookInbox::Topic, 64))
                    .col(string_null(WebhookInbox::ApiVersion))
                    .col(string_null(WebhookInbox::EventId))
                    .col(string_null(WebhookInbox::TriggeredAt))
                    // The Shopify customer id a customer or compliance topic is about, so
                    // `customers/redact` can erase that customer's deliveries.
                    .col(string_null(WebhookInbox::SubjectId))
                    // The exact bytes received (UTF-8 JSON).
                    .col(text(WebhookInbox::Body))
                    .col(timestamp_with_time_zone(WebhookInbox::ReceivedAt))
                    .col(integer(WebhookInbox::Attempts).default(0))
                    // A processor's claim; an expired claim may be taken again.
                    .col(timestamp_with_time_zone_null(WebhookInbox::LockedUntil))
                    .col(timestamp_with_time_zone_null(WebhookInbox::ProcessedAt))
                    // What processing did (`uninstalled`, `exported`, `ignored`, an error).
                    .col(text_null(WebhookInbox::Outcome))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_webhook_inbox_webhook_id")
                    .table(WebhookInbox::Table)
                    .col(WebhookInbox::WebhookId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_webhook_inbox_shop_topic")
                    .table(WebhookInbox::Table)
                    .col(WebhookInbox::ShopDomain)
                    .col(WebhookInbox::Topic)
                    .col(WebhookInbox::SubjectId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_webhook_inbox_processed_at")
                    .table(WebhookInbox::Table)
                    .col(WebhookInbox::ProcessedAt)
                    .col(WebhookInbox::Id)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(WebhookInbox::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum WebhookInbox {
    Table,
    Id,
    WebhookId,
    ShopDomain,
    Topic,
    ApiVersion,
    EventId,
    TriggeredAt,
    SubjectId,
    Body,
    ReceivedAt,
    Attempts,
    LockedUntil,
    ProcessedAt,
    Outcome,
}
