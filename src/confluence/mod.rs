//! Confluence's side: the REST client and the postmortem page.

pub mod client;
pub mod page;
pub mod report;

pub use client::{ConfluenceClient, ConfluenceError, Page};
pub use page::Template;

use std::time::Duration;

use crate::config::Settings;

/// The client the settings describe: `None` without `CONFLUENCE_BASE_URL`; the missing
/// variable when it is set but a token or the space is not.
pub fn client(settings: &Settings) -> Result<Option<ConfluenceClient>, String> {
    let c = &settings.confluence;
    let Some(base) = &c.base_url else {
        return Ok(None);
    };
    let token = settings
        .secrets
        .confluence_api_token
        .clone()
        .ok_or("CONFLUENCE_API_TOKEN is not set")?;
    let space = c.space().map_err(|var| format!("{var} is not set"))?;
    // Confluence may be internal, behind a company CA (POMPIER_CA_FILE).
    let http = crate::outbound::client(
        Duration::from_secs(c.timeout_secs),
        settings.ca_file.as_deref(),
    )?;
    Ok(Some(ConfluenceClient::new(
        base,
        c.api,
        c.user.as_deref(),
        token,
        space,
        c.parent_page_id.as_deref(),
        http,
    )))
}

/// The page template the settings name, or the built-in one, compiled.
pub fn template(settings: &Settings) -> Result<Template, String> {
    let source = match &settings.confluence.template {
        Some(path) => std::fs::read_to_string(path)
            .map_err(|e| format!("confluence.template {}: {e}", path.display()))?,
        None => page::DEFAULT_TEMPLATE.to_owned(),
    };
    Template::new(source).map_err(|e| e.to_string())
}
