//! Running in production: real `yoyaku serve` processes (the binary, configured by environment)
//! sharing one PostgreSQL database without double booking and running each job once per period;
//! a job lease left by a dead instance taken over; readiness failing while draining and a clean
//! exit on SIGTERM; JSON logs; `/metrics`; overload shedding with 503 + `Retry-After`; and backup
//! and restore on both databases with the commands docs/OPERATIONS.md gives.

use std::process::Stdio;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, Command};
use yoyaku::services::job_leases;
use yoyaku_tests::{Engine, TestApp, engine, error_of, seeded_database, spawn_app_on};

/// The jobs every instance runs (mail delivery only with SMTP, which these processes lack).
const JOBS: &[&str] = &[
    "slot_generation",
    "payment_deadlines",
    "refunds",
    "registration_reminders",
    "no_shows",
];

/// The `yoyaku` binary, built once per test run from the workspace's current sources (a test
/// binary cannot depend on another package's binary, so it asks cargo, which is quick when the
/// binary is up to date).
async fn binary() -> &'static std::path::Path {
    static BINARY: tokio::sync::OnceCell<std::path::PathBuf> = tokio::sync::OnceCell::const_new();
    BINARY
        .get_or_init(|| async {
            let workspace = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .parent()
                .expect("the workspace folder")
                .to_owned();
            let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
            let status = Command::new(cargo)
                .args(["build", "--quiet", "-p", "yoyaku", "--bin", "yoyaku"])
                .current_dir(&workspace)
                .status()
                .await
                .expect("run cargo build");
            assert!(status.success(), "cargo build of the yoyaku binary failed");
            // The test binary is target/<profile>/deps/e2e-…; the binary is target/<profile>/yoyaku.
            let exe = std::env::current_exe().expect("the test binary's path");
            let profile_dir = exe
                .parent()
                .and_then(|deps| deps.parent())
                .expect("target/<profile>");
            let binary = profile_dir.join("yoyaku");
            assert!(binary.is_file(), "no binary at {}", binary.display());
            binary
        })
        .await
}

/// One `yoyaku serve` process on loopback, killed when dropped.
struct Process {
    child: Child,
    address: String,
    /// Every line it logged (JSON, one object each).
    log: Arc<Mutex<Vec<String>>>,
    client: reqwest::Client,
}

/// Start `yoyaku serve` on `database_url` with only the given environment (nothing inherited,
/// so no stray YOYAKU_* of the test run leaks in), and wait until it says where it listens.
async fn serve(database_url: &str, env: &[(&str, &str)]) -> Process {
    let scratch = std::env::temp_dir().join("yoyaku-tests");
    std::fs::create_dir_all(&scratch).expect("scratch folder");
    let mut command = Command::new(binary().await);
    command
        .arg("serve")
        .env_clear()
        .env("YOYAKU_DATABASE_URL", database_url)
        .env("YOYAKU_LISTEN", "127.0.0.1:0")
        .env("YOYAKU_DEMO", "0")
        .env("YOYAKU_LOG_FORMAT", "json")
        .env("YOYAKU_SLOT_WINDOW_DAYS", "2")
        .env("RUST_LOG", "info")
        .current_dir(&scratch)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true);
    for (key, value) in env {
        command.env(key, value);
    }
    let mut child = command.spawn().expect("start yoyaku serve");
    let stdout = child.stdout.take().expect("stdout");
    let log = Arc::new(Mutex::new(Vec::new()));
    let (listening, mut address) = tokio::sync::mpsc::channel::<String>(1);
    let lines = log.clone();
    // Read the log to the end, so the process never blocks on a full pipe.
    tokio::spawn(async move {
        let mut reader = BufReader::new(stdout).lines();
        while let Ok(Some(line)) = reader.next_line().await {
            if let Ok(event) = serde_json::from_str::<Value>(&line)
                && event["message"] == "yoyaku is serving"
                && let Some(listen) = event["listen"].as_str()
            {
                let _ = listening.send(listen.to_owned()).await;
            }
            lines.lock().unwrap().push(line);
        }
    });
    let address = address
        .recv()
        .await
        .unwrap_or_else(|| panic!("yoyaku serve exited before listening: {:?}", log.lock()));
    Process {
        child,
        address: format!("http://{address}"),
        log,
        client: reqwest::Client::new(),
    }
}

