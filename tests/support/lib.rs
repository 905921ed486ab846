//! Test support: `spawn_app()` runs the real Application on port 0 against a fresh database of its
//! own, and returns a `TestApp` to talk to it over real HTTP.
//!
//! The database is SQLite by default. With `TEST_DATABASE_URL=postgres://…` it is PostgreSQL: the
//! first test of a run builds a migrated, seeded template database (named by a fingerprint of the
//! schema and fixtures, so it is reused until either changes), and each test gets
//! `CREATE DATABASE … TEMPLATE` of it, dropped again when the test ends. SQLite does the same with
//! a template file copied per test. Tests never sleep: the listener is bound before serving.

pub mod smtp;
pub mod stripe_stub;

use std::path::PathBuf;

use sea_orm::{ConnectionTrait, Database, DatabaseConnection, Statement};
use serde_json::Value;
use tokio::sync::OnceCell;
use yoyaku::config::{LogFormat, Settings};
use yoyaku::db;
use yoyaku::services::seed::{self, CityFixture, SeedOptions};
use yoyaku::startup::Application;

/// The demo password the template's demo accounts use.
pub const DEMO_PASSWORD: &str = "yoyaku-demo";

const FINGERPRINT: &str = env!("YOYAKU_TEST_TEMPLATE_FINGERPRINT");

/// A running application and a client for it.
pub struct TestApp {
    /// `http://127.0.0.1:PORT`.
    pub address: String,
    pub port: u16,
    pub client: reqwest::Client,
    /// A connection to the same database, for arranging and asserting.
    pub db: DatabaseConnection,
    /// The app's session keys, to mint access tokens for people made in a test.
    pub keys: yoyaku::auth::SessionKeys,
    pub database: TestDatabase,
}

/// Which database engine this run uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres { admin_url: String },
}

/// The engine chosen by `TEST_DATABASE_URL`.
pub fn engine() -> Engine {
    match std::env::var("TEST_DATABASE_URL") {
        Ok(url) if url.starts_with("postgres") => Engine::Postgres { admin_url: url },
        _ => Engine::Sqlite,
    }
}

/// A database made for one test, removed when dropped.
pub struct TestDatabase {
    pub url: String,
    cleanup: Cleanup,
}

enum Cleanup {
    Files(PathBuf),
    PostgresDatabase { admin_url: String, name: String },
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        match &self.cleanup {
            Cleanup::Files(path) => {
                for suffix in ["", "-wal", "-shm"] {
                    let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
                }
            }
            Cleanup::PostgresDatabase { admin_url, name } => {
                // Drop runs outside async; a short-lived runtime on its own thread does the work.
                let (admin_url, name) = (admin_url.clone(), name.clone());
                let _ = std::thread::spawn(move || {
                    let runtime = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()?;
                    runtime.block_on(async {
                        if let Ok(admin) = Database::connect(&admin_url).await {
                            let _ = admin
                                .execute_unprepared(&format!(
                                    "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
                                ))
                                .await;
                            let _ = admin.close().await;
                        }
                    });
                    Ok::<_, std::io::Error>(())
                })
                .join();
            }
        }
    }
}

/// A fresh database holding the migrated, seeded demo city (with demo accounts).
pub async fn seeded_database() -> TestDatabase {
    match engine() {
        Engine::Sqlite => {
            let template = SQLITE_TEMPLATE.get_or_init(build_sqlite_template).await;
            let path = scratch_dir().join(format!("test-{}.db", uuid::Uuid::new_v4().simple()));
            std::fs::copy(template, &path).expect("copy the template database");
            sqlite_database(path)
        }
        Engine::Postgres { admin_url } => {
            let template = PG_TEMPLATE
                .get_or_init(|| build_pg_template(admin_url.clone()))
                .await;
            create_pg_database(&admin_url, Some(template)).await
        }
    }
}

/// A fresh, empty database: no tables at all.
pub async fn empty_database() -> TestDatabase {
    match engine() {
        Engine::Sqlite => sqlite_database(
            scratch_dir().join(format!("empty-{}.db", uuid::Uuid::new_v4().simple())),
        ),
        Engine::Postgres { admin_url } => create_pg_database(&admin_url, None).await,
    }
}

/// Settings for a test app on `database`: port 0, no demo seeding (the template is seeded).
pub fn test_settings(database: &TestDatabase) -> Settings {
    Settings {
        database_url: database.url.clone(),
        listen: "127.0.0.1:0".parse().expect("loopback address"),
        demo: Some(false),
        run_jobs: false,
        session_secret: Some(format!("test-secret-{}", uuid::Uuid::new_v4().simple()).into()),
        // A card key of its own for each test app, as production configures one.
        card_signing_keys: Some(card_key_pem(&random_card_seed()).into()),
        db_max_connections: 8,
        log_format: LogFormat::Pretty,
        // On PostgreSQL uploaded documents would go to `data/documents` under the working
        // directory (the checkout): put them in the scratch folder. SQLite keeps them beside
        // its scratch database file already.
        document_dir: matches!(engine(), Engine::Postgres { .. })
            .then(|| scratch_dir().join("documents")),
        ..Settings::default()
    }
}

