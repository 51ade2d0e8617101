//! ECR repositories: the private registry an app's image is pushed to.
//!
//! Start with [`EcrRepositorySpec::new`] (a repository fargate-rs creates and owns) or
//! [`EcrRepositorySpec::adopt`] (an existing repository used as it is, never modified or
//! deleted). Defaults: scan on push, mutable tags, a lifecycle policy that keeps the last 20
//! images, AES-256 encryption.
//!
//! Before deploying an image from ECR, [`ensure_image_exists`] checks that it was pushed, so a
//! missing image is a clear error in seconds instead of tasks failing with
//! `CannotPullContainerError`.
//!
//! Outputs: [`repository_uri`] and [`repository_arn`].

use aws_sdk_ecr::types::{
    EncryptionConfiguration, EncryptionType, ImageIdentifier, ImageScanningConfiguration,
    ImageTagMutability, Repository, Tag,
};
use fargate_core::exec::OutputKey;
use fargate_core::resource::BoxFuture;
use fargate_core::tags::Ownership;
use fargate_core::{
    AwsResultExt, Change, Created, EcrRepositoryName, Error, Fields, InvalidValue, Kind, Mode,
    Resolved, ResourceId, Round, StepContext, Tags, create_or_existing, ok_unless,
};
use serde_json::{Value, json};

use crate::Clients;
use crate::aws_util::{absent_on, bad_request, creation_tags, ensure_owned_if_found, missing};

/// The resource kind of ECR repositories in plans.
pub const KIND: &str = "ecr:repository";

/// The default number of images the lifecycle policy keeps.
pub const DEFAULT_KEEP_LAST_IMAGES: u32 = 20;

/// The identity of the repository `name` in plans.
pub fn repository_id(name: &EcrRepositoryName) -> ResourceId {
    ResourceId::new(KIND, name.as_str())
}

/// Output: the repository URI (`<account>.dkr.ecr.<region>.amazonaws.com/<name>`), to push to
/// and to build image references from.
pub fn repository_uri(name: &EcrRepositoryName) -> OutputKey<String> {
    repository_id(name).output("uri")
}

/// Output: the repository ARN (what the task execution role's policy allows pulling from).
pub fn repository_arn(name: &EcrRepositoryName) -> OutputKey<String> {
    repository_id(name).output("arn")
}

/// Whether image tags can be overwritten by a later push.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
)]
pub enum TagMutability {
    /// A tag can be pushed again and then names another image (the ECR default).
    #[default]
    Mutable,
    /// A pushed tag always names the same image; pushing it again fails.
    Immutable,
}

impl TagMutability {
    /// The ECR API spelling, `MUTABLE` or `IMMUTABLE`.
    pub fn as_str(self) -> &'static str {
        match self {
            TagMutability::Mutable => "MUTABLE",
            TagMutability::Immutable => "IMMUTABLE",
        }
    }

    fn to_sdk(self) -> ImageTagMutability {
        match self {
            TagMutability::Mutable => ImageTagMutability::Mutable,
            TagMutability::Immutable => ImageTagMutability::Immutable,
        }
    }
}

/// How the images are encrypted at rest. Fixed when the repository is created.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum RepositoryEncryption {
    /// AES-256 with keys managed by ECR (the default).
    #[default]
    Aes256,
    /// AWS KMS, with the given key (ARN or id), or the AWS-managed `aws/ecr` key when `None`.
    Kms(Option<String>),
}

impl RepositoryEncryption {
    fn type_str(&self) -> &'static str {
        match self {
            RepositoryEncryption::Aes256 => "AES256",
            RepositoryEncryption::Kms(_) => "KMS",
        }
    }
}

/// The errors of this module that are not AWS call failures.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EcrError {
    /// The image to deploy was never pushed (or was deleted by the lifecycle policy).
    #[error(
        "image {reference:?} does not exist in ECR repository {repository}; push it before deploying: docker push {image}"
    )]
    ImageNotFound {
        /// The repository name.
        repository: String,
        /// The tag or digest that was looked for.
        reference: String,
        /// The full image reference, `<uri>:<tag>` or `<uri>@<digest>`.
        image: String,
    },
    /// The repository itself does not exist.
    #[error(
        "ECR repository {repository} does not exist ({uri}); create it (apply the app) and push the image first"
    )]
    RepositoryNotFound {
        /// The repository name.
        repository: String,
        /// Its URI in this account and region.
        uri: String,
    },
}

