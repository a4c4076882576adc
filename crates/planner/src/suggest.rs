//! "Did you mean …?" for names that are almost right: regions, parameters, OU paths, keys.

/// The option closest to `typed`, if one is close enough to be what was meant: at most a third
/// of its characters differ (at least one, at most three edits), swapped letters counting once.
pub fn closest<'a>(typed: &str, options: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let budget = (typed.chars().count() / 3).clamp(1, 3);
    let scored: Vec<(usize, &str)> = options
        .into_iter()
        .map(|option| (strsim::damerau_levenshtein(typed, option), option))
        .collect();
    // Typed exactly: nothing to correct.
    if scored.iter().any(|(distance, _)| *distance == 0) {
        return None;
    }
    scored
        .into_iter()
        .filter(|(distance, _)| *distance <= budget)
        .min_by_key(|(distance, option)| (*distance, *option))
        .map(|(_, option)| option)
}

/// `"; did you mean \"x\"?"`, or nothing when no option is close.
pub fn did_you_mean<'a>(typed: &str, options: impl IntoIterator<Item = &'a str>) -> String {
    closest(typed, options)
        .map(|o| format!("; did you mean {o:?}?"))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::{closest, did_you_mean};

    #[test]
    fn suggests_only_what_is_close() {
        let regions = ["us-east-1", "us-east-2", "eu-west-1"];
        assert_eq!(closest("us-est-1", regions), Some("us-east-1"));
        assert_eq!(closest("eu-wset-1", regions), Some("eu-west-1"));
        assert_eq!(closest("mars-north-1", regions), None);
        assert_eq!(closest("us-east-1", regions), None, "nothing to correct");
        assert_eq!(
            did_you_mean("NotificationEmial", ["NotificationEmail", "Prefix"]),
            "; did you mean \"NotificationEmail\"?"
        );
        assert_eq!(did_you_mean("Team", ["NotificationEmail"]), "");
    }
}
