//! Property tests (proptest; `cargo fuzz` needs a nightly toolchain this project does
//! not use) of everything that parses what comes from outside: the signature check, the
//! command form and grammar, Slack's text, interaction payloads. None may panic, and
//! each keeps its promise on any input.

use pompier::domain::RoleName;
use pompier::slack::verify::{sign, verify};
use pompier::slack::{command, commands::CommandFields, modal, text};
use proptest::prelude::*;

const SECRET: &[u8] = b"fuzz-secret";
const NOW: i64 = 1_796_000_000;

fn roles() -> Vec<RoleName> {
    ["lead", "comms"]
        .iter()
        .map(|r| r.parse().unwrap())
        .collect()
}

/// 2,000 cases each in `cargo test`; `POMPIER_FUZZ_CASES=N` for a longer run.
fn cases() -> u32 {
    std::env::var("POMPIER_FUZZ_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(2000)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    /// Only the signature of this very body, at a fresh time, passes.
    #[test]
    fn signatures_pass_only_when_they_are_right(
        body in proptest::collection::vec(any::<u8>(), 0..512),
        other in proptest::collection::vec(any::<u8>(), 0..512),
        skew in -600i64..600,
        junk in ".{0,80}",
    ) {
        let ts = (NOW + skew).to_string();
        let good = sign(SECRET, &ts, &body);
        let fresh = skew.abs() <= 300;
        prop_assert_eq!(verify(SECRET, Some(&ts), Some(&good), &body, NOW).is_ok(), fresh);
        if other != body {
            prop_assert!(verify(SECRET, Some(&ts), Some(&good), &other, NOW).is_err());
        }
        prop_assert!(verify(SECRET, Some(&ts), Some(&junk), &body, NOW).is_err() || junk == good);
        prop_assert!(verify(SECRET, Some(&junk), Some(&good), &body, NOW).is_err() || junk == ts);
        prop_assert!(verify(b"another", Some(&ts), Some(&good), &body, NOW).is_err());
    }

    /// Any form body: parsed or refused, never a panic; any command text: a command
    /// or a reason.
    #[test]
    fn forms_and_commands_parse_or_say_why(
        form in proptest::collection::vec(any::<u8>(), 0..600),
        words in proptest::collection::vec(
            prop_oneof![
                Just("open".to_owned()), Just("sev1".to_owned()), Just("sev0".to_owned()),
                Just("lead".to_owned()), Just("role".to_owned()), Just("note".to_owned()),
                Just("<@U123|bob>".to_owned()), Just("<!channel>".to_owned()), Just("&amp;".to_owned()),
                Just("42".to_owned()), Just("#7".to_owned()), Just("resolved".to_owned()),
                "\\PC{0,12}",
            ],
            0..8,
        ),
    ) {
        let _ = serde_urlencoded::from_bytes::<CommandFields>(&form);
        let text = words.join(" ");
        if let Err(why) = command::parse(&text, &roles()) {
            prop_assert!(!why.to_string().is_empty());
        }
    }

    /// What people type comes back as they typed it, mentions kept, broadcasts never.
    #[test]
    fn slack_text_decodes_and_escapes_safely(raw in "\\PC{0,300}") {
        let decoded = text::decode(&raw);
        let shown = text::escape(&decoded);
        prop_assert!(!shown.contains("<!"), "{shown}");
        // Every `<` left is a user or channel mention.
        for piece in shown.split('<').skip(1) {
            prop_assert!(piece.starts_with('@') || piece.starts_with('#'), "{shown}");
        }
        let _ = text::plain(&decoded);
        // Escaping what has no `<`, `>` or `&` changes nothing.
        if !decoded.contains(['<', '>', '&']) {
            prop_assert_eq!(&shown, &decoded);
        }
    }

    /// Any modal state: a submission or field errors, never a panic.
    #[test]
    fn modal_submissions_are_checked(
        title in "\\PC{0,260}",
        severity in "\\PC{0,8}",
        metadata in "\\PC{0,100}",
    ) {
        let view = serde_json::json!({
            "private_metadata": metadata,
            "state": {"values": {
                "title": {"title": {"value": title}},
                "severity": {"severity": {"selected_option": {"value": severity}}}}}
        });
        match modal::submission(&view) {
            Ok(s) => prop_assert!(!s.title.is_empty() && s.title.chars().count() <= 200),
            Err(errors) => prop_assert!(!errors.is_empty()),
        }
    }
}
