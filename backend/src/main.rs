//! The `yoyaku` command: `serve`, `migrate`, `slots`, `seed`, `bench`. Parses the command line
//! and nothing else.

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
    /// Benchmark: seed a city, start the server in-process on loopback, drive workloads B, C
    /// and E, check the invariants, print a table and write JSON (see docs/BENCHMARKS.md).
    /// The database it is given is wiped.
    Bench(BenchArgs),
}

#[derive(clap::Args)]
struct BenchArgs {
    /// Database to wipe and use: `postgres://…/NAME` (created if missing) or `sqlite://FILE`;
    /// default: a fresh temporary SQLite file, removed afterwards.
    #[arg(long)]
    database_url: Option<String>,
    /// Workloads to run, in order: `c` (distinct slots, L2 and L0), `b` (one hot slot),
    /// `e` (availability).
    #[arg(long, default_value = "c,b,e")]
    workloads: String,
    /// Requests in flight at once (C and E).
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Bookings per level of workload C.
    #[arg(long, default_value_t = 2000)]
    requests: usize,
    /// Requests released together at one slot (workload B).
    #[arg(long, default_value_t = 1000)]
    hot_requests: usize,
    /// Requests per query of workload E.
    #[arg(long, default_value_t = 500)]
    read_requests: usize,
    /// Days of slots to generate, from two days ahead.
    #[arg(long, default_value_t = 14)]
    days: u32,
    /// Residents to insert (the target in BENCHMARK.md is 100,000).
    #[arg(long, default_value_t = 2000)]
    residents: usize,
    /// Database pool size (default: 8 for SQLite, the concurrency within 4–64 for PostgreSQL).
    #[arg(long)]
    db_connections: Option<u32>,
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
        Command::Bench(args) => {
            let (database_url, remove_after) = match args.database_url {
                Some(url) => (url, false),
                None => (yoyaku::bench::temp_sqlite_url(), true),
            };
            let options = yoyaku::bench::BenchOptions {
                reset: true,
                workloads: yoyaku::bench::parse_workloads(&args.workloads)?,
                concurrency: args.concurrency,
                requests: args.requests,
                hot_requests: args.hot_requests,
                read_requests: args.read_requests,
                days: args.days,
                residents: args.residents,
                db_connections: args.db_connections,
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
