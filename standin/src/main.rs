//! `shopify-standin`: the Shopify stand-in as a program, for demos and manual testing.

use std::net::SocketAddr;
use std::process::ExitCode;

use clap::Parser;
use shopify_standin::{Plan, StandIn, StandInConfig};
use url::Url;

/// A local stand-in for the parts of Shopify that shopify-scim talks to.
#[derive(Debug, Parser)]
#[command(name = "shopify-standin", version, about)]
struct Args {
    /// Address to bind.
    #[arg(long, default_value = "127.0.0.1:8081")]
    listen: SocketAddr,
    /// The app's client id.
    #[arg(
        long,
        env = "SHOPIFY_STANDIN_API_KEY",
        default_value = "standin-api-key"
    )]
    api_key: String,
    /// The app's client secret.
    #[arg(
        long,
        env = "SHOPIFY_STANDIN_API_SECRET",
        default_value = "standin-api-secret",
        hide_env_values = true
    )]
    api_secret: String,
    /// The app's base URL; webhooks go to its `/webhooks/app`, `/webhooks/customers` and
    /// `/webhooks/compliance`.
    #[arg(long)]
    app_url: Option<Url>,
    /// Shops to create at start, as `handle` or `handle:plan` (plans: standard, advanced,
    /// plus, enterprise).
    #[arg(long = "shop", default_value = "demo")]
    shops: Vec<String>,
    /// Lifetime of expiring offline access tokens, in seconds.
    #[arg(long, default_value_t = 3600)]
    access_token_lifetime_secs: u64,
}

fn config(args: Args) -> Result<StandInConfig, String> {
    let mut config = StandInConfig::new(args.api_key, args.api_secret);
    config.listen = args.listen;
    config.access_token_lifetime = std::time::Duration::from_secs(args.access_token_lifetime_secs);
    if let Some(app_url) = args.app_url {
        config = config.with_app_url(app_url);
    }
    for shop in args.shops {
        let (name, plan) = match shop.split_once(':') {
            Some((name, plan)) => (
                name.to_owned(),
                plan.parse::<Plan>().map_err(|e| e.to_string())?,
            ),
            None => (shop, Plan::Standard),
        };
        config = config.with_shop(name, plan);
    }
    Ok(config)
}

#[tokio::main]
async fn main() -> ExitCode {
    use std::io::IsTerminal as _;

    tracing_subscriber::fmt()
        .with_ansi(std::io::stdout().is_terminal())
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();

    let config = match config(Args::parse()) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::FAILURE;
        }
    };
    let standin = match StandIn::start(config).await {
        Ok(standin) => standin,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::FAILURE;
        }
    };

    println!("Shopify stand-in: {}", standin.url());
    println!("  Admin base URL: {}", standin.admin_base_url_template());
    println!("  Inspect:        curl {}_standin/shops", standin.url());
    let _ = tokio::signal::ctrl_c().await;
    standin.stop().await;
    ExitCode::SUCCESS
}
