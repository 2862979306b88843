//! Text between Slack and pompier.
//!
//! In: Slack sends what people typed with `&`, `<`, `>` as entities and mentions as
//! `<@U…|name>`, `<#C…|name>`, `<!here>`… [`decode`] turns that back into what they
//! typed, once, at the edge: user and channel mentions stay mentions, broadcasts become
//! plain words (`@here`), so no stored text can ping a channel.
//!
//! Out: [`escape`] makes stored text safe for mrkdwn (a title cannot ping `@channel` or
//! forge a link) but keeps user and channel mentions working; [`plain`] shows it to
//! people outside Slack (`@bob`, `#general`).

/// What the user typed, from the text of a slash command.
pub fn decode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find('<') {
        out.push_str(&entities(&rest[..start]));
        let after = &rest[start + 1..];
        let Some(end) = after.find('>') else {
            out.push_str(&entities(&rest[start..]));
            return out;
        };
        out.push_str(&token(&after[..end]));
        rest = &after[end + 1..];
    }
    out.push_str(&entities(rest));
    out
}

/// One `<…>` token of Slack's escaped text, as typed.
fn token(inner: &str) -> String {
    let (target, label) = match inner.split_once('|') {
        Some((t, l)) => (t, Some(entities(l))),
        None => (inner, None),
    };
    if as_mention(inner).is_some() {
        // A user or channel mention stays one.
        return format!("<{inner}>");
    }
    if let Some(special) = target.strip_prefix('!') {
        // A broadcast (`<!here>`), a user group (`<!subteam^S1|@oncall>`), a date: its
        // words, never the ping.
        return match label {
            Some(label) if !label.is_empty() => defused(&label),
            _ => format!("@{}", special.split('^').next().unwrap_or(special)),
        };
    }
    // A link: the address the user typed.
    let target = entities(target);
    match label {
        Some(label) if !label.is_empty() && label != target => format!("{label} ({target})"),
        _ => target,
    }
}

/// `label` with any `<` or `>` (decoded from an entity) kept out of token syntax.
fn defused(label: &str) -> String {
    label.replace(['<', '>'], "")
}

fn entities(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// `@U123|bob` or `#C123|general` when `inner` is a user or channel mention.
fn as_mention(inner: &str) -> Option<(char, &str, Option<&str>)> {
    let sigil = inner.chars().next()?;
    let (kinds, rest): (&[char], &str) = match sigil {
        '@' => (&['U', 'W'], &inner[1..]),
        '#' => (&['C', 'G'], &inner[1..]),
        _ => return None,
    };
    let (id, label) = match rest.split_once('|') {
        Some((id, label)) => (id, Some(label)),
        None => (rest, None),
    };
    let id_ok = id.len() >= 2
        && id.len() <= 32
        && id.starts_with(kinds)
        && id
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
    let label_ok = label.is_none_or(|l| !l.contains(['<', '>', '&']));
    (id_ok && label_ok).then_some((sigil, id, label))
}

/// Splits `text` into plain runs and mentions: `f` gets each piece and whether it is a
/// mention's inner text.
fn pieces(text: &str, mut f: impl FnMut(&str, bool)) {
    let mut rest = text;
    while let Some(start) = rest.find('<') {
        let after = &rest[start + 1..];
        match after.find('>') {
            Some(end) if as_mention(&after[..end]).is_some() => {
                f(&rest[..start], false);
                f(&after[..end], true);
                rest = &after[end + 1..];
            }
            _ => {
                f(&rest[..=start], false);
                rest = after;
            }
        }
    }
    f(rest, false);
}

/// Escapes stored text for Slack's mrkdwn: `&`, `<` and `>` become entities, so Slack
/// shows it as typed, except user and channel mentions, which stay mentions.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    pieces(text, |piece, is_mention| {
        if is_mention {
            out.push('<');
            out.push_str(piece);
            out.push('>');
        } else {
            for c in piece.chars() {
                match c {
                    '&' => out.push_str("&amp;"),
                    '<' => out.push_str("&lt;"),
                    '>' => out.push_str("&gt;"),
                    c => out.push(c),
                }
            }
        }
    });
    out
}

/// Stored text as people read it outside Slack: `<@U1|bob>` is `@bob`, `<#C1>` is `#C1`.
pub fn plain(text: &str) -> String {
    plain_with(text, |_| None)
}

