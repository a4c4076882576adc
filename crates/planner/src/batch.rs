//! Batching instance changes into few accounts × regions rectangles.
//!
//! StackSets runs one operation at a time per stack set, and each Create/DeleteStackInstances call
//! takes a set of accounts × a set of regions. Covering a gap pattern with few rectangles, none
//! of which touches a cell outside the pattern and no two of which share a cell, is what makes a
//! rollout fast. Finding the minimum is NP-hard (it is a biclique partition), so we compute two
//! good partitions and keep the smaller:
//!
//! - by region atoms: regions missing in exactly the same accounts form one rectangle each;
//! - by account signature, greedily: accounts missing the same regions share a rectangle, and a
//!   signature that is a disjoint union of smaller ones reuses their rectangles.
//!
//! When the pattern is small once identical regions and identical accounts are merged (at most
//! 8 of either, `exact::MAX_WIDTH`), a bounded exact search then looks for a smaller partition.
//!
//! All are deterministic: the same cells always give the same rectangles in the same order.

use std::collections::{BTreeMap, BTreeSet};

mod exact;

/// An accounts × regions rectangle: every account in every region.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Rectangle {
    /// Sorted account ids.
    pub accounts: Vec<String>,
    /// Sorted region names.
    pub regions: Vec<String>,
}

impl Rectangle {
    /// The number of cells.
    pub fn len(&self) -> usize {
        self.accounts.len() * self.regions.len()
    }

    /// Whether the rectangle has no cell.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

type Mask = u128;

/// Partitions `cells` (account → regions) into rectangles that cover every cell exactly once and
/// no other cell.
pub fn partition(cells: &BTreeMap<String, BTreeSet<String>>) -> Vec<Rectangle> {
    let regions: BTreeSet<&str> = cells.values().flatten().map(String::as_str).collect();
    let regions: Vec<&str> = regions.into_iter().collect();
    if regions.is_empty() {
        return Vec::new();
    }
    if regions.len() > Mask::BITS as usize {
        // More regions than AWS has; cannot happen with validated input, but stay correct.
        return by_region(cells, &regions);
    }
    let index: BTreeMap<&str, usize> = regions.iter().enumerate().map(|(i, r)| (*r, i)).collect();

    // Accounts grouped by the exact set of regions they need.
    let mut signatures: BTreeMap<Mask, Vec<&str>> = BTreeMap::new();
    for (account, account_regions) in cells {
        let mask = account_regions
            .iter()
            .fold(0, |m: Mask, r| m | (1 << index[r.as_str()]));
        if mask != 0 {
            signatures.entry(mask).or_default().push(account);
        }
    }

    let atoms = by_atoms(&signatures);
    let greedy = by_signatures(&signatures);
    let mut blocks = if atoms.len() < greedy.len() {
        atoms
    } else {
        greedy
    };
    if let Some(fewer) = by_exact_search(&signatures, blocks.len()) {
        blocks = fewer;
    }

    let mut out: Vec<Rectangle> = blocks
        .into_iter()
        .map(|(regions_mask, accounts)| {
            let mut accounts: Vec<String> = accounts.into_iter().map(str::to_string).collect();
            accounts.sort();
            Rectangle {
                accounts,
                regions: regions
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| regions_mask & (1 << i) != 0)
                    .map(|(_, r)| r.to_string())
                    .collect(),
            }
        })
        .collect();
    out.sort();
    out
}

/// Regions grouped by the signatures that contain them: every signature holds a group whole or
/// not at all, so a group acts as one region. Keyed by the containing signatures.
fn atoms(signatures: &BTreeMap<Mask, Vec<&str>>) -> BTreeMap<Vec<Mask>, Mask> {
    let mut atoms: BTreeMap<Vec<Mask>, Mask> = BTreeMap::new();
    for bit in 0..Mask::BITS {
        let containing: Vec<Mask> = signatures
            .keys()
            .copied()
            .filter(|s| s & (1 << bit) != 0)
            .collect();
        if !containing.is_empty() {
            *atoms.entry(containing).or_default() |= 1 << bit;
        }
    }
    atoms
}

