//! sea-orm entities, one file per table, matching the migrations in `migrations/`.

pub mod shop;
