//! Closed sets read from PostgreSQL (issue 22, item 4): every word of each set comes back as
//! its member, from `text` and from the log tables' `CHAR(1)`, and a word no member has is a
//! decode error naming the set (the queries read these columns straight into the enums).

use labforge::model::{
    CheckOutcome, DeployReason, DeployStatus, IssueStatus, LogStream, OrgVisibility, RepoAccess,
    TimelineKind, TokenScope,
};
use sqlx::{Connection, PgConnection};

use crate::helpers::fresh_database;

async fn connect() -> PgConnection {
    PgConnection::connect_with(&fresh_database().await)
        .await
        .expect("the test cluster accepts connections")
}

/// A word as `text`, and as the log tables' `CHAR(1)`.
const TEXT: &str = "SELECT $1::text";
const CHAR1: &str = "SELECT $1::char(1)";

/// `word` selected by `query` (`TEXT` or `CHAR1`), read back as `T`.
async fn read_as<T>(
    conn: &mut PgConnection,
    word: &str,
    query: &'static str,
) -> Result<T, sqlx::Error>
where
    T: for<'r> sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres> + Send + Unpin,
{
    sqlx::query_scalar::<_, T>(query)
        .bind(word)
        .fetch_one(conn)
        .await
}

async fn round_trips<T>(conn: &mut PgConnection, members: &[T], word: fn(&T) -> &'static str)
where
    T: for<'r> sqlx::Decode<'r, sqlx::Postgres>
        + sqlx::Type<sqlx::Postgres>
        + Send
        + Unpin
        + PartialEq
        + std::fmt::Debug,
{
    for member in members {
        let back: T = read_as(conn, word(member), TEXT).await.unwrap();
        assert_eq!(&back, member);
    }
}

#[tokio::test]
async fn every_word_reads_back_as_its_member() {
    let mut conn = connect().await;
    round_trips(&mut conn, DeployStatus::ALL, |s| s.as_str()).await;
    round_trips(&mut conn, DeployReason::ALL, |s| s.as_str()).await;
    round_trips(&mut conn, CheckOutcome::ALL, |s| s.as_str()).await;
    round_trips(&mut conn, LogStream::ALL, |s| s.as_str()).await;
    round_trips(&mut conn, IssueStatus::ALL, |s| s.as_str()).await;
    round_trips(&mut conn, TimelineKind::ALL, |s| s.as_str()).await;
    round_trips(&mut conn, OrgVisibility::ALL, |s| s.as_str()).await;
    let levels = [RepoAccess::Read, RepoAccess::Write, RepoAccess::Admin];
    round_trips(&mut conn, &levels, |a| a.as_str()).await;
    round_trips(&mut conn, &[TokenScope::Read, TokenScope::Write], |s| {
        s.as_str()
    })
    .await;
    // The log tables keep the stream as CHAR(1).
    for &stream in LogStream::ALL {
        let back: LogStream = read_as(&mut conn, stream.as_str(), CHAR1).await.unwrap();
        assert_eq!(back, stream);
    }
}

#[tokio::test]
async fn an_unknown_word_is_an_error_not_a_default() {
    let mut conn = connect().await;
    let refused = read_as::<DeployStatus>(&mut conn, "finished", TEXT)
        .await
        .unwrap_err();
    assert!(
        matches!(refused, sqlx::Error::ColumnDecode { .. }),
        "{refused:?}"
    );
    assert!(
        refused
            .to_string()
            .contains("unknown deploy status 'finished'"),
        "{refused}"
    );
    // `none` is a level nobody can be granted: a collaborator row saying so is refused too.
    let refused = read_as::<RepoAccess>(&mut conn, "none", TEXT)
        .await
        .unwrap_err();
    assert!(refused.to_string().contains("'none'"), "{refused}");
    let refused = read_as::<LogStream>(&mut conn, "x", CHAR1)
        .await
        .unwrap_err();
    assert!(
        refused.to_string().contains("unknown log stream 'x'"),
        "{refused}"
    );
    let refused = read_as::<IssueStatus>(&mut conn, "Open", TEXT)
        .await
        .unwrap_err();
    assert!(
        refused.to_string().contains("unknown issue state"),
        "{refused}"
    );
}
