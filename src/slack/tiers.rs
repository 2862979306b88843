//! Slack's rate tiers, per method and workspace, shared by every instance of the app:
//! what pompier paces its calls below (`slack.pace_percent`). From Slack's method
//! pages and its Java SDK's `MethodsRateLimits` (docs/design.md).

/// The calls per minute Slack allows `method`, for the methods the jobs call in bulk;
/// `None` for the others (interactive ones such as `views.open` answer a person at once
/// and are never held back).
pub fn per_minute(method: &str) -> Option<u32> {
    Some(match method {
        // Tier 2.
        "conversations.create"
        | "conversations.setTopic"
        | "conversations.archive"
        | "conversations.rename"
        | "conversations.list"
        | "pins.add"
        | "bookmarks.add"
        | "usergroups.users.list" => 20,
        // Tier 3.
        "conversations.invite"
        | "conversations.history"
        | "conversations.replies"
        | "conversations.open"
        | "chat.update"
        | "users.lookupByEmail" => 50,
        // Tier 4.
        "chat.postEphemeral" => 100,
        // Special: one a second per channel, bursts allowed.
        "chat.postMessage" => 60,
        _ => return None,
    })
}

/// What a limit is counted on: the method, and for `chat.postMessage` the channel too.
pub fn key(method: &str, channel: Option<&str>) -> String {
    match channel {
        Some(channel) if method == "chat.postMessage" => format!("{method}:{channel}"),
        _ => method.to_owned(),
    }
}

/// Milliseconds between two calls of a method allowed `per_minute`, using `percent` of
/// it (a margin for clocks and for calls that are not paced).
pub fn interval_ms(per_minute: u32, percent: u32) -> i64 {
    let per_minute = u64::from(per_minute) * u64::from(percent.clamp(1, 100));
    (60_000 * 100_u64).div_ceil(per_minute) as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiers_are_slacks() {
        assert_eq!(per_minute("conversations.create"), Some(20));
        assert_eq!(per_minute("chat.update"), Some(50));
        assert_eq!(per_minute("views.open"), None);
        // 90% of Tier 2: 18 a minute, one every 3.334 s; of Tier 3, one every 1.334 s.
        assert_eq!(interval_ms(20, 90), 3334);
        assert_eq!(interval_ms(50, 90), 1334);
        assert_eq!(interval_ms(20, 100), 3000);
        assert_eq!(interval_ms(20, 0), 300_000);
    }

    #[test]
    fn messages_are_limited_per_channel() {
        assert_eq!(key("chat.postMessage", Some("C1")), "chat.postMessage:C1");
        assert_eq!(key("chat.update", Some("C1")), "chat.update");
        assert_eq!(key("pins.add", None), "pins.add");
    }
}
