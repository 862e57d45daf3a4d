//! Gitea's contents writes: `POST|PUT|DELETE /repos/{owner}/{repo}/contents/{filepath}` (create,
//! update with `sha`, delete with `sha`) and `POST /repos/{owner}/{repo}/contents` (several files
//! in one commit), with Gitea's option bodies and its FileResponse / FilesResponse /
//! FileDeleteResponse answers. Each is a commit pushed by the caller (`Forge::commit_as_push`):
//! a failing check or a protected branch refuses it (403, the hooks' words in the message).
//! Refusals answer as Gitea's `handleChangeRepoFilesError` does: a stale `sha` is 422
//! `sha does not match [given: X, expected: Y]`, a missing file or branch 404, a file or branch
//! that already exists 422. A lost race on the branch (two edits with the same `sha`) is 409.

use axum::Json;
use axum::extract::{DefaultBodyLimit, FromRef, Path, State};
use axum::handler::Handler;
use axum::http::StatusCode;
use base64::Engine;
use serde::{Deserialize, Serialize};

use super::access::ApiRepo;
use super::body::JsonBody;
use super::{ApiError, ApiState};
use crate::domain::edits::{
    EditError, EditRequest, ExpectedTip, FileChange, MAX_EDIT_TOTAL_BYTES, PushOutcome,
};
use crate::domain::{Grant, Write, rfc3339};
use crate::model::{BranchName, CommitIdentity, EditPath, Repo};
use crate::routes::{Need, Routes};

/// The largest request body: every file's contents base64-encoded (4/3), and room for the rest.
const MAX_BODY: usize = MAX_EDIT_TOTAL_BYTES / 3 * 4 + (1 << 20);

