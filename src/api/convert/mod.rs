//! Domain values as Gitea's API objects (`services/convert` in Gitea): one file per object.

pub mod organization;
pub mod repository;
pub mod user;