/// The desired state of an ECR repository.
///
/// ```
/// use fargate_core::{EcrRepositoryName, Ownership};
/// use fargate_deploy::ecr::{EcrRepositorySpec, TagMutability};
///
/// let owner = Ownership::new("prod".parse()?).with_app("web".parse()?);
/// let repo = EcrRepositorySpec::new(EcrRepositoryName::derive(&["prod", "web"]), owner)
///     .tag_mutability(TagMutability::Immutable)
///     .keep_last_images(50)?;
/// assert_eq!(repo.name().as_str(), "prod/web");
/// # Ok::<(), fargate_core::InvalidValue>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct EcrRepositorySpec {
    name: EcrRepositoryName,
    /// `None` when adopted.
    ownership: Option<Ownership>,
    tags: Tags,
    scan_on_push: bool,
    tag_mutability: TagMutability,
    keep_last_images: Option<u32>,
    encryption: RepositoryEncryption,
}

impl EcrRepositorySpec {
    /// A repository fargate-rs creates and owns, with the defaults.
    pub fn new(name: EcrRepositoryName, ownership: Ownership) -> Self {
        Self {
            ownership: Some(ownership),
            ..Self::adopt(name)
        }
    }

    /// An existing repository used as it is: it must exist, and is never modified or deleted.
    pub fn adopt(name: EcrRepositoryName) -> Self {
        Self {
            name,
            ownership: None,
            tags: Tags::new(),
            scan_on_push: true,
            tag_mutability: TagMutability::Mutable,
            keep_last_images: Some(DEFAULT_KEEP_LAST_IMAGES),
            encryption: RepositoryEncryption::Aes256,
        }
    }

    /// Scan images for vulnerabilities when pushed (default `true`).
    #[must_use]
    pub fn scan_on_push(mut self, scan: bool) -> Self {
        self.scan_on_push = scan;
        self
    }

    /// Whether tags can be pushed again (default [`TagMutability::Mutable`]).
    #[must_use]
    pub fn tag_mutability(mut self, mutability: TagMutability) -> Self {
        self.tag_mutability = mutability;
        self
    }

    /// Keep only the last `count` images (default 20); older ones are expired by ECR.
    ///
    /// # Errors
    /// An [`InvalidValue`] for field `keep_last_images` unless `count` is 1 to 10000.
    pub fn keep_last_images(mut self, count: u32) -> Result<Self, InvalidValue> {
        if !(1..=10_000).contains(&count) {
            return Err(InvalidValue::new(
                "keep_last_images",
                count.to_string(),
                "a lifecycle policy must keep at least one image",
                "1 to 10000",
            ));
        }
        self.keep_last_images = Some(count);
        Ok(self)
    }

    /// Keep every image (no lifecycle policy). Storage then grows with every push.
    #[must_use]
    pub fn keep_all_images(mut self) -> Self {
        self.keep_last_images = None;
        self
    }

    /// Encryption at rest (default AES-256). Cannot change once the repository exists.
    #[must_use]
    pub fn encryption(mut self, encryption: RepositoryEncryption) -> Self {
        self.encryption = encryption;
        self
    }

    /// User tags, added to the ownership tags.
    #[must_use]
    pub fn tags(mut self, tags: Tags) -> Self {
        self.tags = tags;
        self
    }

    /// The repository name.
    pub fn name(&self) -> &EcrRepositoryName {
        &self.name
    }

    /// Whether the repository is adopted rather than owned.
    pub fn is_adopted(&self) -> bool {
        self.ownership.is_none()
    }

    /// The managed fields of the desired repository (pure).
    pub fn desired_fields(&self) -> Fields {
        let fields = Fields::new()
            .with("scan_on_push", self.scan_on_push)
            .with("tag_mutability", self.tag_mutability.as_str())
            .with("keep_last_images", self.keep_last_images)
            .with("encryption", self.encryption.type_str());
        match &self.encryption {
            RepositoryEncryption::Kms(Some(key)) => fields.with("encryption_kms_key", key.as_str()),
            _ => fields,
        }
    }

