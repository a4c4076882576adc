//! The AWS region names that fleet.toml may use.

/// Every public AWS region name, including opt-in regions, GovCloud and China. A typo in a region
/// would otherwise surface only as a failed StackSets operation in every account.
pub const KNOWN_REGIONS: &[&str] = &[
    "af-south-1",
    "ap-east-1",
    "ap-east-2",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ap-south-1",
    "ap-south-2",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-southeast-3",
    "ap-southeast-4",
    "ap-southeast-5",
    "ap-southeast-6",
    "ap-southeast-7",
    "ca-central-1",
    "ca-west-1",
    "cn-north-1",
    "cn-northwest-1",
    "eu-central-1",
    "eu-central-2",
    "eu-north-1",
    "eu-south-1",
    "eu-south-2",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "il-central-1",
    "me-central-1",
    "me-south-1",
    "mx-central-1",
    "sa-east-1",
    "us-east-1",
    "us-east-2",
    "us-gov-east-1",
    "us-gov-west-1",
    "us-west-1",
    "us-west-2",
];

/// The commercial regions enabled by default in every account: those launched before March 20,
/// 2019. Every later region is an opt-in region ("Enable or disable AWS Regions in your
/// account", AWS Account Management Reference Guide,
/// https://docs.aws.amazon.com/accounts/latest/reference/manage-acct-regions.html), so this list
/// never grows.
pub const ENABLED_BY_DEFAULT: &[&str] = &[
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ap-south-1",
    "ap-southeast-1",
    "ap-southeast-2",
    "ca-central-1",
    "eu-central-1",
    "eu-north-1",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "sa-east-1",
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
];

/// Whether `region` may need opting in: a commercial region launched after March 20, 2019, or
/// one this stackfleet does not know (AWS opens only opt-in regions now). GovCloud and China
/// regions have no opt-in.
pub fn may_need_opt_in(region: &str) -> bool {
    !ENABLED_BY_DEFAULT.contains(&region)
        && !region.starts_with("us-gov-")
        && !region.starts_with("cn-")
}

/// Whether `name` is a known AWS region.
pub fn is_known_region(name: &str) -> bool {
    KNOWN_REGIONS.binary_search(&name).is_ok()
}

/// Whether `name` has the shape of an AWS region name: a 2–4 letter partition or area prefix,
/// words, and a number (`us-east-1`, `us-gov-west-1`, `eusc-de-east-1`). A well-formed name that
/// [`KNOWN_REGIONS`] lacks may be a region newer than this list.
pub fn is_well_formed_region(name: &str) -> bool {
    let parts: Vec<&str> = name.split('-').collect();
    let [first, middle @ .., last] = parts.as_slice() else {
        return false;
    };
    let letters = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase());
    (2..=4).contains(&first.len())
        && letters(first)
        && !middle.is_empty()
        && middle.iter().all(|p| letters(p))
        && (1..=2).contains(&last.len())
        && last.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    #[test]
    fn region_names_are_judged_by_shape() {
        use super::is_well_formed_region as ok;
        for good in [
            "us-east-1",
            "us-gov-west-1",
            "eusc-de-east-1",
            "xx-newplace-12",
        ] {
            assert!(ok(good), "{good}");
        }
        for bad in [
            "us-east-l",
            "useast1",
            "us-east",
            "US-EAST-1",
            "us--east-1",
            "-us-east-1",
            "u-east-1",
            "us-east-123",
        ] {
            assert!(!ok(bad), "{bad}");
        }
    }

    #[test]
    fn list_is_sorted_for_binary_search() {
        assert!(super::KNOWN_REGIONS.windows(2).all(|w| w[0] < w[1]));
    }
}