/// One rectangle per group of regions that the same signatures contain.
fn by_atoms<'a>(signatures: &BTreeMap<Mask, Vec<&'a str>>) -> Vec<(Mask, Vec<&'a str>)> {
    atoms(signatures)
        .into_iter()
        .map(|(containing, atom)| {
            let accounts = containing
                .iter()
                .flat_map(|s| signatures[s].iter().copied())
                .collect();
            (atom, accounts)
        })
        .collect()
}

/// Signatures from smallest to largest; each is cut into the largest blocks already chosen that
/// fit in what is left of it, and the rest becomes a new block.
fn by_signatures<'a>(signatures: &BTreeMap<Mask, Vec<&'a str>>) -> Vec<(Mask, Vec<&'a str>)> {
    let mut order: Vec<Mask> = signatures.keys().copied().collect();
    order.sort_by_key(|s| (s.count_ones(), *s));
    let mut blocks: Vec<(Mask, Vec<&'a str>)> = Vec::new();
    for signature in order {
        let accounts = &signatures[&signature];
        let mut left = signature;
        while left != 0 {
            let best = blocks
                .iter()
                .enumerate()
                .filter(|(_, (b, _))| b & !left == 0)
                .max_by_key(|(i, (b, _))| (b.count_ones(), std::cmp::Reverse(*i)))
                .map(|(i, _)| i);
            match best {
                Some(i) => {
                    left &= !blocks[i].0;
                    blocks[i].1.extend(accounts.iter().copied());
                }
                None => {
                    blocks.push((left, accounts.clone()));
                    left = 0;
                }
            }
        }
    }
    blocks
}

/// The minimum partition, if it has fewer than `found` blocks and the pattern has at most
/// `exact::MAX_WIDTH` region groups or signatures (the search runs on the narrower side).
fn by_exact_search<'a>(
    signatures: &BTreeMap<Mask, Vec<&'a str>>,
    found: usize,
) -> Option<Vec<(Mask, Vec<&'a str>)>> {
    let atoms: Vec<Mask> = atoms(signatures).into_values().collect();
    let signatures: Vec<(Mask, &Vec<&'a str>)> = signatures.iter().map(|(s, a)| (*s, a)).collect();
    // `row` over `columns`: bit i is set when column i meets it.
    let bits = |row: Mask, columns: &mut dyn Iterator<Item = Mask>| {
        columns
            .enumerate()
            .filter(|(_, c)| c & row != 0)
            .fold(0u32, |m, (i, _)| m | 1 << i)
    };
    let width = exact::MAX_WIDTH as usize;
    let mut blocks: Vec<(Mask, Vec<&'a str>)> = if atoms.len() <= width {
        // Rows are signatures, columns region groups; a member is a set of region groups.
        let rows: Vec<u32> = signatures
            .iter()
            .map(|(s, _)| bits(*s, &mut atoms.iter().copied()))
            .collect();
        let family = exact::family(&rows, found)?;
        let mut blocks: Vec<(Mask, Vec<&str>)> = family
            .iter()
            .map(|f| {
                let regions = atoms
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| f & (1 << i) != 0)
                    .fold(0, |m, (_, a)| m | a);
                (regions, Vec::new())
            })
            .collect();
        for (row, (_, accounts)) in rows.iter().zip(&signatures) {
            for member in exact::decompose(&family, *row)? {
                blocks[member].1.extend(accounts.iter().copied());
            }
        }
        blocks
    } else if signatures.len() <= width {
        // Transposed: rows are region groups, columns signatures; a member is a set of
        // signatures, whose accounts share the region groups that use it.
        let rows: Vec<u32> = atoms
            .iter()
            .map(|a| bits(*a, &mut signatures.iter().map(|(s, _)| *s)))
            .collect();
        let family = exact::family(&rows, found)?;
        let mut blocks: Vec<(Mask, Vec<&str>)> = family
            .iter()
            .map(|g| {
                let accounts = signatures
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| g & (1 << i) != 0)
                    .flat_map(|(_, (_, accounts))| accounts.iter().copied())
                    .collect();
                (0, accounts)
            })
            .collect();
        for (row, atom) in rows.iter().zip(&atoms) {
            for member in exact::decompose(&family, *row)? {
                blocks[member].0 |= atom;
            }
        }
        blocks
    } else {
        return None;
    };
    blocks.retain(|(regions, accounts)| *regions != 0 && !accounts.is_empty());
    Some(blocks)
}

