//! The `yoyaku` command: `serve`, `migrate`, `slots`, `seed`, `outbox`, `card-keys`, `bench`,
//! `lottery`. Parses the command line and nothing else.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use migration::{Migrator, MigratorTrait};
use yoyaku::config::Settings;
use yoyaku::services::seed::{self, CityFixture, SeedOptions};
use yoyaku::startup::{Application, demo_password};
use yoyaku::{db, telemetry};

#[derive(Parser)]
#[command(name = "yoyaku", version, about = "Public facility reservation system")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the service (migrates, and seeds the demo city on an empty database in demo mode).
    Serve,
    /// Exit 0 if the service on this host answers `GET /readyz` (the container HEALTHCHECK,
    /// where there is no curl).
    Healthcheck,
    /// Apply or inspect database migrations.
    Migrate {
        #[command(subcommand)]
        action: Option<MigrateAction>,
    },
    /// Manage the slot inventory.
    Slots {
        #[command(subcommand)]
        action: SlotsAction,
    },
    /// Load a city's fixture (idempotent): the embedded demo city, or a folder.
    Seed {
        /// A folder laid out like fixtures/demo-city/; default: the demo city built into the binary.
        #[arg(long)]
        dir: Option<PathBuf>,
        /// A public-holidays CSV (date,name,name_en); default: Japan 2024–2035, built in.
        #[arg(long, requires = "dir")]
        holidays: Option<PathBuf>,
        /// Also create the demo accounts.
        #[arg(long)]
        demo_users: bool,
    },
    /// Read the mail outbox: without SMTP (`YOYAKU_SMTP_URL`), this is where mail waits.
    Outbox {
        #[command(subcommand)]
        action: OutboxAction,
    },
    /// The city's card signing keys (利用者証): list them, or rotate the demo key.
    CardKeys {
        #[command(subcommand)]
        action: CardKeysAction,
    },
    /// Benchmark: seed a city, start the server in-process on loopback, drive workloads A–E
    /// (and the concurrency sweep), check the invariants, print a table and write JSON (see
    /// docs/BENCHMARKS.md). The database it is given is wiped.
    Bench(Box<BenchArgs>),
    /// The lottery (抽選): check a published draw, or time a city-sized draw.
    Lottery {
        #[command(subcommand)]
        action: LotteryAction,
    },
}

#[derive(Subcommand)]
enum LotteryAction {
    /// Re-run the draw from a published results file (`GET /api/v1/lottery/rounds/{id}/results`)
    /// and exit non-zero, naming the first difference, unless the winners follow from the inputs
    /// and the seed matches its commitment (docs/LOTTERY.md).
    Verify {
        /// The results JSON.
        file: PathBuf,
    },
    /// Time a draw of synthetic applications (no database), e.g. a city month: 200,000
    /// applications over 20,000 slots.
    Bench {
        #[arg(long, default_value_t = 200_000)]
        applications: usize,
        #[arg(long, default_value_t = 20_000)]
        slots: usize,
        /// Ranked wishes per application.
        #[arg(long, default_value_t = 5)]
        wishes: usize,
    },
}

