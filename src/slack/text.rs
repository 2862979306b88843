//! Text for Slack's mrkdwn.

/// Escapes what a user typed so Slack shows it as typed: `&`, `<` and `>` become
/// entities, so a title cannot ping `@channel` (`<!channel>`) or forge a link.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

/// A mention Slack renders as the user's name.
pub fn mention(user: &(impl std::fmt::Display + ?Sized)) -> String {
    format!("<@{user}>")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_sequences_arrive_as_plain_text() {
        assert_eq!(
            escape("<!channel> & <https://evil|click>"),
            "&lt;!channel&gt; &amp; &lt;https://evil|click&gt;"
        );
        assert_eq!(escape("plain 🔥 text"), "plain 🔥 text");
    }
}
