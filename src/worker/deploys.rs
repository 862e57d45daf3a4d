//! The deploy loop: claims queued runs from the domain (`deploys::lifecycle`, one deploy never
//! twice at once), runs each in its own task and tells the domain how it ended; what is written
//! about a run is written there. At start, runs a dead process left `running` are marked
//! `interrupted`; queued ones simply run.

use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::deploy_log::{LogLine, write_log};
use super::deploy_process::{self, Ending, Spec};
use super::process_identity;
use crate::domain::deploys::{ClaimedRun, RunEnd};
use crate::domain::{Forge, SystemKey};
use crate::model::{LogStream, Secrets};

/// Also looks for work this often, in case a wake-up was missed (another process queued).
const POLL: Duration = Duration::from_secs(2);

pub async fn recover(forge: &Forge, key: &SystemKey) -> anyhow::Result<()> {
    remove_unused_folders(forge).await;
    // Before any run starts: a script the crash left running would share its deploy's
    // folder with the next run, and a re-run would overlap it.
    for run in forge.interrupt_running_deploys(key).await? {
        let ended = run
            .process
            .as_deref()
            .is_some_and(process_identity::end_group_if_alive);
        tracing::warn!(
            run = run.id,
            left_running_and_killed = ended,
            "deploy run was interrupted by a restart; it can be re-run"
        );
    }
    Ok(())
}

/// Working folders of deploys no longer configured (and older versions' `run-N` folders) go:
/// each holds a whole tree.
async fn remove_unused_folders(forge: &Forge) {
    let Ok(mut entries) = tokio::fs::read_dir(&forge.deploy_state().work_dir).await else {
        return; // not made yet
    };
    while let Ok(Some(entry)) = entries.next_entry().await {
        let name = entry.file_name();
        if name
            .to_str()
            .is_some_and(|n| forge.deploy_state().is_configured(n))
        {
            continue;
        }
        if let Err(e) = tokio::fs::remove_dir_all(entry.path()).await {
            tracing::warn!(error = %e, folder = %entry.path().display(), "removing an unused deploy folder failed");
        }
    }
}

pub async fn run(forge: Arc<Forge>, key: Arc<SystemKey>, stop: CancellationToken) {
    let mut running = JoinSet::new();
    loop {
        loop {
            match forge.claim_deploy_run(&key).await {
                Ok(Some(run)) => {
                    let forge = Arc::clone(&forge);
                    let stop = stop.clone();
                    // A run's own id from start to finish: its log lines share it.
                    let span = tracing::info_span!(
                        "deploy",
                        run = run.id(),
                        deploy = %run.run().deploy_name,
                        request_id = %crate::metrics::RequestId::new(),
                    );
                    running.spawn(async move { execute(forge, run, stop).await }.instrument(span));
                }
                Ok(None) => break,
                Err(e) => {
                    tracing::warn!(error = %e, "taking a deploy run failed");
                    break;
                }
            }
        }
        forge.note_unlanded_gates().await;
        tokio::select! {
            () = stop.cancelled() => break,
            () = forge.deploy_state().woken() => {}
            () = tokio::time::sleep(POLL) => {}
            Some(_) = running.join_next(), if !running.is_empty() => {}
        }
    }
    // Shutdown: running commands were told to stop; wait for them to be recorded.
    while running.join_next().await.is_some() {}
}

async fn execute(forge: Arc<Forge>, run: ClaimedRun, shutdown: CancellationToken) {
    let started = std::time::Instant::now();
    let stop = forge.start_deploy_run(&run, &shutdown).await;
    let (end, truncated) = match prepare_and_run(&forge, &run, stop).await {
        Ok((ending, truncated)) => match ending {
            Ending::Exited(code) => (RunEnd::Exited(code), truncated),
            Ending::TimedOut => (RunEnd::TimedOut, truncated),
            Ending::Stopped if shutdown.is_cancelled() => (RunEnd::Interrupted, truncated),
            Ending::Stopped => (RunEnd::Cancelled, truncated),
        },
        Err(e) => {
            tracing::warn!(error = %format!("{e:#}"), run = run.id(), "deploy could not run");
            (RunEnd::CouldNotRun(format!("{e:#}")), false)
        }
    };
    let status = forge.finish_deploy_run(&run, end, truncated).await;
    let deploy = &run.run().deploy_name;
    (forge.metrics()).deploy_finished(deploy, status.as_str(), started.elapsed());
    tracing::info!(run = run.id(), deploy = %deploy, %status, "deploy ended");
}

