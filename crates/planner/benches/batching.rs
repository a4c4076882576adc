//! Batching quality at scale: how many StackSets operations `batch::partition` plans for the gap
//! patterns of a 10,000-account × 30-region stack set, against one operation per instance (what
//! Terraform's per-instance resources amount to), one per account, and a lower bound of the
//! minimum (the larger of the matrix's rank and a greedy fooling set; no partition into
//! rectangles can have fewer). The exact minimum on small cases is in
//! `tests/it/batching.rs`.
//!
//! Run: `cargo bench -p stackfleet-planner --bench batching`.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

#[path = "../tests/it/rng.rs"]
mod rng;

use rng::Rng;
use stackfleet_planner::batch::partition;

const ACCOUNTS: usize = 10_000;
const REGIONS: usize = 30;

/// Rows (accounts) as masks over the regions; a set bit is an instance to create.
type Matrix = Vec<u32>;

fn scenarios() -> Vec<(&'static str, Matrix)> {
    let full = (1u32 << REGIONS) - 1;
    let mut rng = Rng(0x0ba7_c4ed);
    let fresh = vec![full; ACCOUNTS];
    let random_gaps: Matrix = (0..ACCOUNTS)
        .map(|_| {
            (0..REGIONS)
                .filter(|_| rng.below(100) < 5)
                .fold(0, |m, r| m | 1 << r)
        })
        .collect();
    let mut few_gaps = vec![0; ACCOUNTS];
    for _ in 0..12 {
        let account = rng.below(ACCOUNTS as u64) as usize;
        for _ in 0..1 + rng.below(3) {
            few_gaps[account] |= 1 << rng.below(REGIONS as u64);
        }
    }
    let new_region = vec![1 << 7; ACCOUNTS];
    // Two OUs of 500 accounts each deployed in 26 regions, missing the same 4 (opt-in regions
    // enabled late), and 1 % of all accounts new in the organization.
    let mut by_ou = vec![0; ACCOUNTS];
    for row in by_ou.iter_mut().take(1_000) {
        *row = 0b1111 << 20;
    }
    for _ in 0..ACCOUNTS / 100 {
        by_ou[rng.below(ACCOUNTS as u64) as usize] = full;
    }
    vec![
        ("(a) fresh rollout", fresh),
        ("(b) random 5 % gaps", random_gaps),
        ("(c) 12 accounts missing 1-3 regions", few_gaps),
        ("(d) a region added for everyone", new_region),
        ("(e) two OUs miss 4 regions, 1 % new", by_ou),
    ]
}

fn to_cells(rows: &[u32]) -> BTreeMap<String, BTreeSet<String>> {
    rows.iter()
        .enumerate()
        .filter(|(_, r)| **r != 0)
        .map(|(i, r)| {
            (
                format!("{:012}", 100_000_000_000u64 + i as u64),
                (0..REGIONS)
                    .filter(|c| r & (1 << c) != 0)
                    .map(|c| format!("region-{c:02}"))
                    .collect(),
            )
        })
        .collect()
}

/// The rank over GF(p) (at most the real rank, which bounds any partition into rectangles).
fn rank(rows: &[u32]) -> usize {
    const P: u64 = 2_147_483_647;
    let pow = |mut b: u64, mut e: u64| {
        let mut acc = 1;
        while e > 0 {
            if e & 1 == 1 {
                acc = acc * b % P;
            }
            b = b * b % P;
            e >>= 1;
        }
        acc
    };
    // Distinct rows only: duplicates add nothing to the rank.
    let distinct: BTreeSet<u32> = rows.iter().copied().filter(|r| *r != 0).collect();
    let mut basis: Vec<Vec<u64>> = Vec::new();
    let mut pivots: Vec<usize> = Vec::new();
    for row in distinct {
        let mut v: Vec<u64> = (0..REGIONS).map(|c| u64::from(row >> c & 1)).collect();
        for (b, &p) in basis.iter().zip(&pivots) {
            if v[p] != 0 {
                let f = v[p];
                for j in 0..REGIONS {
                    v[j] = (v[j] + P - f * b[j] % P) % P;
                }
            }
        }
        if let Some(p) = v.iter().position(|x| *x != 0) {
            let inv = pow(v[p], P - 2);
            for x in v.iter_mut() {
                *x = *x * inv % P;
            }
            // Keep the basis reduced at the new pivot.
            for b in basis.iter_mut() {
                if b[p] != 0 {
                    let f = b[p];
                    for j in 0..REGIONS {
                        b[j] = (b[j] + P - f * v[j] % P) % P;
                    }
                }
            }
            basis.push(v);
            pivots.push(p);
        }
    }
    basis.len()
}

