//! Entry point: parse the command line and run the chosen command.

use std::process::ExitCode;

use clap::Parser as _;
use shopify_scim::cli::Cli;
use shopify_scim::telemetry::error_chain;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();

    match cli.run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {}", error_chain(error.as_ref()));
            ExitCode::FAILURE
        }
    }
}
