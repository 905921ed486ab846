//! Migrations apply on an empty database, roll back completely, and apply again.

use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};
use yoyaku::config::Settings;
use yoyaku_tests::{Engine, empty_database, engine};

async fn table_names(db: &DatabaseConnection) -> Vec<String> {
    let sql = match engine() {
        Engine::Sqlite => {
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
        }
        Engine::Postgres { .. } => {
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"
        }
    };
    db.query_all_raw(Statement::from_string(
        db.get_database_backend(),
        sql.to_owned(),
    ))
    .await
    .unwrap()
    .iter()
    .map(|row| row.try_get_by_index::<String>(0).unwrap())
    .collect()
}

#[tokio::test]
async fn migrations_go_up_down_and_up_again() {
    let database = empty_database().await;
    let settings = Settings {
        database_url: database.url.clone(),
        ..Settings::default()
    };
    let db = yoyaku::db::connect(&settings).await.unwrap();

    Migrator::up(&db, None).await.expect("up");
    let tables = table_names(&db).await;
    for table in [
        "wards",
        "facilities",
        "rooms",
        "room_units",
        "room_unit_coverage",
        "slots",
        "slot_templates",
        "closures",
        "public_holidays",
        "room_prices",
        "users",
        "staff_assignments",
    ] {
        assert!(
            tables.contains(&table.to_owned()),
            "{table} missing after up: {tables:?}"
        );
    }

    Migrator::down(&db, None).await.expect("down");
    let left: Vec<_> = table_names(&db)
        .await
        .into_iter()
        .filter(|t| t != "seaql_migrations")
        .collect();
    assert!(left.is_empty(), "tables left after down: {left:?}");

    Migrator::up(&db, None).await.expect("up again");
    assert_eq!(table_names(&db).await, tables);
    assert!(
        Migrator::get_pending_migrations(&db)
            .await
            .unwrap()
            .is_empty()
    );
    db.close().await.ok();
}

#[tokio::test]
async fn serving_an_empty_database_in_demo_mode_seeds_the_demo_city() {
    let database = empty_database().await;
    let app = yoyaku_tests::spawn_app_on(database, |s| s.demo = Some(true)).await;
    let (status, body) = app.get_json("/api/v1/facilities?per_page=1").await;
    assert_eq!(status, 200);
    assert_eq!(body["total"], 89);
    let (_, body) = app.get_json("/readyz").await;
    assert_eq!(body["status"], "ok");
    let _ = app.db.execute_unprepared("SELECT 1").await;
}