/// A fooling set found greedily: cells no two of which fit in one all-ones rectangle, so each
/// needs a rectangle of its own.
fn fooling_set(rows: &[u32]) -> usize {
    let mut chosen: Vec<(usize, usize)> = Vec::new();
    let distinct: BTreeMap<u32, usize> = rows
        .iter()
        .enumerate()
        .filter(|(_, r)| **r != 0)
        .map(|(i, r)| (*r, i))
        .collect();
    // Sparse rows first: their cells share rectangles with fewer others.
    let mut order: Vec<(u32, usize)> = distinct.into_iter().collect();
    order.sort_by_key(|(r, i)| (r.count_ones(), *i));
    for (row, i) in order {
        for c in 0..REGIONS {
            if row & (1 << c) == 0 {
                continue;
            }
            let compatible = chosen
                .iter()
                .all(|&(j, d)| rows[i] & (1 << d) == 0 || rows[j] & (1 << c) == 0);
            if compatible {
                chosen.push((i, c));
            }
        }
    }
    chosen.len()
}

/// Small patterns, where the exact search runs: the slowest and the mean time of a partition.
fn small_patterns() {
    let mut rng = Rng(0x5a11);
    let mut slowest = Duration::ZERO;
    let mut total = Duration::ZERO;
    let count = 20_000;
    for n in 0..count {
        let (accounts, regions) = [(12, 6), (8, 8), (6, 12), (16, 8)][n % 4];
        let density = 10 + rng.below(81);
        let rows: Matrix = (0..accounts)
            .map(|_| {
                (0..regions)
                    .filter(|_| rng.below(100) < density)
                    .fold(0, |m, r| m | 1 << r)
            })
            .collect();
        let cells = to_cells(&rows);
        let started = Instant::now();
        std::hint::black_box(partition(&cells));
        let elapsed = started.elapsed();
        slowest = slowest.max(elapsed);
        total += elapsed;
    }
    println!(
        "{count} random small patterns (12×6, 8×8, 6×12, 16×8; exact search on): mean {:.1} µs, slowest {:.1} ms",
        total.as_secs_f64() * 1e6 / count as f64,
        slowest.as_secs_f64() * 1000.0
    );
}

fn main() {
    println!(
        "{ACCOUNTS} accounts × {REGIONS} regions, one stack set; operations to create the missing instances"
    );
    println!(
        "{:<38}  {:>9}  {:>11}  {:>11}  {:>10}  {:>11}  {:>9}  {:>9}",
        "pattern",
        "instances",
        "per instance",
        "per account",
        "stackfleet",
        "lower bound",
        "ratio",
        "time"
    );
    for (name, rows) in scenarios() {
        let cells = to_cells(&rows);
        let instances: usize = cells.values().map(BTreeSet::len).sum();
        let started = Instant::now();
        let operations = partition(&cells).len();
        let elapsed = started.elapsed();
        let bound = rank(&rows).max(fooling_set(&rows));
        println!(
            "{name:<38}  {instances:>9}  {instances:>11}  {:>11}  {operations:>10}  {bound:>11}  {:>8.2}×  {:>6.1} ms",
            cells.len(),
            operations as f64 / bound as f64,
            elapsed.as_secs_f64() * 1000.0
        );
    }
    small_patterns();
}
