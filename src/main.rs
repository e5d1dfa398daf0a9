//! The `huddle` server binary: configuration → logs → state → serve until SIGINT/SIGTERM.

use anyhow::Context;
use clap::Parser;
use huddle::server::{serve, shutdown::termination_signal, telemetry, AppState, Config};
use leptos::prelude::get_configuration;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = Config::parse();
    telemetry::init(&config).map_err(anyhow::Error::msg)?;
    let leptos_options = get_configuration(None)
        .context("reading the Leptos site configuration")?
        .leptos_options;
    let addr = config.addr.unwrap_or(leptos_options.site_addr);
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding {addr}"))?;
    let url = format!("http://{}", listener.local_addr()?);
    tracing::info!(%url, "listening");
    println!("Huddle is running: open {url} in two browser tabs and chat.");
    let database = config.database.clone();
    let state = AppState::new(config, leptos_options)
        .await
        .with_context(|| format!("opening the history database {}", database.display()))?;
    serve(listener, state, termination_signal()).await?;
    tracing::info!("stopped");
    Ok(())
}