impl Process {
    async fn get(&self, path: &str) -> (reqwest::StatusCode, Value) {
        let response = self
            .client
            .get(format!("{}{path}", self.address))
            .send()
            .await
            .expect("request sent");
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// The metrics page, with the token.
    async fn metrics(&self, token: &str) -> String {
        let response = self
            .client
            .get(format!("{}/metrics", self.address))
            .bearer_auth(token)
            .send()
            .await
            .expect("metrics request");
        assert_eq!(response.status(), 200);
        response.text().await.expect("the metrics page")
    }

    /// Send SIGTERM, as systemd, compose and Kubernetes do.
    fn terminate(&self) {
        let pid = self.child.id().expect("the process runs");
        let status = std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .expect("run kill");
        assert!(status.success());
    }
}

/// Settle for a condition the processes reach by themselves (a job run, a drained state): look
/// again every 200 ms, for at most a minute.
async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..300 {
        if check().await {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    panic!("never happened: {what}");
}

/// An in-process app on a fresh seeded database whose session secret the processes share, so
/// tokens it mints work on them too.
async fn app_with_secret(secret: &str) -> TestApp {
    let secret = secret.to_owned();
    spawn_app_on(seeded_database().await, move |s| {
        s.session_secret = Some(secret.into());
    })
    .await
}

/// The main gym of the Tsurumi sports center.
async fn main_gym(app: &TestApp) -> i64 {
    app.count(
        "SELECT r.id FROM rooms r JOIN facilities f ON f.id = r.facility_id \
         WHERE f.code = 'tsurumi-sports-center' AND r.code = 'main-gym'",
    )
    .await
}

fn finished_runs(runs: &[yoyaku::entities::job_run::Model]) -> usize {
    runs.iter().filter(|r| r.outcome == "ok").count()
}

#[tokio::test]
async fn two_processes_on_one_postgres_never_double_book_and_run_each_job_once_per_period() {
    if engine() == Engine::Sqlite {
        eprintln!(
            "skipped: several `yoyaku serve` processes share PostgreSQL only (set TEST_DATABASE_URL)"
        );
        return;
    }
    let secret = format!("shared-secret-{}", uuid::Uuid::new_v4().simple());
    let app = app_with_secret(&secret).await;
    let gym = main_gym(&app).await;
    let (_, slots) = app.free_slots_from(gym, 3).await;
    let env = |id| {
        [
            ("YOYAKU_SESSION_SECRET", secret.as_str()),
            ("YOYAKU_INSTANCE_ID", id),
            ("YOYAKU_METRICS_TOKEN", "metrics-token"),
        ]
    };
    let a = serve(&app.database.url, &env("instance-a")).await;
    let b = serve(&app.database.url, &env("instance-b")).await;

    // Four people race for each of three slots, two through each process.
    let contested = &slots[..3.min(slots.len())];
    let mut races = Vec::new();
    for (i, slot) in contested.iter().enumerate() {
        for j in 0..4 {
            let (_, token) = app.new_resident("resident").await;
            let address = if j % 2 == 0 { &a.address } else { &b.address };
            let url = format!("{address}/api/v1/bookings");
            let client = reqwest::Client::new();
            let body = json!({
                "room_id": gym, "slot_ids": [slot], "purpose": "バドミントン練習", "attendees": 8
            });
            races.push(tokio::spawn(async move {
                let response = client
                    .post(url)
                    .bearer_auth(token)
                    .header("Idempotency-Key", uuid::Uuid::new_v4().to_string())
                    .json(&body)
                    .send()
                    .await
                    .expect("booking request");
                let status = response.status().as_u16();
                let body: Value = response.json().await.unwrap_or(Value::Null);
                (i, status, body)
            }));
        }
    }
    let mut won = vec![0; contested.len()];
    for race in races {
        let (i, status, body) = race.await.unwrap();
        match status {
            201 => won[i] += 1,
            409 => assert_eq!(error_of(&body)["code"], "slot_taken", "{body}"),
            other => panic!("unexpected {other}: {body}"),
        }
    }
    assert_eq!(
        won,
        vec![1; contested.len()],
        "exactly one booking per slot"
    );
    for slot in contested {
        let holders = app
            .count(&format!(
                "SELECT COUNT(*) FROM booking_slots bs JOIN bookings b ON b.id = bs.booking_id \
                 WHERE bs.slot_id = {slot} AND b.state IN ('awaiting_payment', 'confirmed')"
            ))
            .await;
        assert_eq!(holders, 1, "slot {slot}");
    }

    // Both processes run the job loop; every job has run, each run by one of them, and a job
    // never starts again within its period of the run before.
    for job in JOBS {
        eventually(&format!("{job} has run"), || async {
            finished_runs(&job_leases::runs(&app.db, job).await.unwrap()) >= 1
        })
        .await;
    }
    for job in JOBS {
        let runs = job_leases::runs(&app.db, job).await.unwrap();
        let period = chrono::Duration::from_std(every(job)).unwrap();
        for pair in runs.windows(2) {
            assert!(
                pair[1].started_at >= pair[0].started_at + period,
                "{job} ran twice within its period: {pair:?}"
            );
        }
        for run in &runs {
            assert!(
                ["instance-a", "instance-b"].contains(&run.holder.as_str()),
                "{run:?}"
            );
        }
    }

    // The metrics of a process name the series, behind the token.
    let (status, _) = a.get("/metrics").await;
    assert_eq!(status, 401, "no token, no metrics");
    let mut pages = String::new();
    for process in [&a, &b] {
        let page = process.metrics("metrics-token").await;
        for series in [
            "yoyaku_http_request_duration_seconds_bucket",
            "yoyaku_db_pool_connections",
            "yoyaku_db_pool_idle_connections",
        ] {
            assert!(page.contains(series), "{series} missing from\n{page}");
        }
        pages.push_str(&page);
    }
    // Each series is on the page of the process that saw the event.
    for series in [
        "yoyaku_job_runs_total{job=\"slot_generation\",outcome=\"ok\"}",
        "yoyaku_bookings_created_total",
        "yoyaku_booking_conflicts_total",
    ] {
        assert!(pages.contains(series), "{series} missing from\n{pages}");
    }
    assert_json_logs_without_personal_data(&a);
}

/// The period of a job, as the runner schedules it.
fn every(job: &str) -> std::time::Duration {
    use yoyaku::jobs::*;
    match job {
        "slot_generation" => slot_generation::EVERY,
        "payment_deadlines" => payment_deadlines::EVERY,
        "refunds" => refunds::EVERY,
        "registration_reminders" => registration_reminders::EVERY,
        "no_shows" => no_shows::EVERY,
        other => panic!("unknown job {other}"),
    }
}

/// Every line the process logged is a JSON object, and none carries a resident's mail address.
fn assert_json_logs_without_personal_data(process: &Process) {
    let log = process.log.lock().unwrap();
    assert!(!log.is_empty());
    for line in log.iter() {
        let event: Value =
            serde_json::from_str(line).unwrap_or_else(|_| panic!("not JSON: {line}"));
        assert!(event["level"].is_string(), "{line}");
        assert!(
            !line.contains("@test.yoyaku.jp"),
            "personal data logged: {line}"
        );
    }
}

#[tokio::test]
async fn a_lease_left_by_a_dead_instance_is_taken_over_and_a_live_one_is_respected() {
    let app = app_with_secret("lease-takeover-secret-0123456789abcdef").await;
    let now = Utc::now();
    let past = now - chrono::Duration::seconds(30);
    let later = now + chrono::Duration::hours(1);
    // A process that was killed in the middle of payment_deadlines: its lease ran out, its
    // run is still `running`. Another instance, alive, is in the middle of refunds.
    leave_lease(&app, "payment_deadlines", "killed-instance", past, past).await;
    let killed_run = job_leases::start_run(&app.db, "payment_deadlines", "killed-instance", past)
        .await
        .unwrap();
    leave_lease(&app, "refunds", "live-instance", later, past).await;

    let process = serve(
        &app.database.url,
        &[
            (
                "YOYAKU_SESSION_SECRET",
                "lease-takeover-secret-0123456789abcdef",
            ),
            ("YOYAKU_INSTANCE_ID", "successor"),
        ],
    )
    .await;
    eventually("the successor ran payment_deadlines", || async {
        job_leases::runs(&app.db, "payment_deadlines")
            .await
            .unwrap()
            .iter()
            .any(|r| r.holder == "successor" && r.outcome == "ok")
    })
    .await;
    let runs = job_leases::runs(&app.db, "payment_deadlines")
        .await
        .unwrap();
    let dead = runs.iter().find(|r| r.id == killed_run).unwrap();
    assert_eq!(dead.outcome, "abandoned");
    assert!(dead.finished_at.is_some());
    // The other jobs ran too, but not refunds: its holder's lease has an hour to go.
    eventually("the successor ran no_shows", || async {
        finished_runs(&job_leases::runs(&app.db, "no_shows").await.unwrap()) >= 1
    })
    .await;
    assert!(
        job_leases::runs(&app.db, "refunds")
            .await
            .unwrap()
            .is_empty(),
        "a live instance's lease was taken"
    );

    // SIGTERM: the process drains, stops its jobs, releases their leases and exits cleanly.
    process.terminate();
    let log = process.log.clone();
    let status = wait_for_exit(process).await;
    assert!(status.success(), "exit status {status}");
    let log = log.lock().unwrap().join("\n");
    use sea_orm::EntityTrait;
    let still_held: Vec<_> = yoyaku::entities::job_lease::Entity::find()
        .all(&app.db)
        .await
        .unwrap()
        .into_iter()
        .filter(|l| l.holder == "successor" && l.expires_at > Utc::now())
        .collect();
    assert!(
        still_held.is_empty(),
        "leases kept after shutdown: {still_held:?}\n{log}"
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM job_runs WHERE outcome = 'running'")
            .await,
        0
    );
}

/// Write a lease row as an instance would have left it.
async fn leave_lease(
    app: &TestApp,
    job: &str,
    holder: &str,
    expires_at: DateTime<Utc>,
    due_at: DateTime<Utc>,
) {
    use sea_orm::{ActiveValue::Set, EntityTrait};
    yoyaku::entities::job_lease::Entity::insert(yoyaku::entities::job_lease::ActiveModel {
        job: Set(job.to_owned()),
        holder: Set(holder.to_owned()),
        expires_at: Set(expires_at),
        due_at: Set(due_at),
    })
    .exec(&app.db)
    .await
    .expect("lease row");
}

/// Wait (at most a minute) for a terminated process to exit.
async fn wait_for_exit(mut process: Process) -> std::process::ExitStatus {
    tokio::time::timeout(std::time::Duration::from_secs(60), process.child.wait())
        .await
        .expect("the process exits after SIGTERM")
        .expect("exit status")
}

#[tokio::test]
async fn readiness_fails_while_draining_and_requests_are_still_served_until_the_listener_closes() {
    let app = app_with_secret("drain-secret-0123456789abcdef0123456789").await;
    let process = serve(
        &app.database.url,
        &[
            (
                "YOYAKU_SESSION_SECRET",
                "drain-secret-0123456789abcdef0123456789",
            ),
            ("YOYAKU_RUN_JOBS", "false"),
            ("YOYAKU_DRAIN_SECONDS", "5"),
        ],
    )
    .await;
    let (status, _) = process.get("/readyz").await;
    assert_eq!(status, 200);
    process.terminate();
    eventually("readiness reports draining", || async {
        let (status, body) = process.get("/readyz").await;
        status == 503 && body["error"]["code"] == "draining"
    })
    .await;
    // Draining is not dead: liveness holds and requests are served until the listener closes.
    let (status, _) = process.get("/healthz").await;
    assert_eq!(status, 200);
    let (status, body) = process.get("/api/v1/wards").await;
    assert_eq!(status, 200, "{body}");
    let status = wait_for_exit(process).await;
    assert!(status.success(), "exit status {status}");
}

#[tokio::test]
async fn beyond_the_in_flight_limit_requests_are_refused_at_once_but_health_is_not() {
    let app = spawn_app_on(seeded_database().await, |s| s.max_in_flight = 1).await;
    // Hold the only permit: a request whose body never finishes arriving.
    let mut held = tokio::net::TcpStream::connect(("127.0.0.1", app.port))
        .await
        .unwrap();
    held.write_all(
        b"POST /api/v1/auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\n\
          Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{",
    )
    .await
    .unwrap();
    // The held request takes its permit as soon as the server has read its headers.
    let mut response = app.get("/api/v1/wards").await;
    for _ in 0..300 {
        if response.status() == 503 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        response = app.get("/api/v1/wards").await;
    }
    assert_eq!(response.status(), 503, "never refused for overload");
    assert_eq!(response.headers()["retry-after"], "1");
    let body: Value = response.json().await.unwrap();
    assert_eq!(error_of(&body)["code"], "overloaded");
    for path in ["/healthz", "/readyz", "/metrics"] {
        assert_eq!(app.get(path).await.status(), 200, "{path} is never shed");
    }
    let page = app.get("/metrics").await.text().await.unwrap();
    assert!(page.contains("yoyaku_http_shed_total"), "{page}");
    // The held request ends; the permit comes back.
    drop(held);
    eventually("requests are served again", || async {
        app.get("/api/v1/wards").await.status() == 200
    })
    .await;
}

#[tokio::test]
async fn metrics_name_bookings_refusals_latency_and_the_pool_and_need_the_token_when_set() {
    let app = spawn_app_on(seeded_database().await, |s| {
        s.metrics_token = Some("scrape-me".to_owned().into());
    })
    .await;
    let gym = main_gym(&app).await;
    let (_, slots) = app.free_slots_from(gym, 3).await;
    let (_, first) = app.new_resident("resident").await;
    let (_, second) = app.new_resident("resident").await;
    assert_eq!(app.book(&first, gym, &[slots[0]]).await.0, 201);
    assert_eq!(app.book(&second, gym, &[slots[0]]).await.0, 409);

    assert_eq!(app.get("/metrics").await.status(), 401);
    let wrong = app
        .client
        .get(format!("{}/metrics", app.address))
        .bearer_auth("not-it")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let response = app
        .client
        .get(format!("{}/metrics", app.address))
        .bearer_auth("scrape-me")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let page = response.text().await.unwrap();
    for series in [
        "yoyaku_bookings_created_total",
        "yoyaku_bookings_refused_total{code=\"slot_taken\"}",
        "yoyaku_booking_conflicts_total",
        "yoyaku_http_request_duration_seconds_bucket{method=\"POST\",route=\"/api/v1/bookings\",status=\"201\"",
        "yoyaku_db_pool_connections",
        "yoyaku_db_pool_idle_connections",
        "yoyaku_db_pool_max_connections",
    ] {
        assert!(page.contains(series), "{series} missing from\n{page}");
    }
    assert!(
        !page.contains(&format!("/rooms/{gym}/")),
        "routes are templates, not raw paths"
    );
}

#[tokio::test]
async fn backup_and_restore_keeps_every_booking_and_payment() {
    let app = spawn_app_on(seeded_database().await, |_| {}).await;
    let gym = main_gym(&app).await;
    let (_, slots) = app.free_slots_from(gym, 3).await;
    let (_, token) = app.new_resident("resident").await;
    let (status, booking) = app.book(&token, gym, &[slots[0]]).await;
    assert_eq!(status, 201, "{booking}");
    let (_, other) = app.new_resident("resident").await;
    assert_eq!(app.book(&other, gym, &[slots[1]]).await.0, 201);
    // Pay the first on the embedded provider's page, so the ledger has a payment.
    let id = booking["id"].as_i64().unwrap();
    let (status, _, checkout) = app
        .post_as(
            &token,
            &format!("/api/v1/bookings/{id}/checkout"),
            None,
            &json!({}),
        )
        .await;
    assert_eq!(status, 200, "{checkout}");
    let paid = app
        .client
        .post(format!(
            "{}/complete",
            checkout["checkout_url"].as_str().unwrap()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(paid.status(), 303);
    let before = ledger_rows(&app.db).await;
    assert!(!before.1.is_empty(), "a payment to find after the restore");

    let restored_url = match engine() {
        Engine::Sqlite => {
            // docs/OPERATIONS.md: `sqlite3 yoyaku.db "VACUUM INTO '…'"`, online.
            let file = std::env::temp_dir()
                .join("yoyaku-tests")
                .join(format!("backup-{}.db", uuid::Uuid::new_v4().simple()));
            use sea_orm::ConnectionTrait;
            app.db
                .execute_unprepared(&format!("VACUUM INTO '{}'", file.display()))
                .await
                .expect("VACUUM INTO");
            Restored::File(file)
        }
        Engine::Postgres { admin_url } => {
            // docs/OPERATIONS.md: pg_dump --format=custom, then pg_restore into a fresh database.
            let dump = std::env::temp_dir()
                .join("yoyaku-tests")
                .join(format!("backup-{}.dump", uuid::Uuid::new_v4().simple()));
            run(
                "pg_dump",
                &[
                    "--format=custom",
                    "--no-owner",
                    &format!("--file={}", dump.display()),
                    &app.database.url,
                ],
            )
            .await;
            let name = format!("yoyaku_test_restore_{}", uuid::Uuid::new_v4().simple());
            let admin = sea_orm::Database::connect(&admin_url).await.unwrap();
            use sea_orm::ConnectionTrait;
            admin
                .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
                .await
                .unwrap();
            let url = with_database(&admin_url, &name);
            run(
                "pg_restore",
                &[
                    "--no-owner",
                    "--exit-on-error",
                    &format!("--dbname={url}"),
                    &dump.display().to_string(),
                ],
            )
            .await;
            let _ = std::fs::remove_file(&dump);
            Restored::Database { admin, name, url }
        }
    };
    let url = restored_url.url();
    let restored = sea_orm::Database::connect(&url).await.unwrap();
    let after = ledger_rows(&restored).await;
    restored.close().await.ok();
    restored_url.remove().await;
    assert_eq!(after, before, "every booking and payment restored");
}

/// Every booking (id, state, fee) and payment (id, booking, amount), in id order.
async fn ledger_rows(db: &sea_orm::DatabaseConnection) -> (Vec<String>, Vec<String>) {
    use sea_orm::{ConnectionTrait, Statement};
    let backend = db.get_database_backend();
    let rows = |sql: &str| Statement::from_string(backend, sql.to_owned());
    let bookings = db
        .query_all_raw(rows("SELECT id, state FROM bookings ORDER BY id"))
        .await
        .unwrap()
        .iter()
        .map(|r| {
            format!(
                "{}:{}",
                r.try_get_by_index::<i64>(0).unwrap(),
                r.try_get_by_index::<String>(1).unwrap()
            )
        })
        .collect();
    let payments = db
        .query_all_raw(rows(
            "SELECT id, booking_id, amount_yen FROM payments ORDER BY id",
        ))
        .await
        .unwrap()
        .iter()
        .map(|r| {
            format!(
                "{}:{}:{}",
                r.try_get_by_index::<i64>(0).unwrap(),
                r.try_get_by_index::<i64>(1).unwrap(),
                r.try_get_by_index::<i64>(2)
                    .or_else(|_| r.try_get_by_index::<i32>(2).map(i64::from))
                    .unwrap()
            )
        })
        .collect();
    (bookings, payments)
}

/// Where a backup was restored to, removed at the end.
enum Restored {
    File(std::path::PathBuf),
    Database {
        admin: sea_orm::DatabaseConnection,
        name: String,
        url: String,
    },
}

impl Restored {
    fn url(&self) -> String {
        match self {
            Restored::File(file) => format!("sqlite://{}", file.display()),
            Restored::Database { url, .. } => url.clone(),
        }
    }

    async fn remove(self) {
        match self {
            Restored::File(file) => {
                let _ = std::fs::remove_file(file);
            }
            Restored::Database { admin, name, .. } => {
                use sea_orm::ConnectionTrait;
                let _ = admin
                    .execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                    .await;
            }
        }
    }
}

/// `admin_url` pointing at database `name`.
fn with_database(admin_url: &str, name: &str) -> String {
    let (base, _) = admin_url.rsplit_once('/').expect("a database in the URL");
    format!("{base}/{name}")
}

/// Run a PostgreSQL client tool, failing the test with its output if it fails.
async fn run(tool: &str, args: &[&str]) {
    let output = Command::new(tool)
        .args(args)
        .output()
        .await
        .unwrap_or_else(|e| panic!("{tool} is needed for this test: {e}"));
    assert!(
        output.status.success(),
        "{tool} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}