/// A random Ed25519 seed for a test card key.
pub fn random_card_seed() -> [u8; 32] {
    let mut seed = [0u8; 32];
    seed[..16].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
    seed[16..].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
    seed
}

/// The PKCS#8 PEM of the Ed25519 key with `seed`, as `openssl genpkey -algorithm ed25519`
/// writes it (what `YOYAKU_CARD_SIGNING_KEYS` takes).
pub fn card_key_pem(seed: &[u8; 32]) -> String {
    use base64::Engine;
    let der = yoyaku::domain::card_token::pkcs8_der(seed);
    format!(
        "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
        base64::engine::general_purpose::STANDARD.encode(der)
    )
}

/// Spawn the app on a fresh seeded database.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Spawn the app on a fresh seeded database, with settings adjusted by `configure`.
pub async fn spawn_app_with(configure: impl FnOnce(&mut Settings)) -> TestApp {
    spawn_app_on(seeded_database().await, configure).await
}

/// Spawn the app on a given database.
pub async fn spawn_app_on(
    database: TestDatabase,
    configure: impl FnOnce(&mut Settings),
) -> TestApp {
    if std::env::var_os("TEST_LOG").is_some() {
        yoyaku::telemetry::init(LogFormat::Pretty);
    }
    let mut settings = test_settings(&database);
    configure(&mut settings);
    let app = Application::build(settings)
        .await
        .expect("build the application");
    let port = app.port();
    let db = app.state().db.clone();
    let keys = app.state().keys.clone();
    tokio::spawn(app.run_until(std::future::pending()));
    TestApp {
        address: format!("http://127.0.0.1:{port}"),
        port,
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("http client"),
        db,
        keys,
        database,
    }
}

