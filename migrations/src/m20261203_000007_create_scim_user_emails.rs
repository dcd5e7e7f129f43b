//! Creates `scim_user_emails`: every email address of every user, lowercased, so that an
//! `emails` filter finds a user by any of its addresses, not only the primary one.
//!
//! Existing users' addresses are read from their stored JSON. The index on
//! `scim_users.primary_email_ci` goes; the column itself is no longer written and stays until
//! a later migration drops it.

use sea_orm_migration::async_trait::async_trait;
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{big_integer, string};
use sea_orm_migration::sea_orm::Statement;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Users read per batch while copying addresses; small enough that one insert stays far
/// below SQLite's limit on bound values.
const BATCH: u64 = 200;

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
                    .table(ScimUserEmails::Table)
                    .col(big_integer(ScimUserEmails::ShopId))
                    .col(big_integer(ScimUserEmails::UserPk))
                    // `emails[].value` lowercased: SCIM compares addresses case-insensitively.
                    .col(string(ScimUserEmails::ValueCi))
                    .primary_key(
                        Index::create()
                            .name("pk_scim_user_emails")
                            .col(ScimUserEmails::ShopId)
                            .col(ScimUserEmails::UserPk)
                            .col(ScimUserEmails::ValueCi),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_scim_user_emails_user")
                            .from(ScimUserEmails::Table, ScimUserEmails::UserPk)
                            .to(ScimUsers::Table, ScimUsers::Pk)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_scim_user_emails_shop_value")
                    .table(ScimUserEmails::Table)
                    .col(ScimUserEmails::ShopId)
                    .col(ScimUserEmails::ValueCi)
                    .to_owned(),
            )
            .await?;

        copy_addresses(manager).await?;

        manager
            .drop_index(
                Index::drop()
                    .name("ix_scim_users_shop_email")
                    .table(ScimUsers::Table)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name("ix_scim_users_shop_email")
                    .table(ScimUsers::Table)
                    .col(ScimUsers::ShopId)
                    .col(ScimUsers::PrimaryEmailCi)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_table(Table::drop().table(ScimUserEmails::Table).to_owned())
            .await
    }
}

/// Copies the addresses of every stored user, a batch at a time in key order.
async fn copy_addresses(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    let db = manager.get_connection();
    let backend = manager.get_database_backend();
    let mut after = 0_i64;
    loop {
        let select = Query::select()
            .columns([ScimUsers::Pk, ScimUsers::ShopId, ScimUsers::Resource])
            .from(ScimUsers::Table)
            .and_where(Expr::col(ScimUsers::Pk).gt(after))
            .order_by(ScimUsers::Pk, Order::Asc)
            .limit(BATCH)
            .to_owned();
        let rows = db.query_all_raw(backend.build(&select)).await?;
        let Some(last) = rows.last() else {
            return Ok(());
        };
        after = last.try_get("", "pk")?;

        let mut insert = Query::insert();
        insert.into_table(ScimUserEmails::Table).columns([
            ScimUserEmails::ShopId,
            ScimUserEmails::UserPk,
            ScimUserEmails::ValueCi,
        ]);
        let mut any = false;
        for row in &rows {
            let pk: i64 = row.try_get("", "pk")?;
            let shop_id: i64 = row.try_get("", "shop_id")?;
            let resource: String = row.try_get("", "resource")?;
            for address in addresses(&resource) {
                insert
                    .values([shop_id.into(), pk.into(), address.into()])
                    .map_err(|error| DbErr::Migration(error.to_string()))?;
                any = true;
            }
        }
        if any {
            let statement: Statement = backend.build(&insert);
            db.execute_raw(statement).await?;
        }
    }
}

/// The distinct lowercased `emails[].value` strings of a stored user.
fn addresses(resource: &str) -> Vec<String> {
    let parsed: serde_json::Value = serde_json::from_str(resource).unwrap_or_default();
    let mut found: Vec<String> = parsed["emails"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .filter_map(|email| email["value"].as_str())
        .map(str::to_lowercase)
        .collect();
    found.sort();
    found.dedup();
    found
}

#[derive(DeriveIden)]
enum ScimUserEmails {
    Table,
    ShopId,
    UserPk,
    ValueCi,
}

#[derive(DeriveIden)]
enum ScimUsers {
    Table,
    Pk,
    ShopId,
    PrimaryEmailCi,
    Resource,
}
