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
    /// Run the forge: the web UI, git over HTTP and its own SSH server, deploys and webhooks
    /// (and its own PostgreSQL unless DATABASE_URL is set).
    #[command(after_help = SERVE_ENVIRONMENT)]
    Serve,
    /// Run database migrations and exit.
    Migrate {
        /// List applied and pending migrations instead; apply none.
        #[arg(long)]
        status: bool,
    },
    /// Write a backup to DEST (.tar, .tar.zst, or - for standard output), online while serve
    /// runs; with --verify, check the backup SRC instead.
    Backup {
        /// DEST, or with --verify the backup to check.
        path: String,
        /// Check a backup (manifest, checksums, git bundle verify) without restoring it.
        #[arg(long)]
        verify: bool,
    },
    /// Restore a backup into an empty data folder (and an empty database).
    Restore { src: PathBuf },
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

/// `serve --help`'s list of settings (each also a key in the config file; see the README).
const SERVE_ENVIRONMENT: &str = "\
Environment (each also a key in the --config file, without the LABFORGE_ prefix):
  LABFORGE_CONFIG                    the config file (as --config)
  LABFORGE_DATA_DIR                  data folder [./data]: repositories, managed PostgreSQL
  LABFORGE_HTTP_ADDR                 HTTP listen address [0.0.0.0:3000]
  LABFORGE_SSH_ADDR                  SSH server listen address [0.0.0.0:2222]
  LABFORGE_SSH_PUBLIC                host:port for SSH clone URLs [base URL's host + SSH port]
  LABFORGE_SSH_MAX_CONNECTIONS       open SSH connections [512]
  LABFORGE_SSH_MAX_UNAUTHENTICATED   SSH connections still authenticating [128]
  LABFORGE_SSH_AUTH_TIMEOUT_SECS     time to authenticate over SSH [30]
  LABFORGE_SSH_IDLE_TIMEOUT_SECS     idle SSH connections close after [600]
  LABFORGE_BASE_URL                  public URL for links and clone URLs [from the HTTP address]
  DATABASE_URL                       an external PostgreSQL [unset: the managed one]
  LABFORGE_PUSH_TO_CREATE            pushing to a missing OWNER/NAME creates it, private [true]
  LABFORGE_MAX_UPLOAD_PACKS          concurrent clones and fetches [2 x cores]
  LABFORGE_GIT_TIMEOUT_SECS          upper bound on one git process [3600]
  LABFORGE_UPKEEP_DELAY_SECS         quiet time after a push before repacking [60]
  LABFORGE_SHUTDOWN_GRACE_SECS       how long a stop waits for running pushes [30]
  LABFORGE_WEBHOOK_ALLOWED_HOSTS     where webhooks may go [private,external]
  LABFORGE_WEBHOOK_RETRY_BASE_SECS   first webhook retry's delay [30]
  LABFORGE_WEBHOOK_TIMEOUT_SECS      upper bound on one webhook delivery [10]
  LABFORGE_PROGRAM                   the labforge the hook shims run [this executable]
  LABFORGE_LOG_FORMAT                text or json [text; colour only on a terminal]
  RUST_LOG                           log filter [info]";

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Hooks run twice per push: no runtime, no config, no logging set-up.
    if let Command::Hook { name } = &cli.command {
        return ExitCode::from(labforge::transport::hook_client::run(name));
    }
    labforge::memory::limit_malloc_arenas();
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
        Command::Migrate { status: false } => Services::open(&config).await?.close(false).await,
        Command::Migrate { status: true } => labforge::ops::migrate_status(&config).await,
        Command::Backup {
            path,
            verify: false,
        } => labforge::ops::backup(&config, &path).await,
        Command::Backup { path, verify: true } => {
            labforge::ops::verify(&config, std::path::Path::new(&path)).await
        }
        Command::Restore { src } => labforge::ops::restore(&config, &src).await,
        Command::Admin(command) => labforge::admin::run(&config, command).await,
        Command::Hook { .. } => unreachable!("hooks return before the runtime starts"),
    }
}

/// Serve logs at info; the admin commands keep quiet unless RUST_LOG asks, so their stdout
/// and stderr stay clean for scripts. Colour only on a terminal (a journal or a file gets plain
/// text); `LABFORGE_LOG_FORMAT=json` gives one JSON object a line for log shippers.
fn init_logging(serving: bool) {
    use std::io::IsTerminal;
    let default = if serving { "info,sqlx=warn" } else { "warn" };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match std::env::var("LABFORGE_LOG_FORMAT").as_deref() {
        Ok("json") => builder.json().init(),
        Ok("") | Ok("text") | Err(_) => builder.with_ansi(std::io::stderr().is_terminal()).init(),
        Ok(other) => {
            builder.with_ansi(false).init();
            tracing::warn!(
                format = other,
                "LABFORGE_LOG_FORMAT is text or json; using text"
            );
        }
    }
}