#[derive(clap::Args)]
struct BenchArgs {
    /// Database to wipe and use: `postgres://…/NAME` (created if missing) or `sqlite://FILE`;
    /// default: a fresh temporary SQLite file, removed afterwards.
    #[arg(long)]
    database_url: Option<String>,
    /// Workloads to run, in order: `a` (opening rush), `b` (one hot slot), `c` (distinct slots,
    /// L0 and L2), `d` (20 reads per booking), `e` (availability).
    #[arg(long, default_value = "c,b,e")]
    workloads: String,
    /// Requests in flight at once (closed model; A, C, D and E).
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Open model: arrivals per second for A, C, D and E, latency from the intended send time.
    #[arg(long)]
    rate: Option<f64>,
    /// Open model: run each workload for this many seconds instead of its request count.
    #[arg(long, requires = "rate")]
    duration: Option<f64>,
    /// Open model: at most this many requests outstanding; arrivals beyond it are dropped.
    #[arg(long, default_value_t = 512)]
    max_in_flight: usize,
    /// Bookings per level of workload C.
    #[arg(long, default_value_t = 2000)]
    requests: usize,
    /// Requests released together at one slot (workload B).
    #[arg(long, default_value_t = 1000)]
    hot_requests: usize,
    /// Requests per query of workload E.
    #[arg(long, default_value_t = 500)]
    read_requests: usize,
    /// Workload A: residents in the rush.
    #[arg(long, default_value_t = 2000)]
    rush_residents: usize,
    /// Workload A: slots in play (Zipf-ranked; the top 20 % draw 80 % of attempts).
    #[arg(long, default_value_t = 5000)]
    rush_slots: usize,
    /// Workload A: share of requests sent twice with the same Idempotency-Key.
    #[arg(long, default_value_t = 0.05)]
    replay_fraction: f64,
    /// Workload D: bookings, each with 20 availability reads.
    #[arg(long, default_value_t = 100)]
    mixed_bookings: usize,
    /// Concurrency sweep of workload C, e.g. `1,2,4,8,16,32,64`, then the open-model run at
    /// 80 % of the peak.
    #[arg(long)]
    sweep: Option<String>,
    /// Bookings per sweep level (and per L0/L2).
    #[arg(long, default_value_t = 1000)]
    sweep_requests: usize,
    /// Seconds of the open-model run at 80 % of the sweep's peak.
    #[arg(long, default_value_t = 10.0)]
    peak_duration: f64,
    /// Month-grid reads per second alongside the 80 % run.
    #[arg(long, default_value_t = 20.0)]
    probe_rate: f64,
    /// Days of slots to generate, from two days ahead.
    #[arg(long, default_value_t = 14)]
    days: u32,
    /// Residents to insert (default: what the workloads need, at least 2,000; the target in
    /// BENCHMARK.md is 100,000).
    #[arg(long)]
    residents: Option<usize>,
    /// Database pool size (default: 8 for SQLite, the concurrency within 4–64 for PostgreSQL).
    #[arg(long)]
    db_connections: Option<u32>,
    /// PostgreSQL: write transactions at once (default: four per CPU, within 3/4 of the pool).
    #[arg(long)]
    db_writers: Option<u32>,
    /// The server's limit of requests served at once (`YOYAKU_MAX_IN_FLIGHT`); beyond it, 503
    /// `overloaded` with `Retry-After`. Set it low with a `--rate` above the peak to see the
    /// server shed load at the rush. Default: the server's default.
    #[arg(long)]
    server_max_in_flight: Option<u32>,
    /// SQLite: queue write transactions in the process (`on`) or leave them to SQLite's busy
    /// handler (`off`).
    #[arg(long, default_value = "on", value_parser = ["on", "off"])]
    sqlite_writer_queue: String,
    /// PostgreSQL: do not run C's L0 through pgbench.
    #[arg(long)]
    no_pgbench: bool,
    /// Where to write the JSON report.
    #[arg(long, default_value = "bench-results/latest.json")]
    out: PathBuf,
}

#[derive(Subcommand, Clone, Copy)]
enum SlotsAction {
    /// Materialise slots from templates for a range of days (idempotent).
    Generate {
        /// First day, YYYY-MM-DD (default: today in Tokyo).
        #[arg(long)]
        from: Option<chrono::NaiveDate>,
        /// Number of days (default: the slot_window_days setting).
        #[arg(long)]
        days: Option<u32>,
        /// Only this facility id.
        #[arg(long)]
        facility: Option<i32>,
    },
}

#[derive(Subcommand, Clone, Copy)]
enum CardKeysAction {
    /// Every key: id, origin, created, retired, whether it signs and is in the JWKS.
    List,
    /// Make a new signing key; the old one stops signing but stays in the JWKS until every card
    /// it signed has expired. Demo mode only: configured keys rotate by changing
    /// YOYAKU_CARD_SIGNING_KEYS (put the new key first, keep the old one after it).
    Rotate,
}

#[derive(Subcommand, Clone, Copy)]
enum OutboxAction {
    /// The newest mails: id, created, to, template, subject, and sent/failed/pending.
    List {
        /// How many mails to show.
        #[arg(long, default_value_t = 20)]
        limit: u64,
    },
    /// One whole mail, headers and body (the verification link is in the body).
    Show {
        /// The mail's id, from `yoyaku outbox list`.
        id: i64,
    },
}