    /// The managed fields of a repository as AWS reports it (pure): API defaults filled in,
    /// the lifecycle policy reduced to its "keep last N" count when it is one fargate-rs
    /// writes (otherwise the policy itself, so that a foreign policy shows as a change).
    pub fn observed_fields(&self, observed: &ObservedRepository) -> Fields {
        let fields = Fields::new()
            .with("scan_on_push", observed.scan_on_push)
            .with("tag_mutability", observed.tag_mutability.as_str())
            .with(
                "keep_last_images",
                lifecycle_field(observed.lifecycle_policy.as_deref()),
            )
            .with("encryption", observed.encryption_type.as_str());
        match (&self.encryption, &observed.kms_key) {
            (RepositoryEncryption::Kms(Some(_)), key) => {
                fields.with("encryption_kms_key", key.clone())
            }
            _ => fields,
        }
    }

    fn id(&self) -> ResourceId {
        repository_id(&self.name)
    }

    #[tracing::instrument(skip_all, fields(resource = %self.id()))]
    async fn observe(&self, clients: &Clients) -> Result<Option<ObservedRepository>, Error> {
        let id = self.id();
        let found = clients
            .ecr
            .describe_repositories()
            .repository_names(self.name.as_str())
            .send()
            .await;
        let Some(found) = absent_on(
            found,
            &["RepositoryNotFoundException"],
            &id,
            "DescribeRepositories",
        )?
        else {
            return Ok(None);
        };
        let Some(repo) = found
            .repositories()
            .iter()
            .find(|r| r.repository_name() == Some(self.name.as_str()))
        else {
            return Ok(None);
        };
        let arn = repo
            .repository_arn()
            .ok_or_else(|| missing(&id, "DescribeRepositories", "repositoryArn"))?
            .to_string();
        if self.is_adopted() {
            return Ok(Some(ObservedRepository::from_sdk(
                repo,
                arn,
                None,
                Vec::new(),
                &id,
            )?));
        }
        let (policy, tags) = tokio::join!(
            clients
                .ecr
                .get_lifecycle_policy()
                .repository_name(self.name.as_str())
                .send(),
            clients
                .ecr
                .list_tags_for_resource()
                .resource_arn(&arn)
                .send(),
        );
        let policy = absent_on(
            policy,
            &["LifecyclePolicyNotFoundException"],
            &id,
            "GetLifecyclePolicy",
        )?
        .and_then(|p| p.lifecycle_policy_text().map(str::to_string));
        let tags = tags
            .context(&id, "ListTagsForResource")?
            .tags()
            .iter()
            .map(|t| (t.key().to_string(), t.value().to_string()))
            .collect();
        Ok(Some(ObservedRepository::from_sdk(
            repo, arn, policy, tags, &id,
        )?))
    }

    /// [`Self::observe`], refusing a repository with our name that is not ours (an adopted
    /// one is used as it is).
    async fn observe_owned(&self, clients: &Clients) -> Result<Option<ObservedRepository>, Error> {
        let observed = self.observe(clients).await?;
        if let Some(owner) = &self.ownership {
            ensure_owned_if_found(
                owner,
                &self.id(),
                observed
                    .as_ref()
                    .map(|o| (o.arn.as_str(), o.tags.as_slice())),
            )?;
        }
        Ok(observed)
    }

    fn check_encryption_unchanged(&self, desired: &Fields, observed: &Fields) -> Result<(), Error> {
        for field in ["encryption", "encryption_kms_key"] {
            if desired.get(field) != observed.get(field) {
                let now = observed
                    .get(field)
                    .map(Value::to_string)
                    .unwrap_or_default();
                return Err(Error::Invalid(InvalidValue::new(
                    format!("ecr.{}.{field}", self.name),
                    desired.get(field).map(Value::to_string).unwrap_or_default(),
                    "the encryption of an existing ECR repository cannot change (it would mean deleting its images)",
                    format!("the current {now}, or delete the repository first"),
                )));
            }
        }
        Ok(())
    }

    #[tracing::instrument(skip_all, fields(resource = %self.id()))]
    async fn apply(
        &self,
        clients: &Clients,
        ctx: &StepContext,
        change: &Change,
        observed: Option<&ObservedRepository>,
    ) -> Result<(), Error> {
        let id = self.id();
        match (change, observed) {
            (Change::Create { .. }, _) => {
                let created = self.create(clients, ctx, &id).await?;
                created.publish(ctx, &id);
            }
            (Change::Update { diffs }, Some(observed)) => {
                let changed: Vec<&str> = diffs.iter().map(|d| d.field.as_str()).collect();
                self.update(clients, &id, &changed).await?;
                observed.publish(ctx, &id);
            }
            (Change::Delete, Some(_)) => {
                ctx.progress(format!(
                    "deleting ECR repository {} and its images",
                    self.name
                ));
                let out = clients
                    .ecr
                    .delete_repository()
                    .repository_name(self.name.as_str())
                    .force(true)
                    .send()
                    .await;
                // A retry whose first attempt was applied finds it gone.
                ok_unless(out, &id, "DeleteRepository", |e| {
                    e.is_repository_not_found_exception()
                })?;
            }
            (_, Some(observed)) => observed.publish(ctx, &id),
            (_, None) => {}
        }
        Ok(())
    }

