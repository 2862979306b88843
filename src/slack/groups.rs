//! Slack user groups' members (`usergroups.users.list`), each read at most once every
//! ten minutes: for invitations and for `[permissions]`.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use futures_util::future::BoxFuture;

use super::client::{SlackClient, SlackError};

/// How long a user group's members are taken as read.
const FRESH: Duration = Duration::from_secs(600);

pub struct UserGroups {
    slack: SlackClient,
    read: Mutex<HashMap<String, (Instant, Vec<String>)>>,
}

impl UserGroups {
    pub fn new(slack: SlackClient) -> UserGroups {
        UserGroups {
            slack,
            read: Mutex::default(),
        }
    }

    /// The users of user group `group`.
    pub async fn of(&self, group: &str) -> Result<Vec<String>, SlackError> {
        if let Some((at, users)) = self.read.lock().expect("the group cache").get(group) {
            if at.elapsed() < FRESH {
                return Ok(users.clone());
            }
        }
        let read = self
            .slack
            .call_form("usergroups.users.list", &[("usergroup", group)])
            .await?;
        let users: Vec<String> = read["users"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|u| u.as_str().map(str::to_owned))
            .collect();
        self.read
            .lock()
            .expect("the group cache")
            .insert(group.to_owned(), (Instant::now(), users.clone()));
        Ok(users)
    }
}

impl crate::incidents::Groups for UserGroups {
    fn members<'a>(&'a self, group: &'a str) -> BoxFuture<'a, Result<Vec<String>, String>> {
        Box::pin(async move { self.of(group).await.map_err(|e| e.to_string()) })
    }
}