#[derive(Subcommand, Clone, Copy)]
enum MigrateAction {
    /// Apply pending migrations (the default).
    Up,
    /// Roll back the last migration.
    Down,
    /// List migrations and whether each is applied.
    Status,
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let settings = match Settings::load() {
        Ok(settings) => settings,
        Err(error) => {
            eprintln!("yoyaku: configuration: {error}");
            return ExitCode::from(2);
        }
    };
    telemetry::init(settings.log_format);
    match run(cli.command, settings).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("yoyaku: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command, settings: Settings) -> anyhow::Result<()> {
    match command {
        Command::Lottery { action } => lottery(action)?,
        Command::Bench(args) => {
            let (database_url, remove_after) = match args.database_url {
                Some(url) => (url, false),
                None => (yoyaku::bench::temp_sqlite_url(), true),
            };
            let options = yoyaku::bench::BenchOptions {
                reset: true,
                workloads: yoyaku::bench::parse_workloads(&args.workloads)?,
                concurrency: args.concurrency,
                rate: args.rate,
                duration_s: args.duration,
                max_in_flight: args.max_in_flight,
                requests: args.requests,
                hot_requests: args.hot_requests,
                read_requests: args.read_requests,
                rush_residents: args.rush_residents,
                rush_slots: args.rush_slots,
                replay_fraction: args.replay_fraction,
                mixed_bookings: args.mixed_bookings,
                sweep: match &args.sweep {
                    Some(list) => yoyaku::bench::parse_sweep(list)?,
                    None => Vec::new(),
                },
                sweep_requests: args.sweep_requests,
                peak_duration_s: args.peak_duration,
                probe_rate: args.probe_rate,
                days: args.days,
                residents: args.residents.unwrap_or(0),
                db_connections: args.db_connections,
                db_writers: args.db_writers,
                server_max_in_flight: args.server_max_in_flight,
                sqlite_writer_queue: args.sqlite_writer_queue == "on",
                pgbench: !args.no_pgbench,
                sqlite_synchronous: settings.sqlite_synchronous,
                out: Some(args.out),
                remove_after,
                ..yoyaku::bench::BenchOptions::new(database_url)
            };
            let report = yoyaku::bench::run(options).await?;
            anyhow::ensure!(
                report.violations == 0,
                "{} invariant violations",
                report.violations
            );
        }
        Command::Healthcheck => {
            let url = format!("http://127.0.0.1:{}/readyz", settings.listen.port());
            let response = reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(4))
                .build()?
                .get(&url)
                .send()
                .await?;
            anyhow::ensure!(
                response.status().is_success(),
                "{url} answered {}",
                response.status()
            );
        }
        Command::Serve => {
            Application::build(settings)
                .await?
                .run_until_stopped()
                .await?
        }
        Command::Migrate { action } => {
            let conn = db::connect(&settings).await?;
            match action.unwrap_or(MigrateAction::Up) {
                MigrateAction::Up => Migrator::up(&conn, None).await?,
                MigrateAction::Down => Migrator::down(&conn, Some(1)).await?,
                MigrateAction::Status => Migrator::status(&conn).await?,
            }
        }
        Command::Slots {
            action:
                SlotsAction::Generate {
                    from,
                    days,
                    facility,
                },
        } => {
            let conn = db::connect(&settings).await?;
            db::migrate(&conn).await?;
            let from =
                from.unwrap_or_else(|| yoyaku::domain::calendar::tokyo_date(chrono::Utc::now()));
            let until =
                from + chrono::Duration::days(i64::from(days.unwrap_or(settings.slot_window_days)));
            let report = yoyaku::services::slots::generate(&conn, from, until, facility).await?;
            println!(
                "{} facilities, {} rooms: {} slots planned from {from} to {until}, {} created, {} removed",
                report.facilities, report.rooms, report.planned, report.created, report.removed
            );
        }
        Command::CardKeys { action } => {
            use yoyaku::services::card_keys::{self, CardKeyConfig};
            let conn = db::connect(&settings).await?;
            db::migrate(&conn).await?;
            let config = CardKeyConfig::parse(
                settings
                    .card_signing_keys
                    .as_ref()
                    .map(secrecy::ExposeSecret::expose_secret),
            )?;
            let now = chrono::Utc::now();
            card_keys::prepare(&conn, &config, settings.demo_enabled(), now).await?;
            if let CardKeysAction::Rotate = action {
                anyhow::ensure!(
                    config.is_configured() || settings.demo_enabled(),
                    "no card keys to rotate: set YOYAKU_CARD_SIGNING_KEYS (demo mode generates its own)"
                );
                let kid = card_keys::rotate_generated(&conn, &config, now).await?;
                println!(
                    "new signing key {kid}; the previous keys stay published until their cards expire"
                );
            }
            let keys = card_keys::inventory(&conn, &config, &settings.checkin, now).await?;
            for k in &keys {
                println!(
                    "{:<10} {:<10} created {}  {:<28} {}{}",
                    k.kid,
                    k.origin,
                    k.created_at.format("%Y-%m-%d %H:%M"),
                    k.retired_at.map_or("in use".to_owned(), |at| format!(
                        "retired {}",
                        at.format("%Y-%m-%d %H:%M")
                    )),
                    if k.signing { "signing " } else { "" },
                    if k.published {
                        "published"
                    } else {
                        "unpublished"
                    },
                );
            }
            if keys.is_empty() {
                println!("no card keys: set YOYAKU_CARD_SIGNING_KEYS, or run in demo mode");
            }
        }
        Command::Outbox { action } => {
            let conn = db::connect(&settings).await?;
            db::migrate(&conn).await?;
            match action {
                OutboxAction::List { limit } => {
                    let mails = yoyaku::services::mail::list(&conn, limit).await?;
                    for m in &mails {
                        println!(
                            "{:>6}  {}  {:<8} {:<32} {:<22} {}",
                            m.id,
                            m.created_at.format("%Y-%m-%d %H:%M"),
                            m.status.code(),
                            m.to,
                            m.template,
                            m.subject
                        );
                    }
                    if mails.is_empty() {
                        println!("the outbox is empty");
                    }
                }
                OutboxAction::Show { id } => {
                    let m = yoyaku::services::mail::find(&conn, id)
                        .await?
                        .ok_or_else(|| anyhow::anyhow!("no mail {id} in the outbox"))?;
                    let status = yoyaku::services::mail::DeliveryStatus::of(&m);
                    println!("Id:       {}", m.id);
                    println!("Created:  {}", m.created_at.to_rfc3339());
                    println!("To:       {}", m.to_address);
                    println!("Template: {} ({})", m.template, m.locale);
                    let attempts = if m.attempts == 1 {
                        "attempt"
                    } else {
                        "attempts"
                    };
                    println!(
                        "Status:   {} after {} {attempts}",
                        status.code(),
                        m.attempts
                    );
                    if let Some(at) = m.sent_at {
                        println!("Sent:     {}", at.to_rfc3339());
                    }
                    if let Some(at) = m.next_attempt_at.filter(|_| m.sent_at.is_none()) {
                        println!("Retry:    {}", at.to_rfc3339());
                    }
                    if let Some(error) = &m.last_error {
                        println!("Error:    {error}");
                    }
                    println!("Subject:  {}\n\n{}", m.subject, m.body);
                }
            }
        }
        Command::Seed {
            dir,
            holidays,
            demo_users,
        } => {
            let fixture = match dir {
                Some(dir) => CityFixture::from_dir(&dir, holidays.as_deref())?,
                None => CityFixture::demo()?,
            };
            let conn = db::connect(&settings).await?;
            db::migrate(&conn).await?;
            let options = SeedOptions {
                demo_users,
                demo_password: demo_password(&settings),
            };
            let report = seed::load_city(&conn, &fixture, &options).await?;
            println!(
                "loaded {} wards, {} facilities, {} rooms (+{} halves), {} holidays, {} demo users",
                report.wards,
                report.facilities,
                report.rooms,
                report.halves,
                report.holidays,
                report.demo_users
            );
        }
    }
    Ok(())
}

/// `yoyaku lottery …`: pure computation, no database.
fn lottery(action: LotteryAction) -> anyhow::Result<()> {
    use yoyaku::domain::lottery;
    match action {
        LotteryAction::Verify { file } => {
            let summary =
                yoyaku::services::lottery::verify_file(&file).map_err(anyhow::Error::msg)?;
            println!("{summary}");
        }
        LotteryAction::Bench {
            applications,
            slots,
            wishes,
        } => {
            let seed = [7u8; 32];
            let started = std::time::Instant::now();
            let (slot_list, application_list) =
                lottery::synthetic_round(&seed, applications, slots, wishes);
            let prepared = started.elapsed();
            let started = std::time::Instant::now();
            let winners = lottery::draw(&lottery::DrawInput {
                seed: &seed,
                max_wins_per_applicant: 2,
                slots: &slot_list,
                applications: &application_list,
            })?;
            let drew = started.elapsed();
            println!(
                "lottery draw: {applications} applications × {wishes} wishes over {slots} slots: \
                 {} winners in {:.3} s (inputs and pseudonyms built in {:.3} s)",
                winners.len(),
                drew.as_secs_f64(),
                prepared.as_secs_f64()
            );
        }
    }
    Ok(())
}
