//! git's own services (upload-pack, receive-pack, upload-archive) as the transports start them:
//! the transport authenticates and passes the grant with how git's streams are carried; the
//! domain decides the level a service needs, finds the repository's folder and builds git's
//! request. So a transport never names a folder, and a push cannot start on a read grant.

use super::{Error, Forge, Grant, Principal, Read, Result, Write};
use crate::git::runner::{GitChild, ServiceRequest};
use crate::git::{GitProtocol, Service};
use crate::model::{Actor, Repo, RepoPath};

/// A git service together with the grant it needs: fetches and archives read, a push writes.
#[derive(Debug, Clone)]
pub enum ServiceGrant {
    /// upload-pack or upload-archive.
    Fetch(Service, Grant<Read>),
    /// receive-pack.
    Push(Grant<Write>),
}

impl ServiceGrant {
    pub fn service(&self) -> Service {
        match self {
            ServiceGrant::Fetch(service, _) => *service,
            ServiceGrant::Push(_) => Service::ReceivePack,
        }
    }

    pub fn repo(&self) -> &Repo {
        match self {
            ServiceGrant::Fetch(_, grant) => grant.repo(),
            ServiceGrant::Push(grant) => grant.repo(),
        }
    }

    /// The decision as a read grant (every service reads).
    pub fn to_read(&self) -> Grant<Read> {
        match self {
            ServiceGrant::Fetch(_, grant) => grant.clone(),
            ServiceGrant::Push(grant) => grant.lower(),
        }
    }

    /// The user the service runs for, when a user (not an anonymous fetch).
    pub fn actor(&self) -> Option<&Actor> {
        match self {
            ServiceGrant::Fetch(_, grant) => grant.actor(),
            ServiceGrant::Push(grant) => grant.actor(),
        }
    }
}

/// How the transport carries git's streams.
#[derive(Debug, Clone, Copy)]
pub struct Streams {
    /// HTTP's one-request-one-response mode.
    pub stateless_rpc: bool,
    /// Only the ref advertisement (HTTP `info/refs`); a push then runs no hooks.
    pub advertise_refs: bool,
    pub protocol: Option<GitProtocol>,
}

impl Forge {
    /// The grant `service` needs: read for upload-pack and upload-archive, write for
    /// receive-pack (which may create the repository, see `authorize_push`).
    pub async fn authorize_service(
        &self,
        actor: Option<&Actor>,
        path: &RepoPath,
        service: Service,
    ) -> Result<ServiceGrant> {
        self.authorize_service_as(&Principal::from_actor(actor), path, service)
            .await
    }

    /// As `authorize_service`, for any principal (a deploy key over SSH).
    pub async fn authorize_service_as(
        &self,
        principal: &Principal,
        path: &RepoPath,
        service: Service,
    ) -> Result<ServiceGrant> {
        Ok(match service {
            Service::ReceivePack => ServiceGrant::Push(self.authorize_push(principal, path).await?),
            Service::UploadPack | Service::UploadArchive => {
                ServiceGrant::Fetch(service, self.authorize_as::<Read>(principal, path).await?)
            }
        })
    }

    /// Authorizes a push; with push-to-create on, a push by OWNER to a missing `OWNER/NEW`
    /// creates it (private, as Gitea does) and then authorizes against the new repository.
    /// Only a user creates: a deploy key (or a visitor) gets the missing repository's answer.
    /// An archived repository refuses every push, whoever sends it.
    async fn authorize_push(&self, principal: &Principal, path: &RepoPath) -> Result<Grant<Write>> {
        let grant = self.authorize_push_unarchived(principal, path).await?;
        if grant.repo().is_archived {
            return Err(Error::Archived(format!(
                "{} is archived: it accepts no pushes until an admin unarchives it",
                grant.repo().full_name()
            )));
        }
        Ok(grant)
    }

    /// `authorize_push` before the archive flag is asked (creating on push, or the write grant).
    async fn authorize_push_unarchived(
        &self,
        principal: &Principal,
        path: &RepoPath,
    ) -> Result<Grant<Write>> {
        match self.authorize_as::<Write>(principal, path).await {
            Err(Error::NotFound) if self.push_to_create => {
                let Some(actor) = principal.actor() else {
                    return Err(Error::NotFound);
                };
                // Their own name, or an organization they may create under (its owners, and
                // teams that may create); anyone else learns nothing from the answer.
                if !self.may_create_under(actor, &path.owner).await? {
                    return Err(Error::NotFound);
                }
                match self.create_repo(&path.owner, &path.name, true, "").await {
                    Ok(repo) => self.after_create_in_org(actor, &repo).await?,
                    Err(Error::Conflict(_)) => {}
                    Err(e) => return Err(e),
                }
                self.authorize::<Write>(Some(actor), path).await
            }
            other => other,
        }
    }

    /// Starts the service `grant` allows on its repository. A push (not a mere advertisement)
    /// takes a ticket first: its hooks present it, and it lives as long as git.
    pub fn git_service(&self, grant: &ServiceGrant, streams: Streams) -> Result<GitChild> {
        // Pushes the server makes itself (file edits, branch writes over the API) come here
        // without `authorize_push`: the archive flag holds for them too.
        if let ServiceGrant::Push(write) = grant
            && write.repo().is_archived
        {
            return Err(Error::Archived(format!(
                "{} is archived: it accepts no pushes until an admin unarchives it",
                write.repo().full_name()
            )));
        }
        let dir = self.repo_dir(grant.repo())?;
        let ticket = match grant {
            ServiceGrant::Push(write) if !streams.advertise_refs => {
                Some(self.receive_ticket(write)?)
            }
            _ => None,
        };
        // A ref advertisement (HTTP's `info/refs`) is half of an operation, not one of its own.
        let counted = (!streams.advertise_refs).then(|| {
            let transport = if streams.stateless_rpc { "http" } else { "ssh" };
            (grant.service().name().trim_start_matches("git-"), transport)
        });
        let req = ServiceRequest {
            service: grant.service(),
            dir: &dir,
            stateless_rpc: streams.stateless_rpc,
            advertise_refs: streams.advertise_refs,
            protocol: streams.protocol,
            hook_env: ticket.as_ref().map(|t| t.hook_env()).unwrap_or_default(),
        };
        let mut child = self
            .runner
            .spawn_service(req)
            .map_err(|e| Error::Internal(e.into()))?;
        if let Some((service, transport)) = counted {
            let operation = self
                .metrics
                .git_started(service, transport, &grant.repo().full_name());
            child.sent = operation.sent();
            child.attach(operation);
        }
        if let Some(ticket) = ticket {
            child.attach(ticket);
        }
        Ok(child)
    }
}
