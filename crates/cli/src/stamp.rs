//! The nonce and time each plan is stamped with ([`stackfleet_planner::Plan::stamped`]): drawn
//! here, at the edge, so that the planner stays pure.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::time::{SystemTime, UNIX_EPOCH};

/// A fresh nonce (32 hex digits) and the current time in Unix seconds.
///
/// The nonce only has to differ between plans, not to be secret: it mixes the standard
/// library's per-process random hash keys (seeded from the operating system) with the time and
/// the process id, which needs no extra dependency.
pub fn draw() -> (String, u64) {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let half = |salt: u64| {
        let mut h = RandomState::new().build_hasher();
        h.write_u64(salt);
        h.write_u128(now.as_nanos());
        h.write_u32(std::process::id());
        h.finish()
    };
    (format!("{:016x}{:016x}", half(1), half(2)), now.as_secs())
}

#[cfg(test)]
mod tests {
    #[test]
    fn two_draws_differ() {
        let (a, _) = super::draw();
        let (b, _) = super::draw();
        assert_eq!(a.len(), 32);
        assert_ne!(a, b);
    }
}