pub fn router<S>() -> Routes<S>
where
    S: Clone + Send + Sync + 'static,
    ApiState: FromRef<S>,
{
    let limit = || DefaultBodyLimit::max(MAX_BODY);
    // The wildcard's name is Gitea's and the reads' (`git/files.rs`): one path with two
    // names is a router conflict that fails every start.
    let file = "/repos/{owner}/{repo}/contents/{*filepath}";
    Routes::new()
        .post(
            "/repos/{owner}/{repo}/contents",
            Need::WRITE,
            change_files.layer(limit()),
        )
        .post(file, Need::WRITE, create_file.layer(limit()))
        .put(file, Need::WRITE, update_file.layer(limit()))
        .delete(file, Need::WRITE, delete_file.layer(limit()))
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Identity {
    name: String,
    email: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct CommitDates {
    author: Option<String>,
    committer: Option<String>,
}

/// Gitea's FileOptions, shared by every body.
#[derive(Deserialize, Default)]
#[serde(default)]
struct FileOptions {
    message: String,
    branch: String,
    new_branch: String,
    author: Option<Identity>,
    committer: Option<Identity>,
    dates: Option<CommitDates>,
    signoff: bool,
    force_push: bool,
}

#[derive(Deserialize)]
struct CreateFileOptions {
    #[serde(flatten)]
    opts: FileOptions,
    content: String,
}

#[derive(Deserialize)]
struct UpdateFileOptions {
    #[serde(flatten)]
    opts: FileOptions,
    content: String,
    sha: String,
    #[serde(default)]
    from_path: String,
}

#[derive(Deserialize)]
struct DeleteFileOptions {
    #[serde(flatten)]
    opts: FileOptions,
    sha: String,
}

#[derive(Deserialize)]
struct ChangeFileOperation {
    operation: String,
    path: String,
    #[serde(default)]
    content: String,
    #[serde(default)]
    sha: String,
    #[serde(default)]
    from_path: String,
}

#[derive(Deserialize)]
struct ChangeFilesOptions {
    #[serde(flatten)]
    opts: FileOptions,
    files: Vec<ChangeFileOperation>,
}

#[derive(Deserialize)]
struct FilePath {
    filepath: String,
}

fn invalid(e: impl std::fmt::Display) -> ApiError {
    ApiError::Invalid(e.to_string())
}

/// Gitea decodes with Go's standard base64, which skips line breaks.
fn decode(content: &str) -> Result<Vec<u8>, ApiError> {
    let clean: String = content
        .chars()
        .filter(|c| !matches!(c, '\r' | '\n'))
        .collect();
    base64::engine::general_purpose::STANDARD
        .decode(clean)
        .map_err(invalid)
}

fn path(s: &str) -> Result<EditPath, ApiError> {
    EditPath::parse(s).map_err(invalid)
}

fn identity(id: Option<Identity>) -> Result<Option<CommitIdentity>, ApiError> {
    match id {
        Some(id) if !(id.name.is_empty() && id.email.is_empty()) => {
            CommitIdentity::parse(&id.name, &id.email)
                .map(Some)
                .map_err(invalid)
        }
        _ => Ok(None),
    }
}

fn date(s: Option<&str>) -> Result<Option<time::OffsetDateTime>, ApiError> {
    s.filter(|s| !s.is_empty())
        .map(|s| {
            time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
                .map_err(|e| invalid(format!("dates: {s}: {e}")))
        })
        .transpose()
}

/// The request shared by every route, from Gitea's FileOptions.
fn request(
    repo: &Repo,
    opts: FileOptions,
    changes: Vec<FileChange>,
) -> Result<EditRequest, ApiError> {
    if opts.force_push {
        return Err(invalid(
            "force_push is not supported: an edit never rewrites a branch",
        ));
    }
    let branch = if opts.branch.is_empty() {
        &repo.default_branch
    } else {
        &opts.branch
    };
    let branch = BranchName::parse(branch).map_err(invalid)?;
    let new_branch = match opts.new_branch.as_str() {
        "" => None,
        name => Some(BranchName::parse(name).map_err(invalid)?).filter(|b| *b != branch),
    };
    let dates = opts.dates.unwrap_or_default();
    Ok(EditRequest {
        branch,
        new_branch,
        base: ExpectedTip::Current,
        changes,
        message: opts.message,
        author: identity(opts.author)?,
        committer: identity(opts.committer)?,
        author_date: date(dates.author.as_deref())?,
        committer_date: date(dates.committer.as_deref())?,
        signoff: opts.signoff,
    })
}

fn sha(s: String) -> Option<String> {
    Some(s).filter(|s| !s.is_empty())
}

/// Gitea's status for each refusal (see the module).
fn answer(e: EditError) -> ApiError {
    let text = e.to_string();
    match e {
        EditError::ShaMismatch { .. }
        | EditError::ShaRequired
        | EditError::FileExists(_)
        | EditError::BranchExists(_)
        | EditError::PathInvalid(_)
        | EditError::TooLarge(_) => ApiError::Invalid(text),
        EditError::FileMissing(_) | EditError::BranchMissing(_) => ApiError::Missing(text),
        EditError::Refused { .. } => ApiError::Forbidden(text),
        EditError::Conflict { .. } => ApiError::Conflict(text),
        EditError::Forge(e) => e.into(),
    }
}

async fn edit(
    st: &ApiState,
    grant: &Grant<Write>,
    req: EditRequest,
) -> Result<PushOutcome, ApiError> {
    st.forge.commit_as_push(grant, req).await.map_err(answer)
}

async fn create_file(
    State(st): State<ApiState>,
    Path(FilePath { filepath }): Path<FilePath>,
    ApiRepo { grant }: ApiRepo<Write>,
    JsonBody(body): JsonBody<CreateFileOptions>,
) -> Result<(StatusCode, Json<FileResponse>), ApiError> {
    let change = FileChange::Create {
        path: path(&filepath)?,
        content: decode(&body.content)?,
    };
    let req = request(grant.repo(), body.opts, vec![change])?;
    let done = edit(&st, &grant, req).await?;
    Ok((
        StatusCode::CREATED,
        Json(FileResponse::single(
            &st.config.base_url,
            grant.repo(),
            &done,
        )),
    ))
}

async fn update_file(
    State(st): State<ApiState>,
    Path(FilePath { filepath }): Path<FilePath>,
    ApiRepo { grant }: ApiRepo<Write>,
    JsonBody(body): JsonBody<UpdateFileOptions>,
) -> Result<Json<FileResponse>, ApiError> {
    let from = match body.from_path.as_str() {
        "" => None,
        from => Some(path(from)?),
    };
    let change = FileChange::Update {
        path: path(&filepath)?,
        from,
        sha: sha(body.sha),
        content: decode(&body.content)?,
    };
    let req = request(grant.repo(), body.opts, vec![change])?;
    let done = edit(&st, &grant, req).await?;
    Ok(Json(FileResponse::single(
        &st.config.base_url,
        grant.repo(),
        &done,
    )))
}

async fn delete_file(
    State(st): State<ApiState>,
    Path(FilePath { filepath }): Path<FilePath>,
    ApiRepo { grant }: ApiRepo<Write>,
    JsonBody(body): JsonBody<DeleteFileOptions>,
) -> Result<Json<FileResponse>, ApiError> {
    let change = FileChange::Delete {
        path: path(&filepath)?,
        sha: sha(body.sha),
    };
    let req = request(grant.repo(), body.opts, vec![change])?;
    let done = edit(&st, &grant, req).await?;
    let mut res = FileResponse::single(&st.config.base_url, grant.repo(), &done);
    res.content = None;
    Ok(Json(res))
}

/// One operation of ChangeFilesOptions as a change: Gitea's `create`, `update`, `delete`, and
/// `upload` (an update when a `sha` is given, else a create) and `rename` (an update from
/// `from_path`).
fn operation(op: ChangeFileOperation) -> Result<FileChange, ApiError> {
    let target = path(&op.path)?;
    let from = match op.from_path.as_str() {
        "" => None,
        from => Some(path(from)?),
    };
    Ok(match op.operation.as_str() {
        "create" => FileChange::Create {
            path: target,
            content: decode(&op.content)?,
        },
        "upload" if op.sha.is_empty() => FileChange::Create {
            path: target,
            content: decode(&op.content)?,
        },
        "update" | "upload" | "rename" => FileChange::Update {
            path: target,
            from,
            sha: sha(op.sha),
            content: decode(&op.content)?,
        },
        "delete" => FileChange::Delete {
            path: target,
            sha: sha(op.sha),
        },
        other => {
            return Err(invalid(format!(
                "invalid file operation: {other} {}, supported operations are create, update, delete",
                op.path
            )));
        }
    })
}

async fn change_files(
    State(st): State<ApiState>,
    ApiRepo { grant }: ApiRepo<Write>,
    JsonBody(body): JsonBody<ChangeFilesOptions>,
) -> Result<(StatusCode, Json<FilesResponse>), ApiError> {
    if body.files.len() > crate::domain::edits::MAX_EDIT_FILES {
        return Err(invalid(format!(
            "an edit may change at most {} files",
            crate::domain::edits::MAX_EDIT_FILES
        )));
    }
    let changes = body
        .files
        .into_iter()
        .map(operation)
        .collect::<Result<Vec<_>, _>>()?;
    let req = request(grant.repo(), body.opts, changes)?;
    let done = edit(&st, &grant, req).await?;
    Ok((
        StatusCode::CREATED,
        Json(FilesResponse::new(&st.config.base_url, grant.repo(), &done)),
    ))
}

// ---- Gitea's answers --------------------------------------------------------------------

#[derive(Serialize)]
struct FileLinks {
    #[serde(rename = "self")]
    this: String,
    git: String,
    html: String,
}

/// Gitea's ContentsResponse for a file the edit wrote (1.22's fields, as the reads answer: the
/// `last_*_date` fields came later).
#[derive(Serialize)]
struct ContentsResponse {
    name: String,
    path: String,
    sha: String,
    last_commit_sha: String,
    #[serde(rename = "type")]
    kind: &'static str,
    size: usize,
    encoding: Option<&'static str>,
    content: Option<String>,
    target: Option<String>,
    url: String,
    html_url: String,
    git_url: String,
    download_url: String,
    submodule_git_url: Option<String>,
    _links: FileLinks,
}

#[derive(Serialize)]
struct CommitUser {
    name: String,
    email: String,
    date: String,
}

#[derive(Serialize)]
struct CommitMeta {
    url: String,
    sha: String,
    created: String,
}

#[derive(Serialize)]
struct FileCommitResponse {
    url: String,
    sha: String,
    created: String,
    html_url: String,
    author: CommitUser,
    committer: CommitUser,
    parents: Vec<CommitMeta>,
    message: String,
    tree: CommitMeta,
}

/// Gitea's PayloadCommitVerification: labforge does not sign the commits it makes.
#[derive(Serialize)]
struct Verification {
    verified: bool,
    reason: &'static str,
    signature: &'static str,
    signer: Option<()>,
    payload: &'static str,
}

const UNSIGNED: Verification = Verification {
    verified: false,
    reason: "gpg.error.not_signed_commit",
    signature: "",
    signer: None,
    payload: "",
};

/// Gitea's FileResponse (and, with `content` null, FileDeleteResponse).
#[derive(Serialize)]
struct FileResponse {
    content: Option<ContentsResponse>,
    commit: FileCommitResponse,
    verification: Verification,
}

#[derive(Serialize)]
struct FilesResponse {
    files: Vec<Option<ContentsResponse>>,
    commit: FileCommitResponse,
    verification: Verification,
}

/// `s` as a query value: anything but letters, digits and `-._~/` percent-encoded.
fn query_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Go's zero time, which Gitea shows for the parents' and tree's `created`.
const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

fn commit_json(base: &str, repo: &Repo, done: &PushOutcome) -> FileCommitResponse {
    let api = format!("{base}/api/v1/repos/{}", repo.full_name());
    let user = |p: &crate::domain::edits::Person| CommitUser {
        name: p.name.clone(),
        email: p.email.clone(),
        date: rfc3339(p.date),
    };
    FileCommitResponse {
        url: format!("{api}/git/commits/{}", done.commit),
        sha: done.commit.clone(),
        created: rfc3339(done.committer.date),
        html_url: format!("{base}/{}/commit/{}", repo.full_name(), done.commit),
        author: user(&done.author),
        committer: user(&done.committer),
        parents: done
            .parent
            .iter()
            .map(|p| CommitMeta {
                url: format!("{api}/git/commits/{p}"),
                sha: p.clone(),
                created: ZERO_TIME.into(),
            })
            .collect(),
        message: done.message.clone(),
        tree: CommitMeta {
            url: format!("{api}/git/trees/{}", done.tree),
            sha: done.tree.clone(),
            created: ZERO_TIME.into(),
        },
    }
}

/// The ContentsResponse of `path` in the edit's commit, if the edit wrote it (else null, as
/// Gitea answers for a deleted file).
fn contents_json(
    base: &str,
    repo: &Repo,
    done: &PushOutcome,
    path: &EditPath,
) -> Option<ContentsResponse> {
    let file = done.written.iter().find(|w| w.path == *path)?;
    let name = repo.full_name();
    let branch = done.branch.as_str();
    let url = format!(
        "{base}/api/v1/repos/{name}/contents/{path}?ref={}",
        query_encode(branch)
    );
    let git_url = format!("{base}/api/v1/repos/{name}/git/blobs/{}", file.blob);
    let html_url = format!("{base}/{name}/blob/{branch}/{path}");
    Some(ContentsResponse {
        name: path.file_name().to_owned(),
        path: path.to_string(),
        sha: file.blob.clone(),
        last_commit_sha: done.commit.clone(),
        kind: "file",
        size: file.content.len(),
        encoding: Some("base64"),
        content: Some(base64::engine::general_purpose::STANDARD.encode(&file.content)),
        target: None,
        download_url: format!("{base}/{name}/raw/{branch}/{path}"),
        submodule_git_url: None,
        _links: FileLinks {
            this: url.clone(),
            git: git_url.clone(),
            html: html_url.clone(),
        },
        url,
        html_url,
        git_url,
    })
}

impl FileResponse {
    /// The answer for a one-file route: its file (the first the edit named).
    fn single(base: &str, repo: &Repo, done: &PushOutcome) -> Self {
        let first = done
            .written
            .first()
            .map(|w| w.path.clone())
            .or_else(|| done.removed.first().cloned());
        FileResponse {
            content: first.and_then(|p| contents_json(base, repo, done, &p)),
            commit: commit_json(base, repo, done),
            verification: UNSIGNED,
        }
    }
}

impl FilesResponse {
    fn new(base: &str, repo: &Repo, done: &PushOutcome) -> Self {
        FilesResponse {
            files: done
                .named
                .iter()
                .map(|p| contents_json(base, repo, done, p))
                .collect(),
            commit: commit_json(base, repo, done),
            verification: UNSIGNED,
        }
    }
}
