use std::fmt;
use std::str::FromStr;

use super::Invalid;

/// How bad an incident is: `SEV1` (critical) to `SEV4` (minor).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Severity {
    Sev1,
    Sev2,
    Sev3,
    Sev4,
}

impl Severity {
    pub const ALL: [Severity; 4] = [
        Severity::Sev1,
        Severity::Sev2,
        Severity::Sev3,
        Severity::Sev4,
    ];

    /// What a new incident gets when its declarer names none.
    pub const DEFAULT: Severity = Severity::Sev3;

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Sev1 => "SEV1",
            Severity::Sev2 => "SEV2",
            Severity::Sev3 => "SEV3",
            Severity::Sev4 => "SEV4",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Severity {
    type Err = Invalid;

    /// Accepts `SEV2`, `sev2` and `Sev2`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Severity::ALL
            .into_iter()
            .find(|sev| sev.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| {
                Invalid(format!(
                    "unknown severity `{s}`: use SEV1, SEV2, SEV3 or SEV4"
                ))
            })
    }
}

impl serde::Serialize for Severity {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

deserialize_from_str!(Severity);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severities_parse_in_any_case_and_print_in_upper_case() {
        for sev in Severity::ALL {
            assert_eq!(sev.as_str().to_lowercase().parse::<Severity>(), Ok(sev));
            assert_eq!(sev.as_str().parse::<Severity>(), Ok(sev));
        }
        assert!("sev5".parse::<Severity>().is_err());
        assert!("".parse::<Severity>().is_err());
    }
}
