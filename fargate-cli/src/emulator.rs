//! What the local emulator needs before the steps run: every invocation is a fresh, empty
//! account, so the secrets and SSM parameters the apps reference cannot exist in it yet, and
//! the pre-flight check would refuse to apply. Here they are created with a placeholder value,
//! and a note says which. Nothing of this happens with `--aws`.

use std::collections::BTreeMap;

use aws_sdk_ssm::types::ParameterType;
use fargate_core::secret::SecretKind;
use fargate_core::{AwsResultExt, SecretRef};
use fargate_deploy::Deployer;

use crate::app_file::Loaded;
use crate::exit::Failure;

/// The value of every placeholder.
const PLACEHOLDER: &str = "placeholder-created-by-fargate-for-the-local-emulator";

/// Creates the SSM parameters and Secrets Manager secrets the apps reference in the emulator
/// account. Returns the notes to print. A Secrets Manager reference by complete ARN (with the
/// random suffix) cannot be recreated with that ARN: it is left as it is, with a note.
///
/// # Errors
/// A setup failure when the emulator refuses to create one.
pub async fn seed_secrets(loaded: &Loaded, deployer: &Deployer) -> Result<Vec<String>, Failure> {
    // Each distinct reference once, with the apps that use it.
    let mut refs: BTreeMap<String, (SecretRef, Vec<String>)> = BTreeMap::new();
    for app in loaded.all() {
        let Some(req) = app.preflight(&loaded.env) else {
            continue;
        };
        for (_, secret) in req.secrets {
            let entry = refs
                .entry(secret.value_from().to_string())
                .or_insert_with(|| (secret.clone(), Vec::new()));
            if !entry.1.contains(&req.app.to_string()) {
                entry.1.push(req.app.to_string());
            }
        }
    }
    let clients = deployer.clients();
    let mut notes = Vec::new();
    for (given, (secret, apps)) in refs {
        let apps = apps.join(", ");
        let failed = |what: &str, e: String| {
            Failure::setup(format!(
                "cannot create the placeholder {what} {given} in the local emulator: {e}"
            ))
        };
        match secret.kind() {
            SecretKind::SsmParameter => {
                let Some(name) = secret.parameter_names().into_iter().last() else {
                    continue;
                };
                clients
                    .ssm
                    .put_parameter()
                    .name(&name)
                    .value(PLACEHOLDER)
                    .r#type(ParameterType::SecureString)
                    .overwrite(true)
                    .send()
                    .await
                    .context(format!("ssm:parameter {name}"), "PutParameter")
                    .map_err(|e| failed("SSM parameter", e.to_string()))?;
                notes.push(format!(
                    "the local emulator starts empty: created the SSM parameter {name} \
                     (used by {apps}) with a placeholder value; on AWS it must exist"
                ));
            }
            SecretKind::SecretsManager => match secret.secret_id() {
                Some(id) if !id.starts_with("arn:") => {
                    clients
                        .secrets
                        .create_secret()
                        .name(id)
                        .secret_string(PLACEHOLDER)
                        .send()
                        .await
                        .context(format!("secretsmanager:secret {id}"), "CreateSecret")
                        .map_err(|e| failed("secret", e.to_string()))?;
                    notes.push(format!(
                        "the local emulator starts empty: created the secret {id} (used by \
                         {apps}) with a placeholder value; on AWS it must exist"
                    ));
                }
                _ => notes.push(format!(
                    "the secret {given} (used by {apps}) is named by its complete ARN, which \
                     the local emulator cannot recreate: refer to it by name (or by an ARN \
                     without the random suffix) to deploy on the emulator"
                )),
            },
        }
    }
    Ok(notes)
}
