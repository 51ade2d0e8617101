//! Why an app file does not deserialize, naming the field: `apps[2].port: not a field of
//! kind "job" (...); allowed: ...`.
//!
//! serde loses the path inside an internally tagged enum and inside flattened fields (it
//! buffers them first), so when the whole file fails, its parts are deserialized one by one,
//! each into its own type, where the path is kept: the environment, each app's fields against
//! those its kind allows (read from the schema), the service fields of a frontend or backend
//! app, then the app itself.

use std::collections::BTreeSet;

use fargate_deploy::apps::{ContainerServiceSpec, ScheduledJobSpec};
use fargate_deploy::environment::EnvironmentSpec;
use fargate_deploy::{BackendApiSpec, ContainerService, ExpressAppSpec, FrontendAppSpec};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::{Kind, invalid, schema};
use crate::exit::Failure;

type PathError = serde_path_to_error::Error<serde_json::Error>;

/// The first wrong field of `value`, or else `whole`, the error of the whole file.
pub(super) fn explain(value: &Value, whole: &PathError) -> Failure {
    first_error(value).unwrap_or_else(|| Failure::bad_input(located("", whole)))
}

fn first_error(value: &Value) -> Option<Failure> {
    let Value::Object(top) = value else {
        return Some(Failure::bad_input(
            "file: expected a JSON object with `environment` and `apps`",
        ));
    };
    if let Some(f) = unknown_field(top, "", &schema::file_fields(), None) {
        return Some(f);
    }
    match top.get("environment") {
        None => {
            return Some(Failure::bad_input(
                "environment: missing (an object with a `name`)",
            ));
        }
        Some(env) => {
            if let Err(f) = typed::<EnvironmentSpec>(env, "environment") {
                return Some(f);
            }
        }
    }
    match top.get("apps") {
        None | Some(Value::Null) => None,
        Some(Value::Array(apps)) => apps
            .iter()
            .enumerate()
            .find_map(|(i, app)| app_error(app, &format!("apps[{i}]"))),
        Some(_) => Some(Failure::bad_input(
            "apps: expected a list of apps (objects with a `kind`)",
        )),
    }
}

/// The first wrong field of the app entry at `at`.
fn app_error(entry: &Value, at: &str) -> Option<Failure> {
    let kinds = Kind::list();
    let Value::Object(fields) = entry else {
        return Some(Failure::bad_input(format!(
            "{at}: expected an object with a `kind` ({kinds})"
        )));
    };
    let kind = match fields.get("kind") {
        None => {
            return Some(Failure::bad_input(format!(
                "{at}.kind: missing (one of {kinds})"
            )));
        }
        Some(Value::String(k)) => match Kind::parse(k) {
            Some(kind) => kind,
            None => {
                return Some(Failure::bad_input(format!(
                    "{at}.kind: unknown kind \"{k}\" (one of {kinds})"
                )));
            }
        },
        Some(other) => {
            return Some(Failure::bad_input(format!(
                "{at}.kind: expected a string, one of {kinds}, not {other}"
            )));
        }
    };
    if let Some(f) = unknown_field(fields, at, &schema::fields_of(kind), Some(kind)) {
        return Some(f);
    }
    let mut spec = fields.clone();
    spec.remove("kind");
    let spec = Value::Object(spec);
    match kind {
        Kind::Service => typed::<ContainerServiceSpec>(&spec, at).err(),
        Kind::Job => typed::<ScheduledJobSpec>(&spec, at).err(),
        Kind::Express => typed::<ExpressAppSpec>(&spec, at).err(),
        Kind::Frontend | Kind::Backend => {
            if let Some(f) = service_error(fields, kind, at) {
                return Some(f);
            }
            if kind == Kind::Frontend {
                typed::<FrontendAppSpec>(&spec, at).err()
            } else {
                typed::<BackendApiSpec>(&spec, at).err()
            }
        }
    }
}

/// The first wrong field of the service part of a frontend or backend app, or why its
/// builder refuses it.
fn service_error(fields: &Map<String, Value>, kind: Kind, at: &str) -> Option<Failure> {
    let service_fields = schema::service_fields_of(kind);
    let part: Map<String, Value> = fields
        .iter()
        .filter(|(k, _)| service_fields.contains(*k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let spec = match typed::<ContainerServiceSpec>(&Value::Object(part), at) {
        Ok(spec) => spec,
        Err(f) => return Some(f),
    };
    let at = format!("{at} ({})", spec.name);
    ContainerService::new(spec).err().map(invalid(&at))
}

/// A field of `fields` that is not `allowed`, as an error naming it, what kind has it (if
/// another does), and the allowed fields.
fn unknown_field(
    fields: &Map<String, Value>,
    at: &str,
    allowed: &BTreeSet<String>,
    kind: Option<Kind>,
) -> Option<Failure> {
    let key = fields.keys().find(|k| !allowed.contains(*k))?;
    let list = allowed
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(", ");
    let here = join(at, key);
    let Some(kind) = kind else {
        return Some(Failure::bad_input(format!(
            "{here}: unknown field; allowed: {list}"
        )));
    };
    let owners: Vec<&str> = Kind::ALL
        .into_iter()
        .filter(|k| schema::fields_of(*k).contains(key))
        .map(Kind::as_str)
        .collect();
    let why = if owners.is_empty() {
        format!("unknown field of kind \"{}\"", kind.as_str())
    } else {
        format!(
            "not a field of kind \"{}\" (only of {})",
            kind.as_str(),
            owners.join(", ")
        )
    };
    Some(Failure::bad_input(format!(
        "{here}: {why}; allowed: {list}"
    )))
}

/// `at.key`, or `key` at the top of the file (`at` empty).
fn join(at: &str, key: &str) -> String {
    if at.is_empty() {
        key.to_string()
    } else {
        format!("{at}.{key}")
    }
}

/// `value` as a `T`, or the error at its path below `at`.
fn typed<T: DeserializeOwned>(value: &Value, at: &str) -> Result<T, Failure> {
    serde_path_to_error::deserialize(value).map_err(|e| Failure::bad_input(located(at, &e)))
}

/// `apps[0].cpu: invalid type: ...`; a missing field is named in the path
/// (`apps[0].image: missing`).
fn located(at: &str, e: &PathError) -> String {
    let path = e.path().to_string();
    let here = match path.as_str() {
        "." => at.to_string(),
        p if p.starts_with('[') => format!("{at}{p}"),
        p => join(at, p),
    };
    let message = e.inner().to_string();
    if let Some(field) = message
        .strip_prefix("missing field `")
        .and_then(|m| m.strip_suffix('`'))
    {
        return format!("{}: missing (required)", join(&here, field));
    }
    if here.is_empty() {
        return format!("file: {message}");
    }
    format!("{here}: {message}")
}