fn by_region(cells: &BTreeMap<String, BTreeSet<String>>, regions: &[&str]) -> Vec<Rectangle> {
    regions
        .iter()
        .map(|region| Rectangle {
            accounts: cells
                .iter()
                .filter(|(_, rs)| rs.contains(*region))
                .map(|(a, _)| a.clone())
                .collect(),
            regions: vec![region.to_string()],
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn cells(rows: &[(&str, &[&str])]) -> BTreeMap<String, BTreeSet<String>> {
        rows.iter()
            .map(|(a, rs)| (a.to_string(), rs.iter().map(|r| r.to_string()).collect()))
            .collect()
    }

    fn covered(rects: &[Rectangle]) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = rects
            .iter()
            .flat_map(|r| {
                r.accounts
                    .iter()
                    .flat_map(|a| r.regions.iter().map(move |g| (a.clone(), g.clone())))
            })
            .collect();
        out.sort();
        out
    }

    fn flatten(cells: &BTreeMap<String, BTreeSet<String>>) -> Vec<(String, String)> {
        cells
            .iter()
            .flat_map(|(a, rs)| rs.iter().map(move |r| (a.clone(), r.clone())))
            .collect()
    }

    #[test]
    fn full_grid_is_one_rectangle() {
        let c = cells(&[
            ("a", &["r1", "r2"]),
            ("b", &["r1", "r2"]),
            ("c", &["r1", "r2"]),
        ]);
        let rects = partition(&c);
        assert_eq!(rects.len(), 1);
        assert_eq!(rects[0].accounts, ["a", "b", "c"]);
        assert_eq!(rects[0].regions, ["r1", "r2"]);
    }

    #[test]
    fn a_new_region_for_everyone_is_one_rectangle() {
        let c = cells(&[("a", &["r3"]), ("b", &["r3"]), ("c", &["r3"])]);
        assert_eq!(partition(&c).len(), 1);
    }

    #[test]
    fn nested_signatures_reuse_blocks() {
        // b's signature is a's plus r3: two rectangles, not three.
        let c = cells(&[("a", &["r1", "r2"]), ("b", &["r1", "r2", "r3"])]);
        let rects = partition(&c);
        assert_eq!(rects.len(), 2);
        assert_eq!(covered(&rects), flatten(&c));
    }

    #[test]
    fn scattered_single_gaps_group_by_region() {
        // Ten accounts, each missing a different pair of three regions: 3 by region, 3 by signature.
        let c = cells(&[
            ("a1", &["r1", "r2"]),
            ("a2", &["r2", "r3"]),
            ("a3", &["r1", "r3"]),
            ("a4", &["r1"]),
            ("a5", &["r2"]),
            ("a6", &["r3"]),
        ]);
        let rects = partition(&c);
        assert_eq!(rects.len(), 3);
        assert_eq!(covered(&rects), flatten(&c));
    }

    #[test]
    fn nothing_gives_nothing() {
        assert!(partition(&BTreeMap::new()).is_empty());
        assert!(partition(&cells(&[("a", &[])])).is_empty());
    }

    fn arbitrary_cells() -> impl Strategy<Value = BTreeMap<String, BTreeSet<String>>> {
        proptest::collection::btree_map(
            "[0-9]{3}",
            proptest::collection::btree_set("r[0-9]", 0..6),
            0..24,
        )
    }

    proptest! {
        #[test]
        fn covers_every_cell_exactly_once(c in arbitrary_cells()) {
            let rects = partition(&c);
            // covered() keeps duplicates, so equality proves no cell is covered twice.
            prop_assert_eq!(covered(&rects), flatten(&c));
            prop_assert!(rects.iter().all(|r| !r.is_empty()));
        }

        #[test]
        fn is_deterministic(c in arbitrary_cells()) {
            prop_assert_eq!(partition(&c), partition(&c.clone()));
        }

        #[test]
        fn never_worse_than_per_signature_or_per_region(c in arbitrary_cells()) {
            let rects = partition(&c);
            let signatures: BTreeSet<&BTreeSet<String>> = c.values().filter(|s| !s.is_empty()).collect();
            let regions: BTreeSet<&String> = c.values().flatten().collect();
            prop_assert!(rects.len() <= signatures.len());
            prop_assert!(rects.len() <= regions.len());
        }
    }
}
