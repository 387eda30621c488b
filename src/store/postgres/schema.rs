//! The schema, as migrations embedded in the binary: applied at start-up (under sqlx's advisory
//! lock, so instances starting together apply them once) and by `hookroute migrate` alone.

use sqlx::migrate::{MigrateError, Migration, MigrationType, Migrator};
use sqlx::postgres::PgPool;
use sqlx::SqlSafeStr;

/// Every migration, in order. A released migration is never edited: a change is a new file.
fn migrator() -> Migrator {
    Migrator::with_migrations(vec![
        Migration::new(
            1,
            "init".into(),
            MigrationType::Simple,
            include_str!("migrations/0001_init.sql").into_sql_str(),
            false,
        ),
        Migration::new(
            2,
            "ordering and pause".into(),
            MigrationType::Simple,
            include_str!("migrations/0002_ordering_and_pause.sql").into_sql_str(),
            false,
        ),
    ])
}

/// Applies the migrations not yet applied; returns the versions it applied now.
pub async fn migrate(pool: &PgPool) -> Result<Vec<i64>, MigrateError> {
    let before = applied(pool).await;
    migrator().run(pool).await?;
    let after = applied(pool).await;
    Ok(after.into_iter().filter(|v| !before.contains(v)).collect())
}

/// Versions recorded as applied (none if the bookkeeping table does not exist yet).
async fn applied(pool: &PgPool) -> Vec<i64> {
    sqlx::query_scalar::<_, i64>("SELECT version FROM _sqlx_migrations WHERE success")
        .fetch_all(pool)
        .await
        .unwrap_or_default()
}
