//! Workload A, the opening rush: a month of slots opens and residents press "book" at once.
//!
//! Demand is skewed by a Zipf law over the slots in play (ranked in the pool's shuffled order,
//! so popular slots are spread over rooms and days), its exponent chosen so that the most
//! popular 20 % of slots draw 80 % of the attempts. Each resident tries one slot; on a 409 they
//! try again, up to [`RETRIES`] times, with another slot drawn from the same law, and they stop
//! at their first booking. Every POST carries its own Idempotency-Key, and a share of them is
//! sent twice with the same key and body, as a client does when an answer is lost: half of
//! those after the first answer came back, half while the first is still in flight. Both sends
//! must name the same booking, and no second booking may appear (see
//! [`invariants::check_replays`]).
//!
//! The Zipf law is written out here (a cumulative table and a binary search) rather than taken
//! from `rand_distr`, because the exponent is fitted to the 20/80 split for the number of slots
//! actually in play, which needs the table anyway.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use rand::{Rng, SeedableRng};
use serde::Serialize;

use super::invariants::{self, Replay};
use super::load::{self, Model, Outcome, Sample};
use super::report::Run;
use super::setup::{FreeSlot, Resident};
use super::workloads::{Ctx, post_booking};

/// Tries after the first, on a 409.
pub const RETRIES: usize = 3;
/// The most popular share of slots…
pub const TOP_FRACTION: f64 = 0.2;
/// …draws this share of attempts.
pub const TOP_SHARE: f64 = 0.8;

/// A Zipf law over ranks `0..n`: rank `k` (from 0) is drawn with weight `1 / (k + 1)^s`.
#[derive(Debug, Clone)]
pub struct Zipf {
    /// Cumulative probabilities, rising to 1.
    cdf: Vec<f64>,
    pub exponent: f64,
}

impl Zipf {
    pub fn new(n: usize, exponent: f64) -> Zipf {
        let n = n.max(1);
        let mut cdf = Vec::with_capacity(n);
        let mut total = 0.0;
        for k in 1..=n {
            total += (k as f64).powf(-exponent);
            cdf.push(total);
        }
        for c in &mut cdf {
            *c /= total;
        }
        Zipf { cdf, exponent }
    }

    /// The law over `n` ranks whose top `fraction` of ranks draws `share` of the draws (the
    /// exponent found by bisection; the share rises with it).
    pub fn fitted(n: usize, fraction: f64, share: f64) -> Zipf {
        let (mut low, mut high) = (0.0_f64, 8.0_f64);
        if Zipf::new(n, high).share_of_top(fraction) <= share {
            return Zipf::new(n, high);
        }
        for _ in 0..40 {
            let mid = (low + high) / 2.0;
            if Zipf::new(n, mid).share_of_top(fraction) < share {
                low = mid;
            } else {
                high = mid;
            }
        }
        Zipf::new(n, (low + high) / 2.0)
    }

    pub fn len(&self) -> usize {
        self.cdf.len()
    }

    pub fn is_empty(&self) -> bool {
        self.cdf.is_empty()
    }

    /// How many ranks make the top `fraction` (at least one).
    pub fn top_count(&self, fraction: f64) -> usize {
        ((self.len() as f64 * fraction).round() as usize).clamp(1, self.len())
    }

    /// The probability that a draw falls in the top `fraction` of ranks.
    pub fn share_of_top(&self, fraction: f64) -> f64 {
        self.cdf[self.top_count(fraction) - 1]
    }

    /// The rank for a uniform `u` in [0, 1).
    pub fn rank(&self, u: f64) -> usize {
        self.cdf.partition_point(|c| *c <= u).min(self.len() - 1)
    }
}

/// Workload A's own figures.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RushSummary {
    /// Residents who pressed "book" (open model: not dropped).
    pub residents: usize,
    /// Of those, residents who got a slot.
    pub residents_booked: usize,
    pub share_booked: f64,
    /// Attempts (first sends; replays not counted).
    pub attempts: usize,
    pub attempts_201: usize,
    pub attempts_409: usize,
    pub attempts_422: usize,
    pub attempts_5xx: usize,
    pub attempts_other: usize,
    /// Residents who got their first choice.
    pub booked_first_try: usize,
    /// Requests sent a second time with the same Idempotency-Key and body.
    pub replays: usize,
    /// Bookings the run created (counted in the database).
    pub bookings_made: usize,
    /// Slots in play and the law over them.
    pub slots_in_play: usize,
    pub zipf_exponent: f64,
    /// The share of attempts the law gives the top 20 % of slots, and the share drawn.
    pub top_20pct_share_expected: f64,
    pub top_20pct_share_drawn: f64,
}

