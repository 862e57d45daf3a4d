//! `/settings/*`: Gitea's instance settings that clients read before paging or uploading
//! (`tea`, Renovate and the Terraform provider ask `/settings/api` for the page size).

use axum::Json;
use axum::extract::FromRef;
use serde::Serialize;

use super::ApiState;
use super::paging::{DEFAULT_PAGING_NUM, MAX_RESPONSE_ITEMS};
use crate::routes::{Need, Routes};

/// Gitea's defaults for entries per git tree page and the largest blob the contents API
/// returns inline (`DEFAULT_GIT_TREES_PER_PAGE`, `DEFAULT_MAX_BLOB_SIZE`); the git-data and
/// contents routes use these.
pub const DEFAULT_GIT_TREES_PER_PAGE: u32 = 1000;
pub const DEFAULT_MAX_BLOB_SIZE: u64 = 10 * 1024 * 1024;

pub fn router<S>() -> Routes<S>
where
    S: Clone + Send + Sync + 'static,
    ApiState: FromRef<S>,
{
    Routes::new()
        .get("/settings/api", Need::Public, show_api_settings)
        .get(
            "/settings/repository",
            Need::Public,
            show_repository_settings,
        )
        .get("/settings/ui", Need::Public, show_ui_settings)
        .get(
            "/settings/attachment",
            Need::Public,
            show_attachment_settings,
        )
}

#[derive(Serialize)]
struct GeneralApiSettings {
    max_response_items: u32,
    default_paging_num: u32,
    default_git_trees_per_page: u32,
    default_max_blob_size: u64,
}

async fn show_api_settings() -> Json<GeneralApiSettings> {
    Json(GeneralApiSettings {
        max_response_items: MAX_RESPONSE_ITEMS,
        default_paging_num: DEFAULT_PAGING_NUM,
        default_git_trees_per_page: DEFAULT_GIT_TREES_PER_PAGE,
        default_max_blob_size: DEFAULT_MAX_BLOB_SIZE,
    })
}

/// What labforge's repositories have: git over HTTP, migrations and mirrors; no LFS, stars
/// or time tracking.
#[derive(Serialize)]
struct GeneralRepoSettings {
    mirrors_disabled: bool,
    http_git_disabled: bool,
    migrations_disabled: bool,
    stars_disabled: bool,
    time_tracking_disabled: bool,
    lfs_disabled: bool,
}

async fn show_repository_settings() -> Json<GeneralRepoSettings> {
    Json(GeneralRepoSettings {
        mirrors_disabled: false,
        http_git_disabled: false,
        migrations_disabled: false,
        stars_disabled: true,
        time_tracking_disabled: true,
        lfs_disabled: true,
    })
}

/// labforge has no reactions, custom emoji or themes to choose.
#[derive(Serialize)]
struct GeneralUiSettings {
    default_theme: &'static str,
    allowed_reactions: Vec<&'static str>,
    custom_emojis: Vec<&'static str>,
}

async fn show_ui_settings() -> Json<GeneralUiSettings> {
    Json(GeneralUiSettings {
        default_theme: "",
        allowed_reactions: Vec::new(),
        custom_emojis: Vec::new(),
    })
}

/// labforge takes no attachments.
#[derive(Serialize)]
struct GeneralAttachmentSettings {
    enabled: bool,
    allowed_types: &'static str,
    max_size: i64,
    max_files: i64,
}

async fn show_attachment_settings() -> Json<GeneralAttachmentSettings> {
    Json(GeneralAttachmentSettings {
        enabled: false,
        allowed_types: "",
        max_size: 0,
        max_files: 0,
    })
}
