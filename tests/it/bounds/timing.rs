//! Item 10: for a signed-in outsider, an existing private repository and a missing one cost the
//! same work, so the time of the answer does not tell whether it exists.

use std::time::{Duration, Instant};

use labforge::model::{Actor, RepoPath};

use super::*;

#[tokio::test(flavor = "multi_thread")]
async fn a_private_repository_and_a_missing_one_take_as_long() {
    let app = TestApp::spawn().await;
    app.create_user("alice", PW).await;
    app.create_user("mallory", PW).await;
    app.create_repo("alice", "secret", true).await;
    let mallory: Actor = app
        .forge
        .authenticate_basic(
            "mallory",
            PW,
            labforge::model::Client::new(None, labforge::model::Transport::Api),
        )
        .await
        .unwrap();
    let private = RepoPath::parse("alice/secret").unwrap();
    let missing = RepoPath::parse("alice/nothing").unwrap();
    // A statistical comparison on a machine shared with other tests: a round can be disturbed,
    // a real difference (one query more was twice the time) shows in every round.
    let mut rounds = Vec::new();
    for _ in 0..3 {
        let (private, missing) = first_quartiles(&app, &mallory, &private, &missing).await;
        let (slower, faster) = (private.max(missing), private.min(missing));
        if slower < faster.mul_f64(1.3) + Duration::from_micros(30) {
            return;
        }
        rounds.push((private, missing));
    }
    panic!("first quartiles differ in every round (private, missing): {rounds:?}");
}

/// 600 answers, interleaved so that load on the machine falls on both alike; the first
/// quartile of each.
async fn first_quartiles(
    app: &TestApp,
    mallory: &Actor,
    private: &RepoPath,
    missing: &RepoPath,
) -> (Duration, Duration) {
    let mut times: [Vec<Duration>; 2] = [Vec::new(), Vec::new()];
    for i in 0..600 {
        let path = if i % 2 == 0 { private } else { missing };
        let started = Instant::now();
        let answer = app
            .forge
            .authorize::<labforge::domain::Read>(Some(mallory), path)
            .await;
        times[i % 2].push(started.elapsed());
        assert!(matches!(answer, Err(labforge::domain::Error::NotFound)));
    }
    for t in &mut times {
        t.sort();
    }
    (times[0][150], times[1][150])
}
