//! What `git push -o dry-run` says after the checks ran: the checks a ref's paths left out, the
//! deploys it would start (with how far behind their last good commit is), and the verdict.

use super::Prepared;
use crate::domain::push::{Say, say};

pub(in crate::domain::push) async fn say_plan(prepared: &[Prepared], refused: bool, to: &Say) {
    for p in prepared {
        for name in &p.not_selected {
            say(
                to,
                format!(
                    "check {name} would not run on {}: the push changes none of its paths",
                    p.update.name
                ),
            )
            .await;
        }
        for d in &p.deploys {
            let last = match &d.last_good {
                Some((sha, Some(behind))) => {
                    let s = if *behind == 1 { "" } else { "s" };
                    format!("last good {}, {behind} commit{s} behind", short(sha))
                }
                Some((sha, None)) => format!("last good {}", short(sha)),
                None => "no successful run yet".to_owned(),
            };
            say(
                to,
                format!("deploy {} would run {} ({last})", d.name, d.run),
            )
            .await;
        }
    }
    let verdict = if refused {
        "labforge: dry run: this push would be refused"
    } else {
        "labforge: dry run: this push would land"
    };
    say(to, verdict).await;
    say(to, "labforge: dry run only; nothing was changed").await;
}

fn short(sha: &str) -> &str {
    &sha[..sha.len().min(7)]
}
