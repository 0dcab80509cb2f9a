//! A tool's access rules beyond its grant limits: how many distinct persons must approve a
//! request for it (the two-person rule), and whether and for how long anyone who may ask for
//! it may break the glass in an incident.

use super::duration::GrantDuration;

/// The most approvals a tool can require: more would leave requests undecidable in practice.
pub const MAX_APPROVALS: u8 = 5;

/// A tool's rules for requests and incidents.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ToolRules {
    /// Distinct persons (never the requester) who must approve a request, 1 to
    /// [`MAX_APPROVALS`].
    pub approvals_required: u8,
    /// The longest grant a break-glass takes; `None`: the tool allows no break-glass.
    pub break_glass: Option<GrantDuration>,
}

impl Default for ToolRules {
    fn default() -> Self {
        Self {
            approvals_required: 1,
            break_glass: None,
        }
    }
}

impl ToolRules {
    /// A number of approvals as stored or typed, when within 1 to [`MAX_APPROVALS`].
    pub fn approvals(n: i64) -> Option<u8> {
        u8::try_from(n)
            .ok()
            .filter(|n| (1..=MAX_APPROVALS).contains(n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn approvals_required_stay_within_one_to_five() {
        for (n, ok) in [
            (0, false),
            (1, true),
            (5, true),
            (6, false),
            (-1, false),
            (256, false),
        ] {
            assert_eq!(ToolRules::approvals(n).is_some(), ok, "{n}");
        }
    }
}