impl RushSummary {
    /// One line for the table.
    pub fn line(&self) -> String {
        format!(
            "rush: {} of {} residents got a slot ({:.1} %; {} at the first try); {} attempts: {} × 201, {} × 409, {} × 422, {} × 5xx, {} other; {} bookings made; {} slots in play, Zipf s = {:.3}, top 20 % drew {:.1} % (law: {:.1} %)",
            self.residents_booked,
            self.residents,
            100.0 * self.share_booked,
            self.booked_first_try,
            self.attempts,
            self.attempts_201,
            self.attempts_409,
            self.attempts_422,
            self.attempts_5xx,
            self.attempts_other,
            self.bookings_made,
            self.slots_in_play,
            self.zipf_exponent,
            100.0 * self.top_20pct_share_drawn,
            100.0 * self.top_20pct_share_expected,
        )
    }
}

/// What the residents' tasks gather besides their samples.
#[derive(Default)]
struct Gathered {
    replays: Vec<Replay>,
    /// Per resident, the bookings their 201s named.
    answered: HashMap<i32, BTreeSet<i64>>,
    booked: usize,
    booked_first_try: usize,
    draws: usize,
    top_draws: usize,
}

/// A: one job per resident (the first attempt due at the job's start), over `slots`.
pub async fn a_http(
    ctx: &Ctx,
    residents: &[Resident],
    slots: &[FreeSlot],
    model: Model,
    replay_fraction: f64,
) -> anyhow::Result<Vec<Run>> {
    anyhow::ensure!(!slots.is_empty(), "workload A needs slots");
    let since = invariants::last_booking_id(&ctx.db).await?;
    let zipf = Arc::new(Zipf::fitted(slots.len(), TOP_FRACTION, TOP_SHARE));
    let top = zipf.top_count(TOP_FRACTION);
    let slots: Arc<Vec<FreeSlot>> = Arc::new(slots.to_vec());
    let gathered = Arc::new(Mutex::new(Gathered::default()));
    let url = format!("{}/api/v1/bookings", ctx.base);
    let n = residents.len();
    let samples = load::drive(model, n, |i, start| {
        let (client, url) = (ctx.client.clone(), url.clone());
        let (user, token) = (residents[i].id, residents[i].token.clone());
        let (zipf, slots, gathered) = (zipf.clone(), slots.clone(), gathered.clone());
        async move {
            // Seeded per resident, so a run draws the same demand whatever the timing.
            let mut rng = rand::rngs::StdRng::seed_from_u64(0x5EED_A000 + i as u64);
            let mut samples = Vec::new();
            let mut mine = Gathered::default();
            let mut tried: Vec<usize> = Vec::new();
            for attempt in 0..=RETRIES {
                let Some(rank) = (0..100)
                    .map(|_| zipf.rank(rng.random::<f64>()))
                    .find(|r| !tried.contains(r))
                else {
                    break;
                };
                tried.push(rank);
                mine.draws += 1;
                mine.top_draws += usize::from(rank < top);
                let slot = slots[rank];
                let key = uuid::Uuid::new_v4().to_string();
                let send = || {
                    post_booking(
                        client.clone(),
                        url.clone(),
                        token.clone(),
                        slot,
                        key.clone(),
                    )
                };
                // The first attempt counts from its intended time, a retry from its own send.
                let t0 = if attempt == 0 { start } else { Instant::now() };
                let replay = rng.random::<f64>() < replay_fraction;
                let first: Outcome = if replay && rng.random_bool(0.5) {
                    // The client gave up waiting and sent again while the first was in flight.
                    let t1 = Instant::now();
                    let (a, b) = tokio::join!(
                        async { Sample::since(t0, "attempt", send().await) },
                        async { Sample::since(t1, "replay", send().await) }
                    );
                    mine.replays
                        .push(replay_of(user, &key, &a.outcome, &b.outcome));
                    let first = a.outcome.clone();
                    note_answer(&mut mine, user, &b.outcome);
                    samples.extend([a, b]);
                    first
                } else {
                    let a = Sample::since(t0, "attempt", send().await);
                    let first = a.outcome.clone();
                    samples.push(a);
                    if replay {
                        // The answer was lost on the way back: the same request again.
                        let t1 = Instant::now();
                        let b = Sample::since(t1, "replay", send().await);
                        mine.replays.push(replay_of(user, &key, &first, &b.outcome));
                        note_answer(&mut mine, user, &b.outcome);
                        samples.push(b);
                    }
                    first
                };
                note_answer(&mut mine, user, &first);
                match first.status {
                    201 => {
                        mine.booked += 1;
                        mine.booked_first_try += usize::from(attempt == 0);
                        break;
                    }
                    409 => continue,
                    _ => break,
                }
            }
            let mut all = gathered.lock().unwrap_or_else(|e| e.into_inner());
            all.replays.append(&mut mine.replays);
            for (user, ids) in mine.answered {
                all.answered.entry(user).or_default().extend(ids);
            }
            all.booked += mine.booked;
            all.booked_first_try += mine.booked_first_try;
            all.draws += mine.draws;
            all.top_draws += mine.top_draws;
            samples
        }
    })
    .await;
    let gathered = std::mem::take(&mut *gathered.lock().unwrap_or_else(|e| e.into_inner()));

    let attempts = samples.only("attempt");
    let mut firsts: Vec<i64> = super::workloads::success_ids(&attempts, "attempt");
    firsts.sort_unstable();
    firsts.dedup();
    let mut checked = invariants::check(&ctx.db, since, &firsts).await?;
    checked.idempotency = Some(
        invariants::check_replays(&ctx.db, since, &gathered.replays, &gathered.answered).await?,
    );
    let status = |f: &dyn Fn(u16) -> bool| {
        attempts
            .samples
            .iter()
            .filter(|s| f(s.outcome.status))
            .count()
    };
    let ran = samples.jobs - samples.dropped;
    let summary = RushSummary {
        residents: ran,
        residents_booked: gathered.booked,
        share_booked: if ran > 0 {
            gathered.booked as f64 / ran as f64
        } else {
            0.0
        },
        attempts: attempts.samples.len(),
        attempts_201: status(&|s| s == 201),
        attempts_409: status(&|s| s == 409),
        attempts_422: status(&|s| s == 422),
        attempts_5xx: status(&|s| s >= 500),
        attempts_other: status(&|s| !matches!(s, 201 | 409 | 422) && s < 500),
        booked_first_try: gathered.booked_first_try,
        replays: gathered.replays.len(),
        bookings_made: checked.active_bookings_created,
        slots_in_play: slots.len(),
        zipf_exponent: zipf.exponent,
        top_20pct_share_expected: zipf.share_of_top(TOP_FRACTION),
        top_20pct_share_drawn: if gathered.draws > 0 {
            gathered.top_draws as f64 / gathered.draws as f64
        } else {
            0.0
        },
    };
    let replays = samples.only("replay");
    let mut attempt_run = Run::new("A", "L2 attempts (POST /bookings)", attempts, Some(checked));
    attempt_run.rush = Some(summary);
    let replay_run = Run::new("A", "L2 replays (same key and body)", replays, None)
        .with_note("the second send of a request; each must name the same booking as the first");
    Ok(vec![attempt_run, replay_run])
}

