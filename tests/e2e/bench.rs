//! The benchmark harness at a small size on the test database. Behaviour only: the invariants
//! hold, exactly one of the hot requests wins, replayed Idempotency-Keys never book twice, and
//! nothing answers 5xx. Timings are never asserted.

use yoyaku::bench::{self, BenchOptions, Workload};
use yoyaku_tests::seeded_database;

#[tokio::test]
async fn the_bench_harness_keeps_the_invariants_and_one_hot_slot_has_one_winner() {
    let database = seeded_database().await;
    let options = BenchOptions {
        reset: false,
        workloads: vec![Workload::C, Workload::B],
        concurrency: 8,
        requests: 100,
        hot_requests: 50,
        read_requests: 0,
        days: 3,
        residents: 150,
        out: None,
        ..BenchOptions::new(database.url.clone())
    };
    let report = bench::run(options).await.expect("the benchmark runs");

    let c: Vec<_> = report.runs.iter().filter(|r| r.workload == "C").collect();
    // L0 and L2; on PostgreSQL with pgbench installed, L0-pgbench as well.
    assert!(
        c.len() == 2 || c.len() == 3,
        "{:?}",
        c.iter().map(|r| &r.level).collect::<Vec<_>>()
    );
    for run in c {
        let expected = if run.level.starts_with("L0-pgbench") {
            // pgbench runs whole transactions per client: 8 clients × 12.
            96
        } else {
            100
        };
        assert_eq!(
            run.successes, expected,
            "{}: every distinct slot booked",
            run.level
        );
        assert_eq!(run.server_errors + run.other_errors + run.conflicts, 0);
        let checked = run.invariants.as_ref().expect("checked");
        assert!(checked.successes_match, "{}: {checked:?}", run.level);
        assert_eq!(checked.active_bookings_created, expected);
    }
    let b = report
        .runs
        .iter()
        .find(|r| r.workload == "B")
        .expect("B ran");
    assert_eq!(b.successes, 1, "exactly one 201: {:?}", b.statuses);
    assert_eq!(b.conflicts, 49, "the rest 409: {:?}", b.statuses);
    let checked = b.invariants.as_ref().expect("checked");
    assert_eq!(checked.active_bookings_created, 1);
    assert!(checked.successes_match);
    assert_eq!(report.violations, 0, "{report:#?}");
}

#[tokio::test]
async fn the_rush_never_books_a_replayed_key_twice_and_the_mixed_load_keeps_the_invariants() {
    let database = seeded_database().await;
    let options = BenchOptions {
        reset: false,
        workloads: vec![Workload::A, Workload::D],
        concurrency: 8,
        rush_residents: 80,
        // Fewer slots than residents, so that the rush has losers who retry.
        rush_slots: 40,
        // Many replays, so that both kinds (after the answer, and while in flight) occur.
        replay_fraction: 0.4,
        mixed_bookings: 5,
        read_requests: 0,
        days: 3,
        residents: 150,
        out: None,
        ..BenchOptions::new(database.url.clone())
    };
    let report = bench::run(options).await.expect("the benchmark runs");

    for run in &report.runs {
        assert_eq!(
            run.server_errors, 0,
            "{} {}: {:?}",
            run.workload, run.level, run.first_errors
        );
    }
    let a = report
        .runs
        .iter()
        .find(|r| r.workload == "A" && r.level.contains("attempts"))
        .expect("A ran");
    let rush = a.rush.as_ref().expect("A's summary");
    assert_eq!(rush.residents, 80);
    assert!(rush.residents_booked <= 40, "{rush:?}");
    assert_eq!(rush.bookings_made, rush.residents_booked, "{rush:?}");
    assert!(rush.attempts_409 > 0, "some residents retried: {rush:?}");
    let checked = a.invariants.as_ref().expect("checked");
    assert!(checked.successes_match, "{checked:?}");
    let replays = checked.idempotency.as_ref().expect("replays checked");
    assert!(replays.replayed_keys > 0, "{replays:?}");
    assert_eq!(replays.answers_differ, 0, "{replays:?}");
    assert_eq!(replays.stored_key_mismatch, 0, "{replays:?}");
    assert_eq!(replays.extra_bookings, 0, "{replays:?}");

    let d_writes = report
        .runs
        .iter()
        .find(|r| r.workload == "D" && r.level.contains("writes"))
        .expect("D ran");
    assert_eq!(d_writes.successes, 5, "{:?}", d_writes.statuses);
    let d_reads: usize = report
        .runs
        .iter()
        .filter(|r| r.workload == "D" && r.level.contains("reads"))
        .map(|r| {
            assert_eq!(r.successes, r.requests, "{}: {:?}", r.level, r.first_errors);
            r.requests
        })
        .sum();
    assert_eq!(d_reads, 5 * bench::workloads::READS_PER_BOOKING);
    assert_eq!(report.violations, 0, "{report:#?}");
}

#[tokio::test]
async fn the_open_model_sends_every_arrival_and_keeps_the_invariants() {
    let database = seeded_database().await;
    let options = BenchOptions {
        reset: false,
        workloads: vec![Workload::C],
        rate: Some(200.0),
        requests: 30,
        pgbench: false,
        read_requests: 0,
        days: 3,
        residents: 150,
        out: None,
        ..BenchOptions::new(database.url.clone())
    };
    let report = bench::run(options).await.expect("the benchmark runs");
    for run in &report.runs {
        assert!(run.model.starts_with("open"), "{}", run.model);
        // The cap (512) is far above 30 arrivals: nothing may be dropped.
        assert_eq!(run.dropped, 0);
        assert_eq!(run.successes, 30, "{}: {:?}", run.level, run.statuses);
    }
    assert_eq!(report.violations, 0, "{report:#?}");
}
