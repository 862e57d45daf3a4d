use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use labforge::admin::AdminCommand;
use labforge::app::{App, Services, shutdown_signal};
use labforge::config::Config;

/// labforge: a lightweight self-hosted git forge.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    /// Configuration file (TOML); also LABFORGE_CONFIG.
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the forge: HTTP (and its own PostgreSQL unless DATABASE_URL is set).
    Serve,
    /// Run database migrations and exit.
    Migrate,
    /// Operator commands: users, keys, tokens, repositories, collaborators.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Run by git inside receive-pack (the repositories' hook shims); not for people.
    #[command(hide = true)]
    Hook {
        #[arg(value_parser = ["pre-receive", "post-receive"])]
        name: String,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Hooks run twice per push: no runtime, no config, no logging set-up.
    if let Command::Hook { name } = &cli.command {
        return ExitCode::from(labforge::transport::hook_client::run(name));
    }
    init_logging(matches!(cli.command, Command::Serve));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime can be built on any supported OS");
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let config = Config::load(cli.config.as_deref())?;
    match cli.command {
        Command::Serve => {
            App::build(config)
                .await?
                .run_until_stopped(shutdown_signal())
                .await
        }
        Command::Migrate => Services::open(&config).await?.close(false).await,
        Command::Admin(command) => labforge::admin::run(&config, command).await,
        Command::Hook { .. } => unreachable!("hooks return before the runtime starts"),
    }
}

/// Serve logs at info; the admin commands keep quiet unless RUST_LOG asks, so their stdout
/// and stderr stay clean for scripts.
fn init_logging(serving: bool) {
    let default = if serving { "info,sqlx=warn" } else { "warn" };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    // Colours only on a terminal: a log file (and fail2ban reading it) wants plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi)
        .init();
}