fn replay_of(user_id: i32, key: &str, first: &Outcome, second: &Outcome) -> Replay {
    Replay {
        user_id,
        key: key.to_owned(),
        first: (first.status, first.booking_id),
        second: (second.status, second.booking_id),
    }
}

fn note_answer(mine: &mut Gathered, user: i32, outcome: &Outcome) {
    if let (201, Some(id)) = (outcome.status, outcome.booking_id) {
        mine.answered.entry(user).or_default().insert(id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fitted_law_gives_the_top_fifth_four_fifths() {
        for n in [10, 1000, 30_000] {
            let zipf = Zipf::fitted(n, TOP_FRACTION, TOP_SHARE);
            let share = zipf.share_of_top(TOP_FRACTION);
            assert!((share - 0.8).abs() < 0.01, "n {n}: share {share}");
        }
    }

    #[test]
    fn draws_follow_the_law() {
        let zipf = Zipf::fitted(1000, TOP_FRACTION, TOP_SHARE);
        let top = zipf.top_count(TOP_FRACTION);
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let draws = 100_000;
        let hits = (0..draws)
            .filter(|_| zipf.rank(rng.random::<f64>()) < top)
            .count();
        let share = hits as f64 / draws as f64;
        assert!((share - 0.8).abs() < 0.01, "drawn share {share}");
        assert_eq!(zipf.rank(0.0), 0);
        assert_eq!(zipf.rank(0.999_999_999), 999);
    }

    #[test]
    fn one_slot_is_always_drawn() {
        let zipf = Zipf::fitted(1, TOP_FRACTION, TOP_SHARE);
        assert_eq!(zipf.rank(0.5), 0);
        assert_eq!(zipf.top_count(TOP_FRACTION), 1);
    }
}