async fn prepare_and_run(
    forge: &Arc<Forge>,
    claimed: &ClaimedRun,
    stop: CancellationToken,
) -> anyhow::Result<(Ending, bool)> {
    let (repo, run) = (claimed.grant().repo(), claimed.run());
    let config = forge
        .claimed_deploy_config(claimed)
        .ok_or_else(|| anyhow::anyhow!("deploy {} is no longer configured", run.deploy_name))?;
    let dir = forge.repo_dir(repo)?;
    let folder = forge.deploy_state().folder(&run.deploy_name);
    let quarantine = forge.deploy_state().gate_objects(run.id);
    let workdir = deploy_process::prepare_folder(
        forge.git_runner(),
        &dir,
        &run.new_id,
        &folder,
        quarantine.as_deref(),
    )
    .await?;

    let url = forge.claimed_deploy_url(claimed);
    let mut env = vec![
        ("LABFORGE_REPO".to_owned(), repo.full_name()),
        ("LABFORGE_REF".to_owned(), run.ref_name.clone()),
        ("LABFORGE_OLD".to_owned(), run.old_id.clone()),
        ("LABFORGE_NEW".to_owned(), run.new_id.clone()),
        ("LABFORGE_PUSHER".to_owned(), run.triggered_by_name.clone()),
        ("LABFORGE_DEPLOY_ID".to_owned(), run.id.to_string()),
        ("LABFORGE_DEPLOY_URL".to_owned(), url.clone()),
    ];
    env.extend(config.env.iter().cloned());
    let event = serde_json::json!({
        "deploy": {"id": run.id, "name": run.deploy_name, "url": url, "reason": run.reason},
        "repository": {"full_name": repo.full_name(), "default_branch": repo.default_branch},
        "ref": run.ref_name, "before": run.old_id, "after": run.new_id,
        "pusher": {"login": run.triggered_by_name},
    });
    let secrets = Secrets::new(config.secrets.iter().cloned());
    let (log_tx, log_rx) = tokio::sync::mpsc::channel::<LogLine>(1024);
    let writer = tokio::spawn(write_log(
        Arc::clone(forge),
        claimed.clone(),
        secrets,
        log_rx,
    ));
    let _ = log_tx
        .send(LogLine {
            stream: LogStream::Note,
            text: format!(
                "labforge: running {} for {} at {}",
                run.deploy_name,
                run.ref_name,
                &run.new_id[..12.min(run.new_id.len())]
            ),
        })
        .await;
    let spec = Spec {
        program: config.run.clone(),
        args: config.args.clone(),
        workdir: workdir.clone(),
        env,
        stdin: serde_json::to_vec(&event)?,
        timeout: config.timeout,
        memory: None,
        jail: None,
        cgroup: None,
    };
    let record_process = |pid: u32| {
        let Some(process) = process_identity::identify(pid) else {
            return;
        };
        let (forge, claimed) = (Arc::clone(forge), claimed.clone());
        tokio::spawn(async move {
            if let Err(e) = forge.record_deploy_process(&claimed, &process).await {
                tracing::warn!(error = %e, run = claimed.id(), "recording a deploy's process failed");
            }
        });
    };
    let ending = deploy_process::run(spec, log_tx.clone(), stop, record_process).await;
    let note = match &ending {
        Ok(Ending::Exited(Some(c))) => format!("labforge: exited with code {c}"),
        Ok(Ending::Exited(None)) => "labforge: ended by a signal".to_owned(),
        Ok(Ending::TimedOut) => format!(
            "labforge: stopped after the timeout ({}s)",
            config.timeout.as_secs()
        ),
        Ok(Ending::Stopped) => "labforge: stopped".to_owned(),
        Err(e) => format!("labforge: {e:#}"),
    };
    let _ = log_tx
        .send(LogLine {
            stream: LogStream::Note,
            text: note,
        })
        .await;
    drop(log_tx);
    let truncated = writer.await.unwrap_or(false);
    Ok((ending?, truncated))
}
