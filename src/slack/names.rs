//! Channel names by Slack's rules: lowercase letters, digits, `-` and `_`, at most 80
//! characters.

/// Longest channel name Slack accepts.
pub const MAX_CHANNEL_NAME: usize = 80;

/// `{prefix}-{number}-{slug of title}` (`inc-42-…`, `drill-43-…`), with `-{n}` appended
/// for the n-th try after the name was taken (`suffix` 0 means none); always within 80
/// characters.
pub fn channel_name(prefix: &str, number: i64, title: &str, suffix: u32) -> String {
    let mut slug = String::new();
    for c in title.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' {
            slug.push(c);
        } else if !slug.ends_with('-') {
            slug.push('-');
        }
    }
    let slug = slug.trim_matches('-');
    let tail = if suffix > 0 {
        format!("-{suffix}")
    } else {
        String::new()
    };
    let mut name = format!("{prefix}-{number}");
    if !slug.is_empty() {
        name.push('-');
        name.push_str(slug);
    }
    name.truncate(MAX_CHANNEL_NAME - tail.len());
    let mut name = name.trim_end_matches('-').to_owned();
    name.push_str(&tail);
    name
}

/// `text` cut to at most `max` characters, ending in `…` when cut.
pub fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    fn valid(name: &str) -> bool {
        name.len() <= MAX_CHANNEL_NAME
            && !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
    }

    #[test]
    fn titles_become_slack_channel_names() {
        assert_eq!(
            channel_name("inc", 42, "Checkout returns 500!", 0),
            "inc-42-checkout-returns-500"
        );
        assert_eq!(
            channel_name("inc", 42, "Checkout returns 500!", 2),
            "inc-42-checkout-returns-500-2"
        );
        assert_eq!(
            channel_name("inc", 7, "🔥🔥 ÉTÉ: DB  down 🔥", 0),
            "inc-7-t-db-down"
        );
        assert_eq!(channel_name("inc", 7, "🔥🔥🔥", 0), "inc-7");
        assert_eq!(
            channel_name("inc", 7, "snake_case_Name", 0),
            "inc-7-snake_case_name"
        );
    }

    #[test]
    fn long_hostile_titles_stay_valid_with_any_suffix() {
        let title = "🔥 <!channel> & \"quotes\", émojis 🚒🚒 / slashes \\ and **bold** ".repeat(4);
        assert!(title.chars().count() >= 200);
        for suffix in [0, 1, 9, 10, 123] {
            let name = channel_name("inc", 123_456, &title, suffix);
            assert!(valid(&name), "{name}");
            assert!(
                name.ends_with(&if suffix > 0 {
                    format!("-{suffix}")
                } else {
                    "s".into()
                }) || suffix == 0
            );
        }
        assert_eq!(channel_name("inc", 1, &"a".repeat(300), 0).len(), 80);
        assert_eq!(channel_name("inc", 1, &"a".repeat(300), 12).len(), 80);
    }

    #[test]
    fn truncation_counts_characters_and_marks_the_cut() {
        assert_eq!(truncate("short", 10), "short");
        assert_eq!(truncate("🔥🔥🔥🔥", 3), "🔥🔥…");
        assert_eq!(truncate(&"x".repeat(200), 150).chars().count(), 150);
    }
}