    async fn create(
        &self,
        clients: &Clients,
        ctx: &StepContext,
        id: &ResourceId,
    ) -> Result<ObservedRepository, Error> {
        let Some(owner) = &self.ownership else {
            return Err(missing(
                id,
                "CreateRepository",
                "ownership for an adopted repository",
            ));
        };
        let encryption = EncryptionConfiguration::builder()
            .encryption_type(EncryptionType::from(self.encryption.type_str()))
            .set_kms_key(match &self.encryption {
                RepositoryEncryption::Kms(key) => key.clone(),
                RepositoryEncryption::Aes256 => None,
            })
            .build()
            .map_err(|e| bad_request(id, "CreateRepository", e))?;
        let tags = creation_tags(owner, &self.tags, self.name.as_str())
            .into_iter()
            .map(|(k, v)| Tag::builder().key(k).value(v).build())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| bad_request(id, "CreateRepository", e))?;
        let out = clients
            .ecr
            .create_repository()
            .repository_name(self.name.as_str())
            .image_scanning_configuration(
                ImageScanningConfiguration::builder()
                    .scan_on_push(self.scan_on_push)
                    .build(),
            )
            .image_tag_mutability(self.tag_mutability.to_sdk())
            .encryption_configuration(encryption)
            .set_tags(Some(tags))
            .send()
            .await;
        // A retried create whose first attempt was applied meets its own repository.
        let found = || self.observe_owned(clients);
        let out = match create_or_existing(
            ctx,
            id,
            "CreateRepository",
            out,
            |e| e.is_repository_already_exists_exception(),
            found,
        )
        .await?
        {
            Created::New(out) => out,
            Created::Existing(observed) => {
                let diffs = self.observed_fields(&observed).diff(&self.desired_fields());
                let changed: Vec<&str> = diffs.iter().map(|d| d.field.as_str()).collect();
                if !changed.is_empty() {
                    self.update(clients, id, &changed).await?;
                }
                return Ok(observed);
            }
        };
        let repo = out
            .repository()
            .ok_or_else(|| missing(id, "CreateRepository", "repository"))?;
        let arn = repo
            .repository_arn()
            .ok_or_else(|| missing(id, "CreateRepository", "repositoryArn"))?
            .to_string();
        if let Some(count) = self.keep_last_images {
            self.put_lifecycle_policy(clients, id, count).await?;
        }
        ObservedRepository::from_sdk(repo, arn, None, Vec::new(), id)
    }

    async fn update(
        &self,
        clients: &Clients,
        id: &ResourceId,
        changed: &[&str],
    ) -> Result<(), Error> {
        if changed.contains(&"scan_on_push") {
            clients
                .ecr
                .put_image_scanning_configuration()
                .repository_name(self.name.as_str())
                .image_scanning_configuration(
                    ImageScanningConfiguration::builder()
                        .scan_on_push(self.scan_on_push)
                        .build(),
                )
                .send()
                .await
                .context(id, "PutImageScanningConfiguration")?;
        }
        if changed.contains(&"tag_mutability") {
            clients
                .ecr
                .put_image_tag_mutability()
                .repository_name(self.name.as_str())
                .image_tag_mutability(self.tag_mutability.to_sdk())
                .send()
                .await
                .context(id, "PutImageTagMutability")?;
        }
        if changed.contains(&"keep_last_images") {
            match self.keep_last_images {
                Some(count) => self.put_lifecycle_policy(clients, id, count).await?,
                None => {
                    clients
                        .ecr
                        .delete_lifecycle_policy()
                        .repository_name(self.name.as_str())
                        .send()
                        .await
                        .context(id, "DeleteLifecyclePolicy")?;
                }
            }
        }
        Ok(())
    }

    async fn put_lifecycle_policy(
        &self,
        clients: &Clients,
        id: &ResourceId,
        count: u32,
    ) -> Result<(), Error> {
        clients
            .ecr
            .put_lifecycle_policy()
            .repository_name(self.name.as_str())
            .lifecycle_policy_text(lifecycle_policy(count).to_string())
            .send()
            .await
            .context(id, "PutLifecyclePolicy")?;
        Ok(())
    }
}

