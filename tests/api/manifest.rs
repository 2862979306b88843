//! The app manifest asks for exactly the scopes and events the code uses: no more (an
//! admin should not grant what is not needed), no less (a call would fail).

use std::collections::BTreeSet;
use std::path::Path;

/// Every Slack Web API method pompier calls, and the bot scope it needs ("" for none).
const METHODS: &[(&str, &str)] = &[
    ("auth.test", ""),
    ("chat.getPermalink", ""),
    ("chat.postEphemeral", "chat:write"),
    ("chat.postMessage", "chat:write"),
    ("chat.update", "chat:write"),
    ("conversations.archive", "channels:manage"),
    ("conversations.create", "channels:manage"),
    ("conversations.history", "channels:history"),
    ("conversations.invite", "channels:manage"),
    ("conversations.list", "channels:read"),
    ("conversations.open", "im:write"),
    ("conversations.rename", "channels:manage"),
    ("conversations.replies", "channels:history"),
    ("conversations.setTopic", "channels:manage"),
    ("pins.add", "pins:write"),
    ("usergroups.users.list", "usergroups:read"),
    ("users.info", "users:read"),
    ("users.lookupByEmail", "users:read.email"),
    ("views.publish", ""),
    ("views.open", ""),
];

/// Every event pompier handles, and the scope it needs.
const EVENTS: &[(&str, &str)] = &[
    ("app_home_opened", ""),
    ("member_joined_channel", "channels:read"),
    ("reaction_added", "reactions:read"),
];

/// Scopes needed beyond calls and events: the slash command, posting in the announce
/// channel without joining it, and the same calls and events in the private channels of
/// private incidents.
const OTHER_SCOPES: &[&str] = &[
    "commands",
    "chat:write.public",
    "groups:history",
    "groups:read",
    "groups:write",
    // A follow-up owner's email in `users.info`, for their Jira account.
    "users:read.email",
    // A retried direct message first looks for the one an earlier attempt posted.
    "im:history",
];

fn source() -> String {
    let mut all = String::new();
    let mut dirs = vec![Path::new(env!("CARGO_MANIFEST_DIR")).join("src")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                all.push_str(&std::fs::read_to_string(path).unwrap());
            }
        }
    }
    all
}

/// The items of the YAML list under `key:` in `text` (`- item` lines).
fn list_under(text: &str, key: &str) -> BTreeSet<String> {
    text.lines()
        .skip_while(|l| l.trim() != format!("{key}:"))
        .skip(1)
        .take_while(|l| l.trim_start().starts_with("- "))
        .map(|l| l.trim_start().trim_start_matches("- ").trim().to_owned())
        .collect()
}

#[test]
fn the_manifest_names_exactly_the_scopes_and_events_the_code_uses() {
    let code = source();
    // Any quoted `family.method` the code passes to Slack is in the table.
    for candidate in code.split('"').skip(1).step_by(2) {
        let slack_like = [
            "auth.",
            "chat.",
            "conversations.",
            "pins.",
            "users.",
            "usergroups.",
            "views.",
            "reactions.",
        ]
        .iter()
        .any(|p| candidate.starts_with(p))
            && !candidate.contains(' ');
        if slack_like {
            assert!(
                METHODS.iter().any(|(m, _)| *m == candidate),
                "the code calls {candidate}: add it and its scope to METHODS"
            );
        }
    }
    let mut needed: BTreeSet<String> = OTHER_SCOPES.iter().map(|s| s.to_string()).collect();
    for (method, scope) in METHODS {
        if code.contains(&format!("\"{method}\"")) && !scope.is_empty() {
            needed.insert(scope.to_string());
        }
    }
    let mut events = BTreeSet::new();
    for (event, scope) in EVENTS {
        if code.contains(&format!("\"{event}\"")) {
            events.insert(event.to_string());
            if !scope.is_empty() {
                needed.insert(scope.to_string());
            }
        }
    }
    let manifest =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("slack/manifest.yml"))
            .unwrap();
    assert_eq!(list_under(&manifest, "bot"), needed, "bot scopes");
    assert_eq!(list_under(&manifest, "bot_events"), events, "bot events");
    for part in [
        "command: /incident",
        "should_escape: true",
        "callback_id: declare_incident",
        "type: global",
        "type: message",
        "/slack/commands",
        "/slack/interactions",
        "/slack/events",
        "home_tab_enabled: true",
    ] {
        assert!(manifest.contains(part), "{part}");
    }
}
