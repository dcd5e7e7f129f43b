//! Tracing setup: one subscriber for the process, compact or JSON lines, filtered by the
//! configured directives or `RUST_LOG`.
//!
//! What may be logged is decided here and in `web::request_log`: never tokens, the
//! `Authorization` header, query strings, SCIM bodies or customer data.

use std::fmt::Write as _;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

use crate::config::{LogFormat, LogSettings};

/// Installs the global subscriber writing to `writer`, with colours only when `ansi`.
///
/// `RUST_LOG`, when set, replaces the configured filter. Fails if a subscriber is already
/// installed.
pub fn init<W>(settings: &LogSettings, writer: W, ansi: bool) -> anyhow::Result<()>
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    let filter = match std::env::var("RUST_LOG") {
        Ok(directives) if !directives.trim().is_empty() => EnvFilter::try_new(directives)?,
        _ => EnvFilter::try_new(&settings.filter)?,
    };

    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_ansi(ansi);
    let installed = match settings.format {
        LogFormat::Compact => builder.compact().try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
    };
    installed.map_err(|error| anyhow::anyhow!("installing the log subscriber: {error}"))
}

/// An error and its sources on one line, outermost first, for a single log field.
pub fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let _ = write!(text, ": {cause}");
        source = cause.source();
    }
    text
}