impl TestApp {
    /// `GET` a path and return the response.
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{path}", self.address))
            .send()
            .await
            .expect("request sent")
    }

    /// `GET` a path and return its status and JSON body.
    pub async fn get_json(&self, path: &str) -> (reqwest::StatusCode, Value) {
        let response = self.get(path).await;
        let status = response.status();
        let body = response.json::<Value>().await.unwrap_or(Value::Null);
        (status, body)
    }

    /// `POST` a JSON body and return the status and JSON answer.
    pub async fn post_json(&self, path: &str, body: &Value) -> (reqwest::StatusCode, Value) {
        let response = self
            .client
            .post(format!("{}{path}", self.address))
            .json(body)
            .send()
            .await
            .expect("request sent");
        let status = response.status();
        (
            status,
            response.json::<Value>().await.unwrap_or(Value::Null),
        )
    }

    /// Sign in as a demo account; returns the token response.
    pub async fn login(&self, email: &str) -> Value {
        let (status, body) = self
            .post_json(
                "/api/v1/auth/login",
                &serde_json::json!({"email": email, "password": DEMO_PASSWORD}),
            )
            .await;
        assert_eq!(status, 200, "login as {email}: {body}");
        body
    }

    /// `GET` with a bearer token.
    pub async fn get_as(&self, token: &str, path: &str) -> (reqwest::StatusCode, Value) {
        let response = self
            .client
            .get(format!("{}{path}", self.address))
            .bearer_auth(token)
            .send()
            .await
            .expect("request sent");
        let status = response.status();
        (
            status,
            response.json::<Value>().await.unwrap_or(Value::Null),
        )
    }

    /// Make a verified resident (or non-resident) account and return its id and an access token.
    pub async fn new_resident(&self, residency: &str) -> (i32, String) {
        use sea_orm::ConnectionTrait;
        let email = format!("{}@test.yoyaku.jp", uuid::Uuid::new_v4().simple());
        self.db
            .execute_unprepared(&format!(
                "INSERT INTO users (email, password_hash, display_name, role, residency, locale, email_verified_at, created_at, registration_state) \
                 VALUES ('{email}', NULL, 'テスト 利用者', 'resident', '{residency}', 'ja', '2026-01-01 00:00:00+00:00', '2026-01-01 00:00:00+00:00', 'approved')"
            ))
            .await
            .expect("insert a resident");
        let id = self
            .count(&format!("SELECT id FROM users WHERE email = '{email}'"))
            .await as i32;
        let (token, _) = self
            .keys
            .issue_access(id, yoyaku::domain::roles::Role::Resident);
        (id, token)
    }

    /// `POST` JSON with a bearer token and optional Idempotency-Key.
    pub async fn post_as(
        &self,
        token: &str,
        path: &str,
        idempotency_key: Option<&str>,
        body: &Value,
    ) -> (reqwest::StatusCode, reqwest::header::HeaderMap, Value) {
        let mut request = self
            .client
            .post(format!("{}{path}", self.address))
            .bearer_auth(token)
            .json(body);
        if let Some(key) = idempotency_key {
            request = request.header("Idempotency-Key", key);
        }
        let response = request.send().await.expect("request sent");
        let status = response.status();
        let headers = response.headers().clone();
        (
            status,
            headers,
            response.json::<Value>().await.unwrap_or(Value::Null),
        )
    }

    /// Book `slot_ids` of `room_id` as the bearer of `token`, with a fresh Idempotency-Key.
    pub async fn book(
        &self,
        token: &str,
        room_id: i64,
        slot_ids: &[i64],
    ) -> (reqwest::StatusCode, Value) {
        let key = uuid::Uuid::new_v4().to_string();
        let body = serde_json::json!({
            "room_id": room_id, "slot_ids": slot_ids, "purpose": "バドミントン練習", "attendees": 8
        });
        let (status, _, answer) = self
            .post_as(token, "/api/v1/bookings", Some(&key), &body)
            .await;
        (status, answer)
    }

    /// The first weekday at least `from_days` ahead (Japan time) that is not a public holiday
    /// and on which `facility` has slots, once they are generated for that day.
    pub async fn bookable_day(&self, facility: i32, from_days: i64) -> chrono::NaiveDate {
        let mut day = self.open_weekday_from(from_days).await;
        loop {
            yoyaku::services::slots::generate(&self.db, day, day, Some(facility))
                .await
                .expect("slots generated");
            let n = self
                .count(&format!(
                    "SELECT COUNT(*) FROM slots s JOIN rooms r ON r.id = s.room_id \
                     WHERE r.facility_id = {facility} AND s.service_date = '{day}'"
                ))
                .await;
            if n > 0 {
                return day;
            }
            day = self
                .next_open_weekday(day + chrono::Duration::days(1))
                .await;
        }
    }

    /// The first open weekday at least `from_days` ahead on which `room` has available slots
    /// (generating them as needed), and those slots' ids in time order.
    pub async fn free_slots_from(
        &self,
        room: i64,
        from_days: i64,
    ) -> (chrono::NaiveDate, Vec<i64>) {
        let facility = self
            .count(&format!("SELECT facility_id FROM rooms WHERE id = {room}"))
            .await as i32;
        let mut day = self.open_weekday_from(from_days).await;
        loop {
            yoyaku::services::slots::generate(&self.db, day, day, Some(facility))
                .await
                .expect("slots generated");
            let (_, body) = self
                .get_json(&format!("/api/v1/rooms/{room}/slots?from={day}&to={day}"))
                .await;
            let ids: Vec<i64> = body["items"]
                .as_array()
                .expect("a slot list")
                .iter()
                .filter(|s| s["state"] == "available")
                .map(|s| s["id"].as_i64().expect("a slot id"))
                .collect();
            if !ids.is_empty() {
                return (day, ids);
            }
            day = self
                .next_open_weekday(day + chrono::Duration::days(1))
                .await;
        }
    }

    async fn open_weekday_from(&self, from_days: i64) -> chrono::NaiveDate {
        let today = yoyaku::domain::calendar::tokyo_date(chrono::Utc::now());
        self.next_open_weekday(today + chrono::Duration::days(from_days))
            .await
    }

    /// `day`, or the first day after it that is neither a weekend day nor a public holiday.
    async fn next_open_weekday(&self, mut day: chrono::NaiveDate) -> chrono::NaiveDate {
        use chrono::{Datelike, Weekday};
        loop {
            let weekend = matches!(day.weekday(), Weekday::Sat | Weekday::Sun);
            let holiday = self
                .count(&format!(
                    "SELECT COUNT(*) FROM public_holidays WHERE date = '{day}'"
                ))
                .await
                > 0;
            if !weekend && !holiday {
                return day;
            }
            day += chrono::Duration::days(1);
        }
    }

    /// A scalar count from SQL, for assertions.
    pub async fn count(&self, sql: &str) -> i64 {
        count(&self.db, sql).await
    }
}

/// A scalar count from SQL.
pub async fn count(db: &DatabaseConnection, sql: &str) -> i64 {
    let row = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            sql.to_owned(),
        ))
        .await
        .expect("count query")
        .expect("a row");
    // COUNT(*) is BIGINT on PostgreSQL, ids are INTEGER; SQLite has one integer type.
    row.try_get_by_index::<i64>(0)
        .or_else(|_| row.try_get_by_index::<i32>(0).map(i64::from))
        .expect("an integer")
}

