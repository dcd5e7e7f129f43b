//! Customer data exports made for `customers/data_request`, kept per shop for the admin to
//! download.

use chrono::Utc;
use sea_orm::{
    ActiveModelTrait as _, ColumnTrait as _, ConnectionTrait, EntityTrait as _, QueryFilter as _,
    QueryOrder as _, Set,
};

use crate::store::Result;
use crate::store::entity::data_export;
use crate::types::ShopId;

/// Stores an export and returns its row.
pub async fn insert<C: ConnectionTrait>(
    conn: &C,
    shop_id: ShopId,
    customer_id: &str,
    data_request_id: Option<&str>,
    body: &str,
) -> Result<data_export::Model> {
    Ok(data_export::ActiveModel {
        shop_id: Set(shop_id),
        customer_id: Set(customer_id.to_owned()),
        data_request_id: Set(data_request_id.map(str::to_owned)),
        body: Set(body.to_owned()),
        created_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(conn)
    .await?)
}

/// The shop's exports, newest first.
pub async fn list<C: ConnectionTrait>(
    conn: &C,
    shop_id: ShopId,
) -> Result<Vec<data_export::Model>> {
    Ok(data_export::Entity::find()
        .filter(data_export::Column::ShopId.eq(shop_id))
        .order_by_desc(data_export::Column::Id)
        .all(conn)
        .await?)
}

/// One export of the shop.
pub async fn find<C: ConnectionTrait>(
    conn: &C,
    shop_id: ShopId,
    id: i64,
) -> Result<Option<data_export::Model>> {
    Ok(data_export::Entity::find()
        .filter(data_export::Column::ShopId.eq(shop_id))
        .filter(data_export::Column::Id.eq(id))
        .one(conn)
        .await?)
}

/// Erases the shop's exports about one customer (on `customers/redact`).
pub async fn delete_for_customer<C: ConnectionTrait>(
    conn: &C,
    shop_id: ShopId,
    customer_id: &str,
) -> Result<u64> {
    let result = data_export::Entity::delete_many()
        .filter(data_export::Column::ShopId.eq(shop_id))
        .filter(data_export::Column::CustomerId.eq(customer_id))
        .exec(conn)
        .await?;
    Ok(result.rows_affected)
}