/// Like [`plain`], with the names `name_of` knows for user ids (`<@U1>` is `@Alice`).
pub fn plain_with(text: &str, name_of: impl Fn(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(text.len());
    pieces(text, |piece, is_mention| match as_mention(piece) {
        Some((sigil, id, label)) if is_mention => {
            out.push(sigil);
            match name_of(id) {
                Some(name) if sigil == '@' => out.push_str(&name),
                _ => out.push_str(label.filter(|l| !l.is_empty()).unwrap_or(id)),
            }
        }
        _ => out.push_str(piece),
    });
    out
}

/// The time a message's `ts` (`seconds.microseconds`) stands for.
pub fn ts_time(ts: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    let (secs, micros) = ts.split_once('.').unwrap_or((ts, "0"));
    let micros = format!("{micros:0<6}");
    chrono::DateTime::from_timestamp(
        secs.parse().ok()?,
        micros.get(..6)?.parse::<u32>().ok()? * 1000,
    )
}

/// A mention Slack renders as the user's name.
pub fn mention(user: &(impl std::fmt::Display + ?Sized)) -> String {
    format!("<@{user}>")
}

/// A Slack user (`U…`) as a mention; anyone else (`token:NAME`) as plain text.
pub fn mention_actor(actor: &str) -> String {
    if actor.parse::<crate::domain::SlackUserId>().is_ok() {
        mention(actor)
    } else {
        format!("`{}`", escape(actor))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slack_entities_are_decoded_once_and_mentions_kept() {
        assert_eq!(decode("a &lt; b &amp;&amp; c &gt; d"), "a < b && c > d");
        assert_eq!(decode("&amp;lt;"), "&lt;", "decoded once, not twice");
        assert_eq!(
            decode("<@U0BOB|bob> restarted <#C0DB|db-primary>"),
            "<@U0BOB|bob> restarted <#C0DB|db-primary>"
        );
        assert_eq!(
            decode("see <https://x.io/a?b=1&amp;c=2>"),
            "see https://x.io/a?b=1&c=2"
        );
        assert_eq!(decode("<https://x.io|the doc>"), "the doc (https://x.io)");
        assert_eq!(decode("unclosed < tag"), "unclosed < tag");
    }

    #[test]
    fn broadcasts_never_survive_decoding() {
        for (slack, typed) in [
            ("<!channel> db down", "@channel db down"),
            ("<!here>", "@here"),
            ("<!everyone>", "@everyone"),
            ("<!subteam^S0ONCALL|@oncall> help", "@oncall help"),
            ("<!subteam^S0ONCALL>", "@subteam"),
            ("<!date^1700000000^{date}|Nov 14>", "Nov 14"),
            ("<!here|&lt;!channel&gt;>", "!channel"),
        ] {
            let decoded = decode(slack);
            assert_eq!(decoded, typed, "{slack}");
            let out = escape(&decoded);
            assert!(!out.contains("<!"), "{slack} → {out}");
        }
    }

    #[test]
    fn escaping_keeps_mentions_and_defuses_the_rest() {
        assert_eq!(
            escape("<!channel> & <https://evil|click>"),
            "&lt;!channel&gt; &amp; &lt;https://evil|click&gt;"
        );
        assert_eq!(escape("plain 🔥 text"), "plain 🔥 text");
        assert_eq!(
            escape("<@U0BOB|bob> fixed <#C0DB> & more"),
            "<@U0BOB|bob> fixed <#C0DB> &amp; more"
        );
        // Not mentions: a broadcast, a lowercase id, a label smuggling a token.
        assert_eq!(escape("<@here>"), "&lt;@here&gt;");
        assert_eq!(escape("<@u1>"), "&lt;@u1&gt;");
        assert_eq!(escape("<@U1|<!channel>>"), "&lt;@U1|&lt;!channel&gt;&gt;");
    }

    #[test]
    fn plain_text_names_people_and_channels() {
        assert_eq!(
            plain("<@U0BOB|bob> restarted the primary in <#C0DB|db>, cc <@U0AL>"),
            "@bob restarted the primary in #db, cc @U0AL"
        );
        assert_eq!(plain("a < b"), "a < b");
    }
}
