//! The `huddle` binary: with no subcommand, the server (configuration → logs → state → serve
//! until SIGINT/SIGTERM); `huddle token …` and `huddle push …` for operators and backends.

use anyhow::Context;
use clap::Parser;
use huddle::server::cli::{self, Cli};
use huddle::server::config::Config;
use huddle::server::http::{assets, metrics_listener};
use huddle::server::{
    runtime, serve, shutdown::termination_signal, telemetry, transport::listener, AppState,
};
use leptos::prelude::get_configuration;
use tokio::net::TcpListener;

fn main() -> anyhow::Result<()> {
    let Cli { command, config } = Cli::parse();
    let runtime = runtime::build(config.worker_threads).context("starting the async runtime")?;
    match command {
        Some(command) => runtime.block_on(cli::run(command)),
        None => runtime.block_on(run_server(config)),
    }
}

async fn run_server(config: Config) -> anyhow::Result<()> {
    telemetry::init(&config).map_err(anyhow::Error::msg)?;
    let mut leptos_options = get_configuration(None)
        .context("reading the Leptos site configuration")?
        .leptos_options;
    assets::detect_hashed_files(&mut leptos_options);
    let addr = config.addr.unwrap_or(leptos_options.site_addr);
    let listener = listener::bind(addr).with_context(|| format!("binding {addr}"))?;
    let url = format!("http://{}", listener.local_addr()?);
    let metrics = match config.metrics_addr {
        Some(addr) => Some(
            TcpListener::bind(addr)
                .await
                .with_context(|| format!("binding --metrics-addr {addr}"))?,
        ),
        None => None,
    };
    let state = AppState::new(config, leptos_options).await?;
    if let Some(listener) = metrics {
        let addr = listener.local_addr()?;
        tracing::info!(%addr, "metrics at http://{addr}/metrics");
        let metrics = state.metrics.clone();
        tokio::spawn(async move {
            if let Err(err) = metrics_listener::serve(listener, metrics).await {
                tracing::error!(%err, "the metrics listener stopped");
            }
        });
    }
    tracing::info!(%url, "listening");
    println!("Huddle is running: open {url} in two browser tabs and chat.");
    serve(listener, state, termination_signal()).await?;
    tracing::info!("stopped");
    Ok(())
}