impl Kind<Clients> for EcrRepositorySpec {
    type Observed = ObservedRepository;

    fn id(&self) -> ResourceId {
        repository_id(&self.name)
    }

    fn observe<'a>(
        &'a self,
        clients: &'a Clients,
        _: &'a Round<'a>,
        _: Mode,
    ) -> BoxFuture<'a, Result<Option<ObservedRepository>, Error>> {
        Box::pin(self.observe_owned(clients))
    }

    fn diff(&self, observed: Option<&ObservedRepository>, _: &Resolved) -> Result<Change, Error> {
        crate::aws_util::adopted_or_diffed(
            self.ownership.is_some(),
            observed,
            |o| o.arn.clone(),
            || Error::NotFound {
                resource: self.id(),
                detail: format!("the ECR repository {} to adopt does not exist", self.name),
            },
            |observed| {
                let desired = self.desired_fields();
                let observed_fields = observed.map(|o| self.observed_fields(o));
                if let Some(obs) = &observed_fields {
                    self.check_encryption_unchanged(&desired, obs)?;
                }
                Ok(Change::compute(&desired, observed_fields.as_ref(), &[]))
            },
        )
    }

    fn destroy_change(&self, observed: Option<&ObservedRepository>) -> Change {
        crate::aws_util::adopted_or_deleted(self.ownership.is_some(), observed, |o| o.arn.clone())
    }

    fn apply<'a>(
        &'a self,
        clients: &'a Clients,
        ctx: &'a StepContext,
        change: &'a Change,
        observed: Option<&'a ObservedRepository>,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(self.apply(clients, ctx, change, observed))
    }

    fn destroy<'a>(
        &'a self,
        clients: &'a Clients,
        ctx: &'a StepContext,
        observed: &'a ObservedRepository,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(self.apply(clients, ctx, &Change::Delete, Some(observed)))
    }
}

/// An ECR repository as observed, reduced to what fargate-rs manages.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ObservedRepository {
    /// The repository ARN.
    pub arn: String,
    /// The repository URI.
    pub uri: String,
    /// Whether images are scanned on push.
    pub scan_on_push: bool,
    /// The tag mutability, as the API spells it (`MUTABLE`, `IMMUTABLE`, ...).
    pub tag_mutability: String,
    /// The lifecycle policy text, if one is set.
    pub lifecycle_policy: Option<String>,
    /// The encryption type (`AES256`, `KMS`, ...).
    pub encryption_type: String,
    /// The KMS key, for KMS encryption.
    pub kms_key: Option<String>,
    /// The repository's tags.
    pub tags: Vec<(String, String)>,
}

impl ObservedRepository {
    fn from_sdk(
        repo: &Repository,
        arn: String,
        lifecycle_policy: Option<String>,
        tags: Vec<(String, String)>,
        id: &ResourceId,
    ) -> Result<Self, Error> {
        let uri = repo
            .repository_uri()
            .ok_or_else(|| missing(id, "DescribeRepositories", "repositoryUri"))?
            .to_string();
        let encryption = repo.encryption_configuration();
        Ok(Self {
            arn,
            uri,
            scan_on_push: repo
                .image_scanning_configuration()
                .is_some_and(|c| c.scan_on_push()),
            tag_mutability: repo
                .image_tag_mutability()
                .map_or("MUTABLE", |m| m.as_str())
                .to_string(),
            lifecycle_policy,
            encryption_type: encryption
                .map_or("AES256", |e| e.encryption_type().as_str())
                .to_string(),
            kms_key: encryption.and_then(|e| e.kms_key()).map(str::to_string),
            tags,
        })
    }

    fn publish(&self, ctx: &StepContext, id: &ResourceId) {
        ctx.set(&id.output::<String>("uri"), self.uri.clone());
        ctx.set(&id.output::<String>("arn"), self.arn.clone());
    }
}

/// The lifecycle policy fargate-rs writes: expire all but the last `count` images.
pub fn lifecycle_policy(count: u32) -> Value {
    json!({
        "rules": [{
            "rulePriority": 1,
            "description": format!("keep the last {count} images"),
            "selection": {
                "tagStatus": "any",
                "countType": "imageCountMoreThan",
                "countNumber": count,
            },
            "action": { "type": "expire" },
        }]
    })
}

