//! Structured logs through `tracing`.

use tracing_subscriber::EnvFilter;

use crate::server::config::Config;

/// Installs the global subscriber. Message bodies are only ever logged at `trace`, so the
/// default `info` filter never prints what people write.
pub fn init(config: &Config) -> Result<(), String> {
    let filter = EnvFilter::try_new(&config.log)
        .map_err(|err| format!("invalid --log filter {:?}: {err}", config.log))?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(true);
    let result = if config.log_json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
    result.map_err(|err| err.to_string())
}
