//! The exact minimum partition of small gap patterns.
//!
//! Rectangles with the same columns can always be merged, so a minimum partition of a 0/1 matrix
//! into rectangles is a smallest family F of distinct column sets such that every row is a
//! disjoint union of members of F (the rectangle of a member is the rows that use it). With few
//! columns that family is found by iterative deepening: the search branches on the lowest column
//! of the first row that F cannot build yet, whose member is either one of F or a new subset of
//! what is left of the row. A step budget keeps it bounded; past it, the caller keeps its
//! heuristic answer.

/// The narrowest side, in columns, that the search takes on (2^(width-1) branches a step).
pub const MAX_WIDTH: u32 = 8;

/// Search steps before giving up: a few milliseconds at most, and the same answer every time.
const BUDGET: usize = 200_000;

/// A family of fewer than `below` column sets (masks over `rows`' columns, which must fit in
/// [`MAX_WIDTH`]) that builds every row, if the search finds one within its budget.
pub fn family(rows: &[u32], below: usize) -> Option<Vec<u32>> {
    let mut rows: Vec<u32> = rows.iter().copied().filter(|r| *r != 0).collect();
    rows.sort_unstable();
    rows.dedup();
    let mut search = Search {
        rows: &rows,
        family: Vec::new(),
        size: 0,
        steps: 0,
    };
    for size in rank(&rows)..below {
        search.size = size;
        match search.extend() {
            Some(true) => return Some(search.family),
            Some(false) => {}
            None => return None,
        }
    }
    None
}

/// The members of `family` (by index) whose disjoint union is `row`, lowest column first.
pub fn decompose(family: &[u32], row: u32) -> Option<Vec<usize>> {
    if row == 0 {
        return Some(Vec::new());
    }
    let low = row & row.wrapping_neg();
    family.iter().enumerate().find_map(|(i, &f)| {
        if f & low == 0 || f & !row != 0 {
            return None;
        }
        let mut rest = decompose(family, row & !f)?;
        rest.insert(0, i);
        Some(rest)
    })
}

struct Search<'a> {
    rows: &'a [u32],
    family: Vec<u32>,
    size: usize,
    steps: usize,
}

impl Search<'_> {
    /// Whether the family can grow to `size` members that build every row; `None` when the
    /// budget ran out.
    fn extend(&mut self) -> Option<bool> {
        match self
            .rows
            .iter()
            .find(|r| decompose(&self.family, **r).is_none())
        {
            None => Some(true),
            Some(&row) => self.cover(row),
        }
    }

    /// Tries every way to build `left`, the rest of a row, starting with its lowest column.
    fn cover(&mut self, left: u32) -> Option<bool> {
        self.steps += 1;
        if self.steps > BUDGET {
            return None;
        }
        if left == 0 {
            return self.extend();
        }
        let low = left & left.wrapping_neg();
        for i in 0..self.family.len() {
            let f = self.family[i];
            if f & low != 0 && f & !left == 0 && self.cover(left & !f)? {
                return Some(true);
            }
        }
        if self.family.len() == self.size {
            return Some(false);
        }
        let rest = left & !low;
        let mut sub = rest;
        loop {
            let member = sub | low;
            if !self.family.contains(&member) {
                self.family.push(member);
                let found = self.cover(left & !member);
                if found != Some(false) {
                    return found;
                }
                self.family.pop();
            }
            if sub == 0 {
                return Some(false);
            }
            sub = (sub - 1) & rest;
        }
    }
}

/// The rank of the 0/1 matrix over GF(2^31 - 1): at most its rank over the reals, which no
/// partition into fewer rectangles can have.
fn rank(rows: &[u32]) -> usize {
    const P: u64 = 2_147_483_647;
    let inverse = |x: u64| {
        let (mut base, mut exp, mut acc) = (x, P - 2, 1);
        while exp > 0 {
            if exp & 1 == 1 {
                acc = acc * base % P;
            }
            base = base * base % P;
            exp >>= 1;
        }
        acc
    };
    let width = MAX_WIDTH as usize;
    let mut basis: Vec<(usize, Vec<u64>)> = Vec::new();
    for row in rows {
        let mut v: Vec<u64> = (0..width).map(|c| u64::from(row >> c & 1)).collect();
        for (pivot, b) in &basis {
            let f = v[*pivot];
            if f != 0 {
                for (x, y) in v.iter_mut().zip(b) {
                    *x = (*x + P - f * y % P) % P;
                }
            }
        }
        if let Some(pivot) = v.iter().position(|x| *x != 0) {
            let inv = inverse(v[pivot]);
            v.iter_mut().for_each(|x| *x = *x * inv % P);
            for (_, b) in basis.iter_mut() {
                let f = b[pivot];
                if f != 0 {
                    for (x, y) in b.iter_mut().zip(&v) {
                        *x = (*x + P - f * y % P) % P;
                    }
                }
            }
            basis.push((pivot, v));
        }
    }
    basis.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_minimum_of_small_matrices() {
        // Rows {1,2}, {1,2,3}, {3}: two members, {1,2} and {3}.
        let f = family(&[0b011, 0b111, 0b100], 3).unwrap();
        assert_eq!(f.len(), 2);
        // The identity has no smaller family than its columns.
        assert_eq!(family(&[0b001, 0b010, 0b100], 3), None);
        assert_eq!(rank(&[0b110, 0b101, 0b011]), 3);
        assert_eq!(rank(&[0b011, 0b111, 0b100]), 2);
    }

    #[test]
    fn decomposes_rows_into_members() {
        assert_eq!(decompose(&[0b100, 0b011], 0b111), Some(vec![1, 0]));
        assert_eq!(decompose(&[0b110], 0b011), None);
    }
}
