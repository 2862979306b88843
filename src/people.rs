//! People by name rather than by Slack id: names read through `users.info`, kept in
//! the database (`slack_names`) and read again after a day, so pages, exports and
//! postmortems show "Ana Lima" where Slack would show `U0ANA`.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use crate::domain::SlackUserId;
use crate::slack::client::SlackClient;
use crate::store::Store;

/// How long a name is taken as read.
pub const FRESH: chrono::Duration = chrono::Duration::days(1);
/// Most names read from Slack for one page (the rest show their id until next time).
const MAX_LOOKUPS: usize = 25;

#[derive(Clone)]
pub struct People {
    pub store: Store,
    /// Where names are read, when a bot token is set.
    pub slack: Option<SlackClient>,
}

impl People {
    /// The names of `ids` (Slack user ids; anything else is left out): those kept and
    /// fresh at once, the others read from Slack side by side within `deadline`. A name
    /// that cannot be read is its stale one, or missing (show the id).
    pub async fn names<'a>(
        &self,
        ids: impl IntoIterator<Item = &'a str>,
        deadline: Duration,
    ) -> HashMap<String, String> {
        let mut ids: Vec<String> = ids
            .into_iter()
            .filter(|id| id.parse::<SlackUserId>().is_ok())
            .map(str::to_owned)
            .collect();
        ids.sort();
        ids.dedup();
        let now = crate::now();
        let mut names = HashMap::new();
        let mut stale = vec![];
        match self.store.names(&ids).await {
            Ok(kept) => {
                let kept: BTreeMap<_, _> =
                    kept.into_iter().map(|(id, n, at)| (id, (n, at))).collect();
                for id in ids {
                    match kept.get(&id) {
                        Some((name, at)) => {
                            if now - *at > FRESH {
                                stale.push(id.clone());
                            }
                            names.insert(id, name.clone());
                        }
                        None => stale.push(id),
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot read the names kept"),
        }
        let Some(slack) = &self.slack else {
            return names;
        };
        stale.truncate(MAX_LOOKUPS);
        let reads = stale.into_iter().map(|id| async move {
            let name = read(slack, &id).await;
            (id, name)
        });
        let read = tokio::time::timeout(deadline, futures_util::future::join_all(reads)).await;
        for (id, name) in read.unwrap_or_default() {
            if let Some(name) = name {
                if let Err(e) = self.store.put_name(&id, &name, now).await {
                    tracing::warn!(error = %e, "cannot keep a name");
                }
                names.insert(id, name);
            }
        }
        names
    }
}

impl People {
    /// The Slack user whose email is `email` (`users.lookupByEmail`), within `deadline`;
    /// none when Slack does not know it or cannot say in time.
    pub async fn by_email(&self, email: &str, deadline: Duration) -> Option<SlackUserId> {
        let slack = self.slack.as_ref()?;
        let found = tokio::time::timeout(
            deadline,
            slack.call_form("users.lookupByEmail", &[("email", email)]),
        )
        .await;
        match found {
            Ok(Ok(found)) => found["user"]["id"].as_str()?.parse().ok(),
            Ok(Err(e)) => {
                tracing::info!(error = %e, "no Slack user for a sign-in's email");
                None
            }
            Err(_) => {
                tracing::warn!("Slack did not say in time whose a sign-in's email is");
                None
            }
        }
    }
}

/// User `id`'s name as Slack shows it: real name, else display name, else handle.
async fn read(slack: &SlackClient, id: &str) -> Option<String> {
    match slack.call_form("users.info", &[("user", id)]).await {
        Ok(info) => {
            let user = &info["user"];
            [
                &user["profile"]["real_name"],
                &user["profile"]["display_name"],
                &user["real_name"],
                &user["name"],
            ]
            .into_iter()
            .find_map(|v| v.as_str().map(str::trim).filter(|s| !s.is_empty()))
            .map(|s| s.chars().take(80).collect())
        }
        Err(e) => {
            tracing::warn!(user = %id, error = %e, "cannot look up a user's name");
            None
        }
    }
}
