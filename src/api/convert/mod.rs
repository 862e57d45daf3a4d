//! labforge's objects in Gitea's JSON shapes, one file per object.

pub mod repository_min;
pub mod user;