/// The `keep_last_images` field of an observed lifecycle policy: the count when the policy is
/// exactly one fargate-rs writes, `null` without a policy, the parsed policy otherwise.
fn lifecycle_field(text: Option<&str>) -> Value {
    let Some(text) = text else {
        return Value::Null;
    };
    let Ok(policy) = serde_json::from_str::<Value>(text) else {
        return Value::String(text.to_string());
    };
    let count = policy
        .pointer("/rules/0/selection/countNumber")
        .and_then(Value::as_u64)
        .and_then(|n| u32::try_from(n).ok());
    match count {
        Some(n) if lifecycle_policy(n) == policy => Value::from(n),
        _ => policy,
    }
}

/// Check that the image `tag_or_digest` (a tag such as `v42`, or `sha256:<hex>`) was pushed to
/// the ECR repository `repo` of this account and region. Call it before deploying an ECR
/// image: ECS would otherwise start tasks that fail with `CannotPullContainerError`.
///
/// # Errors
/// [`Error::Failed`] with an [`EcrError::ImageNotFound`] (saying which image is missing and the
/// `docker push` to run) or [`EcrError::RepositoryNotFound`]; [`Error::Aws`] when the call
/// fails otherwise.
#[tracing::instrument(skip(clients), fields(resource = %repository_id(repo)))]
pub async fn ensure_image_exists(
    clients: &Clients,
    repo: &EcrRepositoryName,
    tag_or_digest: &str,
) -> Result<(), Error> {
    let id = repository_id(repo);
    let image_id = if tag_or_digest.starts_with("sha256:") {
        ImageIdentifier::builder()
            .image_digest(tag_or_digest)
            .build()
    } else {
        ImageIdentifier::builder().image_tag(tag_or_digest).build()
    };
    let uri = crate::aws_util::ecr_repository_uri(
        &clients.aws.region,
        &clients.aws.account_id,
        repo.as_str(),
    );
    let result = clients
        .ecr
        .describe_images()
        .repository_name(repo.as_str())
        .image_ids(image_id)
        .send()
        .await;
    match result {
        Ok(out) if !out.image_details().is_empty() => Ok(()),
        Ok(_) => Err(image_not_found(&id, repo, tag_or_digest, &uri)),
        Err(e) => match fargate_core::error::sdk_error_code(&e) {
            Some("ImageNotFoundException") => Err(image_not_found(&id, repo, tag_or_digest, &uri)),
            Some("RepositoryNotFoundException") => Err(Error::Failed {
                resource: id,
                source: Box::new(EcrError::RepositoryNotFound {
                    repository: repo.to_string(),
                    uri,
                }),
            }),
            _ => Err(Error::from_sdk(&id, "DescribeImages", e)),
        },
    }
}

fn image_not_found(id: &ResourceId, repo: &EcrRepositoryName, reference: &str, uri: &str) -> Error {
    let image = if reference.starts_with("sha256:") {
        format!("{uri}@{reference}")
    } else {
        format!("{uri}:{reference}")
    };
    Error::Failed {
        resource: id.clone(),
        source: Box::new(EcrError::ImageNotFound {
            repository: repo.to_string(),
            reference: reference.to_string(),
            image,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifecycle_policies_reduce_to_their_count_only_when_ours() {
        assert_eq!(lifecycle_field(None), Value::Null);
        assert_eq!(
            lifecycle_field(Some(&lifecycle_policy(7).to_string())),
            Value::from(7)
        );
        let foreign = r#"{"rules":[{"rulePriority":1,"selection":{"tagStatus":"untagged","countType":"sinceImagePushed","countUnit":"days","countNumber":14},"action":{"type":"expire"}}]}"#;
        assert!(lifecycle_field(Some(foreign)).is_object());
        assert_eq!(lifecycle_field(Some("{")), Value::String("{".into()));
    }

    #[test]
    fn keep_last_images_is_validated() {
        let owner = Ownership::new("prod".parse().unwrap());
        let spec = EcrRepositorySpec::new(EcrRepositoryName::derive(&["prod", "web"]), owner);
        assert_eq!(
            spec.clone().keep_last_images(0).unwrap_err().field,
            "keep_last_images"
        );
        assert_eq!(
            spec.keep_all_images()
                .desired_fields()
                .get("keep_last_images"),
            Some(&Value::Null)
        );
    }
}
