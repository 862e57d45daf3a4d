//! The deploy loop: takes queued runs (FOR UPDATE SKIP LOCKED, one deploy never twice at once),
//! runs each in its own task, records how it ended. At start, runs a dead process left
//! `running` are marked `interrupted`; queued ones simply run.

use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::deploy_log::{LogLine, write_log};
use super::deploy_process::{self, Ending, Spec};
use super::process_identity;
use crate::domain::Forge;
use crate::domain::deploys::DeployRun;
use crate::model::Secrets;

/// Also looks for work this often, in case a wake-up was missed (another process queued).
const POLL: Duration = Duration::from_secs(2);

pub async fn recover(forge: &Forge) -> anyhow::Result<()> {
    remove_unused_folders(forge).await;
    // Before any run starts: a script the crash left running would share its deploy's
    // folder with the next run, and a re-run would overlap it.
    for run in forge.db.interrupt_running_deploys().await? {
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
    let Ok(mut entries) = tokio::fs::read_dir(&forge.deploys.work_dir).await else {
        return; // not made yet
    };
    while let Ok(Some(entry)) = entries.next_entry().await {
        let name = entry.file_name();
        if name
            .to_str()
            .is_some_and(|n| forge.deploys.is_configured(n))
        {
            continue;
        }
        if let Err(e) = tokio::fs::remove_dir_all(entry.path()).await {
            tracing::warn!(error = %e, folder = %entry.path().display(), "removing an unused deploy folder failed");
        }
    }
}

pub async fn run(forge: Arc<Forge>, stop: CancellationToken) {
    let mut running = JoinSet::new();
    loop {
        loop {
            match forge.db.claim_deploy_run().await {
                Ok(Some(run)) => {
                    let forge = Arc::clone(&forge);
                    let stop = stop.clone();
                    // A run's own id from start to finish: its log lines share it.
                    let span = tracing::info_span!(
                        "deploy",
                        run = run.id,
                        deploy = %run.deploy_name,
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
            () = forge.deploys.woken() => {}
            () = tokio::time::sleep(POLL) => {}
            Some(_) = running.join_next(), if !running.is_empty() => {}
        }
    }
    // Shutdown: running commands were told to stop; wait for them to be recorded.
    while running.join_next().await.is_some() {}
}

async fn execute(forge: Arc<Forge>, run: DeployRun, shutdown: CancellationToken) {
    let started = std::time::Instant::now();
    let stop = forge.deploys.started(run.id, &shutdown);
    forge.queue_deploy_event(run.id).await;
    let (status, code, truncated) = match prepare_and_run(&forge, &run, stop).await {
        Ok((ending, truncated)) => match ending {
            Ending::Exited(Some(0)) => ("succeeded", Some(0), truncated),
            Ending::Exited(code) => ("failed", code, truncated),
            Ending::TimedOut => ("timed_out", None, truncated),
            Ending::Stopped if shutdown.is_cancelled() => ("interrupted", None, truncated),
            Ending::Stopped => ("cancelled", None, truncated),
        },
        Err(e) => {
            tracing::warn!(error = %format!("{e:#}"), run = run.id, "deploy could not run");
            let note = format!("labforge: the deploy could not run: {e:#}");
            if let Err(e) = forge.db.append_deploy_note(run.id, &note).await {
                tracing::warn!(error = %e, run = run.id, "storing a deploy note failed");
            }
            ("failed", None, false)
        }
    };
    if let Err(e) = forge
        .db
        .finish_deploy_run(run.id, status, code, truncated)
        .await
    {
        tracing::error!(error = %e, run = run.id, "recording the end of a deploy failed");
    }
    forge.deploys.finished(run.id);
    (forge.metrics).deploy_finished(&run.deploy_name, status, started.elapsed());
    forge.queue_deploy_event(run.id).await;
    forge.deploys.wake(); // the next queued run of this deploy may go now
    tracing::info!(run = run.id, deploy = %run.deploy_name, status, "deploy ended");
}

async fn prepare_and_run(
    forge: &Arc<Forge>,
    run: &DeployRun,
    stop: CancellationToken,
) -> anyhow::Result<(Ending, bool)> {
    let repo = forge
        .repo_by_id(run.repo_id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("the repository is gone"))?;
    let config = forge
        .deploys
        .config(&repo, &run.deploy_name)
        .cloned()
        .ok_or_else(|| anyhow::anyhow!("deploy {} is no longer configured", run.deploy_name))?;
    let dir = forge.repo_dir(&repo)?;
    let folder = forge.deploys.folder(&run.deploy_name);
    let quarantine = forge.deploys.gate_objects(run.id);
    let workdir = deploy_process::prepare_folder(
        &forge.runner,
        &dir,
        &run.new_id,
        &folder,
        quarantine.as_deref(),
    )
    .await?;

    let url = forge.deploys.url(&repo, run.id);
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
    let writer = tokio::spawn(write_log(Arc::clone(forge), run.id, secrets, log_rx));
    let _ = log_tx
        .send(LogLine {
            stream: 's',
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
        let (forge, id) = (Arc::clone(forge), run.id);
        tokio::spawn(async move {
            if let Err(e) = forge.db.set_deploy_process(id, &process).await {
                tracing::warn!(error = %e, run = id, "recording a deploy's process failed");
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
            stream: 's',
            text: note,
        })
        .await;
    drop(log_tx);
    let truncated = writer.await.unwrap_or(false);
    Ok((ending?, truncated))
}
