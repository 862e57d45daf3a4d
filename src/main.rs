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
    #[command(after_help = labforge::config::settings::help_text())]
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
        /// Check a backup (manifest, checksums, git bundle verify) without restoring it. This
        /// proves integrity against accidents, not who made it: add --verify-key for that.
        #[arg(long)]
        verify: bool,
        /// Sign the backup with this OpenSSH private key (ed25519, no passphrase), so restore
        /// --verify-key can refuse backups you did not make.
        #[arg(long, value_name = "KEYFILE", conflicts_with = "verify")]
        sign: Option<PathBuf>,
        /// With --verify: also require a signature by a key in this file (OpenSSH public keys).
        #[arg(long, value_name = "KEY.pub", requires = "verify")]
        verify_key: Option<PathBuf>,
    },
    /// Restore a backup into an empty data folder (and an empty database).
    Restore {
        src: PathBuf,
        /// Refuse the backup, before anything is written, unless it is signed by a key in this
        /// file (OpenSSH public keys, one a line).
        #[arg(long, value_name = "KEY.pub")]
        verify_key: Option<PathBuf>,
    },
    /// Operator commands: users, keys, tokens, repositories, collaborators.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// For the host's OpenSSH (`AuthorizedKeysCommand`): prints the `authorized_keys` line for
    /// the key if labforge knows it and the login user is the expected one, nothing otherwise.
    /// Asks the running serve; needs no database. Flags as Gitea's: -e git -u %u -t %t -k %k.
    Keys {
        /// The login user labforge answers for (sshd's `Match User`).
        #[arg(short = 'e', long = "expected")]
        expected: String,
        /// The login user sshd asks about (%u).
        #[arg(short = 'u', long = "username")]
        user: String,
        /// The key's type (%t).
        #[arg(short = 't', long = "type")]
        kind: String,
        /// The key, base64 (%k).
        #[arg(short = 'k', long = "content")]
        key: String,
    },
    /// The forced command `keys` prints: runs SSH_ORIGINAL_COMMAND (git, or the SSH commands)
    /// through the running serve, which decides access; not for people.
    #[command(hide = true)]
    Serv {
        /// key-ID or deploy-key-ID, as `keys` wrote it.
        key: String,
    },
    /// The deploy and check scripts labforge ships, for `[[deploy]]`/`[[check]]` `run = ...`.
    #[command(subcommand)]
    Hooks(HooksCommand),
    /// Run by git inside receive-pack (the repositories' hook shims); not for people.
    #[command(hide = true)]
    Hook { name: labforge::model::HookName },
}

#[derive(Debug, Subcommand)]
enum HooksCommand {
    /// Print the folder holding them: the package's (`/usr/share/labforge/hooks`), else the data
    /// folder's `hooks/`, written out from the copies built into this binary.
    Path,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Hooks run twice per push: no runtime, no config, no logging set-up.
    if let Command::Hook { name } = &cli.command {
        return ExitCode::from(labforge::transport::hook_client::run(*name));
    }
    // sshd runs these per login and per session: no runtime, no logging set-up, and the
    // configuration file alone (their environment is the SSH client's).
    if matches!(cli.command, Command::Keys { .. } | Command::Serv { .. }) {
        return ExitCode::from(for_sshd(&cli));
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
    // Only `serve` and `restore` may create a data folder; `backup --verify` reads none.
    let creates_or_needs_none = matches!(
        cli.command,
        Command::Serve | Command::Restore { .. } | Command::Backup { verify: true, .. }
    );
    if !creates_or_needs_none {
        config.require_data_dir()?;
    }
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
            sign,
            ..
        } => labforge::ops::backup(&config, &path, sign.as_deref()).await,
        Command::Backup {
            path,
            verify: true,
            verify_key,
            ..
        } => {
            labforge::ops::verify(&config, std::path::Path::new(&path), verify_key.as_deref()).await
        }
        Command::Restore { src, verify_key } => {
            labforge::ops::restore(&config, &src, verify_key.as_deref()).await
        }
        Command::Admin(command) => {
            let file_given = cli.config.is_some()
                || std::env::var_os("LABFORGE_CONFIG").is_some_and(|v| !v.is_empty());
            labforge::admin::run(&config, file_given, command).await
        }
        Command::Hooks(HooksCommand::Path) => {
            println!(
                "{}",
                labforge::shipped_hooks::ensure(&config.data_dir)?.display()
            );
            Ok(())
        }
        Command::Hook { .. } | Command::Keys { .. } | Command::Serv { .. } => {
            unreachable!("hooks, keys and serv return before the runtime starts")
        }
    }
}

fn for_sshd(cli: &Cli) -> u8 {
    use labforge::transport::serv_client;
    let config = match Config::load_file_only(cli.config.as_deref()) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("error: labforge's configuration: {e:#}");
            return 1;
        }
    };
    match &cli.command {
        Command::Keys {
            expected,
            user,
            kind,
            key,
        } => serv_client::keys(
            &config.data_dir,
            cli.config.as_deref(),
            expected,
            user,
            kind,
            key,
        ),
        Command::Serv { key } => serv_client::serv(&config.data_dir, key),
        _ => unreachable!("only keys and serv come here"),
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