/// The `error` object of an error envelope, asserting the shape.
pub fn error_of(body: &Value) -> &Value {
    let error = body
        .get("error")
        .unwrap_or_else(|| panic!("no error envelope in {body}"));
    assert!(
        error["code"].is_string() && error["message"].is_string(),
        "bad envelope {body}"
    );
    error
}

/// The field names an error envelope blames.
pub fn blamed_fields(body: &Value) -> Vec<String> {
    error_of(body)["fields"]
        .as_array()
        .map(|fields| {
            fields
                .iter()
                .filter_map(|f| f["field"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

static SQLITE_TEMPLATE: OnceCell<PathBuf> = OnceCell::const_new();
static PG_TEMPLATE: OnceCell<String> = OnceCell::const_new();

fn scratch_dir() -> PathBuf {
    let dir = std::env::temp_dir().join("yoyaku-tests");
    std::fs::create_dir_all(&dir).expect("create the scratch folder");
    dir
}

fn sqlite_database(path: PathBuf) -> TestDatabase {
    TestDatabase {
        url: format!("sqlite://{}", path.display()),
        cleanup: Cleanup::Files(path),
    }
}

async fn migrate_and_seed(url: &str) {
    let settings = Settings {
        database_url: url.to_owned(),
        ..Settings::default()
    };
    let conn = db::connect(&settings)
        .await
        .expect("connect to the template");
    db::migrate(&conn).await.expect("migrate the template");
    let fixture = CityFixture::demo().expect("demo fixture");
    let options = SeedOptions {
        demo_users: true,
        demo_password: DEMO_PASSWORD.to_owned(),
    };
    seed::load_city(&conn, &fixture, &options)
        .await
        .expect("seed the template");
    if settings.is_sqlite() {
        // Fold the WAL into the main file so that copying one file copies everything.
        conn.execute_unprepared("PRAGMA wal_checkpoint(TRUNCATE)")
            .await
            .expect("checkpoint");
    }
    conn.close().await.expect("close the template");
}

async fn build_sqlite_template() -> PathBuf {
    // One template per test process: processes never share a file being written.
    let path = scratch_dir().join(format!("template-{FINGERPRINT}-{}.db", std::process::id()));
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    migrate_and_seed(&format!("sqlite://{}", path.display())).await;
    path
}

async fn build_pg_template(admin_url: String) -> String {
    let name = format!("yoyaku_tpl_{FINGERPRINT}");
    let admin = Database::connect(&admin_url)
        .await
        .expect("connect to PostgreSQL (TEST_DATABASE_URL)");
    // Other test processes may be building the same template: take turns.
    admin
        .execute_unprepared("SELECT pg_advisory_lock(72657365)")
        .await
        .expect("lock");
    let exists = count(
        &admin,
        &format!("SELECT COUNT(*) FROM pg_database WHERE datname = '{name}'"),
    )
    .await
        > 0;
    if !exists {
        let building = format!("{name}_building");
        admin
            .execute_unprepared(&format!(
                "DROP DATABASE IF EXISTS \"{building}\" WITH (FORCE)"
            ))
            .await
            .expect("drop a half-built template");
        admin
            .execute_unprepared(&format!("CREATE DATABASE \"{building}\""))
            .await
            .expect("create template");
        migrate_and_seed(&database_url(&admin_url, &building)).await;
        admin
            .execute_unprepared(&format!(
                "ALTER DATABASE \"{building}\" RENAME TO \"{name}\""
            ))
            .await
            .expect("publish the template");
    }
    admin
        .execute_unprepared("SELECT pg_advisory_unlock(72657365)")
        .await
        .expect("unlock");
    admin.close().await.ok();
    name
}

async fn create_pg_database(admin_url: &str, template: Option<&String>) -> TestDatabase {
    let name = format!("yoyaku_test_{}", uuid::Uuid::new_v4().simple());
    let admin = Database::connect(admin_url)
        .await
        .expect("connect to PostgreSQL");
    let sql = match template {
        Some(template) => format!("CREATE DATABASE \"{name}\" TEMPLATE \"{template}\""),
        None => format!("CREATE DATABASE \"{name}\""),
    };
    admin
        .execute_unprepared(&sql)
        .await
        .expect("create the test database");
    admin.close().await.ok();
    TestDatabase {
        url: database_url(admin_url, &name),
        cleanup: Cleanup::PostgresDatabase {
            admin_url: admin_url.to_owned(),
            name,
        },
    }
}

/// `admin_url` with its database name replaced by `name`.
fn database_url(admin_url: &str, name: &str) -> String {
    let (base, query) = admin_url
        .split_once('?')
        .map_or((admin_url, None), |(b, q)| (b, Some(q)));
    let base = match base.rsplit_once('/') {
        Some((host, _db)) if host.contains("://") && !host.ends_with('/') => host.to_owned(),
        _ => base.trim_end_matches('/').to_owned(),
    };
    match query {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
    }
}
