//! The `huddle` command line: serving (no subcommand), managing API tokens, pushing.

use anyhow::{bail, Context};
use clap::{Parser, Subcommand};

use crate::server::auth::api_tokens;
use crate::server::config::{Config, DEFAULT_DATABASE};
use crate::server::http::push_api::{Notified, Posted};
use crate::server::store::{self, Database};

#[derive(Debug, Parser)]
#[command(
    name = "huddle",
    version,
    about,
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Serving settings, when no subcommand is given.
    #[command(flatten)]
    pub config: Config,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Manage API tokens, with which backends and bots use the push API.
    Token {
        #[command(subcommand)]
        action: TokenAction,
        /// The database the server uses.
        #[arg(
            long,
            env = "HUDDLE_DATABASE",
            default_value = DEFAULT_DATABASE,
            global = true
        )]
        database: Database,
    },
    /// Push to a running server through its HTTP API, authenticated by the API token in
    /// `HUDDLE_API_TOKEN` (never a flag: command lines show in the process list).
    Push {
        #[command(subcommand)]
        action: PushAction,
        /// The server's base URL (plain http; for https, use curl as shown in the README).
        #[arg(
            long,
            env = "HUDDLE_URL",
            default_value = "http://127.0.0.1:3000",
            global = true
        )]
        url: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum TokenAction {
    /// Create a token and print it (the only time it is shown).
    Create { name: String },
    /// List token names.
    List,
    /// Delete a token: requests carrying it are refused from then on.
    Revoke { name: String },
}

#[derive(Debug, Subcommand)]
pub enum PushAction {
    /// Show a notice on every open page, or only on one person's.
    Notify {
        text: String,
        /// Only this person (their user id).
        #[arg(long)]
        user: Option<String>,
    },
    /// Post a message to a room as the token's bot.
    Message {
        room: String,
        text: String,
        /// Makes a retry safe: the same client_id is stored once.
        #[arg(long)]
        client_id: Option<String>,
    },
}

/// Runs a subcommand, printing its result.
pub async fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Token { action, database } => token(action, &database).await,
        Command::Push { action, url } => push(action, &url).await,
    }
}

async fn token(action: TokenAction, database: &Database) -> anyhow::Result<()> {
    let store = store::open(database)
        .await
        .with_context(|| format!("opening {database}"))?;
    let tokens = store.tokens.as_ref();
    let outcome = match action {
        TokenAction::Create { name } => api_tokens::create(tokens, &name)
            .await
            .map(|token| println!("{token}")),
        TokenAction::List => api_tokens::list(tokens)
            .await
            .map(|names| names.iter().for_each(|name| println!("{name}"))),
        TokenAction::Revoke { name } => match api_tokens::revoke(tokens, &name).await {
            Ok(true) => {
                println!("revoked {name}");
                Ok(())
            }
            Ok(false) => {
                store.close().await;
                bail!("no token is called {name:?}");
            }
            Err(err) => Err(err),
        },
    };
    store.close().await;
    Ok(outcome?)
}

async fn push(action: PushAction, url: &str) -> anyhow::Result<()> {
    let token = std::env::var("HUDDLE_API_TOKEN")
        .ok()
        .filter(|t| !t.is_empty())
        .context("set HUDDLE_API_TOKEN to an API token (huddle token create NAME)")?;
    let url = url.trim_end_matches('/');
    let client = reqwest::Client::new();
    let request = match &action {
        PushAction::Notify { text, user } => client
            .post(format!("{url}/api/notify"))
            .json(&serde_json::json!({ "text": text, "user": user })),
        PushAction::Message {
            room,
            text,
            client_id,
        } => client
            .post(format!("{url}/api/rooms/{room}/messages"))
            .json(&serde_json::json!({ "text": text, "client_id": client_id })),
    };
    let response = request
        .bearer_auth(token)
        .send()
        .await
        .with_context(|| format!("reaching {url}"))?;
    let status = response.status();
    let body = response.text().await.unwrap_or_default();
    if !status.is_success() {
        bail!("the server refused ({status}): {body}");
    }
    match action {
        PushAction::Notify { .. } => {
            let notified: Notified = serde_json::from_str(&body)?;
            println!("delivered to {} connection(s)", notified.delivered);
        }
        PushAction::Message { .. } => {
            let posted: Posted = serde_json::from_str(&body)?;
            println!(
                "posted to {} as seq {} (id {})",
                posted.room, posted.seq, posted.id
            );
        }
    }
    Ok(())
}
