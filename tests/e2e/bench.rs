//! The benchmark harness at a small size on the test database: workload C (100 bookings at each
//! level) and workload B (50 requests released together at one slot). Behaviour only: the
//! invariants hold and exactly one of the hot requests wins. Timings are never asserted.

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
        residents: 120,
        out: None,
        ..BenchOptions::new(database.url.clone())
    };
    let report = bench::run(options).await.expect("the benchmark runs");

    let c: Vec<_> = report.runs.iter().filter(|r| r.workload == "C").collect();
    assert_eq!(c.len(), 2, "C runs at L0 and L2");
    for run in c {
        assert_eq!(
            run.successes, 100,
            "{}: every distinct slot booked",
            run.level
        );
        assert_eq!(run.server_errors + run.other_errors + run.conflicts, 0);
        let checked = run.invariants.as_ref().expect("checked");
        assert!(checked.successes_match, "{}: {checked:?}", run.level);
        assert_eq!(checked.active_bookings_created, 100);
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
