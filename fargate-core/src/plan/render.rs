//! Rendering a [`Plan`] for people, in the style of `terraform plan`.

use std::fmt;

use serde_json::Value;

use super::{Change, FieldDiff, Plan};

fn value(v: &Option<Value>) -> String {
    match v {
        None | Some(Value::Null) => "(none)".to_string(),
        Some(v) => v.to_string(),
    }
}

fn write_diffs(f: &mut fmt::Formatter<'_>, diffs: &[FieldDiff], created: bool) -> fmt::Result {
    let width = diffs.iter().map(|d| d.field.len()).max().unwrap_or(0);
    for d in diffs {
        if created {
            writeln!(f, "      {:width$} = {}", d.field, value(&d.new))?;
        } else if d.sensitive {
            // Neither side can be shown; say that the value changed (or appears or goes away).
            let what = match (&d.old, &d.new) {
                (None | Some(Value::Null), _) => "(sensitive, added)",
                (_, None | Some(Value::Null)) => "(sensitive, removed)",
                _ => "(sensitive, changed)",
            };
            writeln!(f, "      {:width$} : {what}", d.field)?;
        } else {
            writeln!(
                f,
                "      {:width$} : {} -> {}",
                d.field,
                value(&d.old),
                value(&d.new)
            )?;
        }
    }
    Ok(())
}

impl fmt::Display for Plan {
    /// Resources that change are listed with their fields; unchanged ones are
    /// only counted. The last lines are the summary and the notes.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in &self.changes {
            let sym = c.change.symbol();
            match &c.change {
                Change::NoOp => continue,
                Change::Create { fields } => {
                    writeln!(f, "  {sym} {}", c.id)?;
                    write_diffs(f, fields, true)?;
                }
                Change::Update { diffs } => {
                    writeln!(f, "  {sym} {}", c.id)?;
                    write_diffs(f, diffs, false)?;
                }
                Change::Replace { reason, diffs } => {
                    writeln!(f, "{sym} {} (replace: {reason})", c.id)?;
                    write_diffs(f, diffs, false)?;
                }
                Change::Delete => writeln!(f, "  {sym} {}", c.id)?,
                Change::Adopt { detail } => writeln!(f, " {sym} {} (adopted: {detail})", c.id)?,
            }
        }
        if self.has_changes() {
            writeln!(f)?;
            writeln!(f, "Plan: {}.", self.summary())?;
        } else {
            writeln!(f, "No changes. {}.", self.summary())?;
        }
        for n in &self.notes {
            writeln!(f, "note: {n}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::{Change, Fields, Plan, PlannedChange, ResourceId};

    fn sample() -> Plan {
        let desired = Fields::new().with("image", "nginx:1.27").with_sensitive(
            "secret.DB_URL",
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf",
        );
        let observed = Fields::new().with("image", "nginx:1.26").with_sensitive(
            "secret.DB_URL",
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:old-AbCdEf",
        );
        let mut plan = Plan::new(vec![
            PlannedChange {
                id: ResourceId::new("ec2:vpc", "prod"),
                change: Change::compute(&Fields::new().with("cidr", "10.0.0.0/16"), None, &[]),
                depends_on: vec![],
            },
            PlannedChange {
                id: ResourceId::new("ecs:task-definition", "prod-web"),
                change: Change::compute(&desired, Some(&observed), &[]),
                depends_on: vec![],
            },
            PlannedChange {
                id: ResourceId::new("elbv2:target-group", "prod-web"),
                change: Change::compute(
                    &Fields::new().with("port", 8080),
                    Some(&Fields::new().with("port", 80)),
                    &["port"],
                ),
                depends_on: vec![],
            },
            PlannedChange {
                id: ResourceId::new("ecs:cluster", "prod"),
                change: Change::NoOp,
                depends_on: vec![],
            },
            PlannedChange {
                id: ResourceId::new("ecs:service", "prod/old"),
                change: Change::Delete,
                depends_on: vec![],
            },
            PlannedChange {
                id: ResourceId::new("ec2:subnet", "shared-a"),
                change: Change::Adopt {
                    detail: "subnet-0abc".into(),
                },
                depends_on: vec![],
            },
        ]);
        plan.note(
            "tasks run in public subnets with public IPs; inbound only from the load balancer",
        );
        plan
    }

    #[test]
    fn renders_like_terraform_plan() {
        let expected = r#"  + ec2:vpc prod
      cidr = "10.0.0.0/16"
  ~ ecs:task-definition prod-web
      image         : "nginx:1.26" -> "nginx:1.27"
      secret.DB_URL : (sensitive, changed)
-/+ elbv2:target-group prod-web (replace: port cannot change in place)
      port : 80 -> 8080
  - ecs:service prod/old
 <= ec2:subnet shared-a (adopted: subnet-0abc)

Plan: 1 to create, 1 to update, 1 to replace, 1 to destroy, 1 unchanged, 1 adopted.
note: tasks run in public subnets with public IPs; inbound only from the load balancer
"#;
        assert_eq!(sample().to_string(), expected);
    }

    #[test]
    fn sensitive_changes_say_what_happened_without_values() {
        let old = Fields::new()
            .with_sensitive("env.GONE", "old-1")
            .with_sensitive("env.TOKEN", "old-2");
        let new = Fields::new()
            .with_sensitive("env.NEW", "new-1")
            .with_sensitive("env.TOKEN", "new-2");
        let plan = Plan::new(vec![PlannedChange {
            id: ResourceId::new("scheduler:schedule", "default/prod-etl"),
            change: Change::compute(&new, Some(&old), &[]),
            depends_on: vec![],
        }]);
        let shown = plan.to_string();
        assert!(
            shown.contains("env.GONE  : (sensitive, removed)"),
            "{shown}"
        );
        assert!(shown.contains("env.NEW   : (sensitive, added)"), "{shown}");
        assert!(
            shown.contains("env.TOKEN : (sensitive, changed)"),
            "{shown}"
        );
        let json = plan.to_json().unwrap();
        for secret in ["old-1", "old-2", "new-1", "new-2"] {
            assert!(
                !shown.contains(secret) && !json.contains(secret),
                "{secret}"
            );
        }
    }

    #[test]
    fn empty_plan_says_no_changes() {
        let plan = Plan::new(vec![PlannedChange {
            id: ResourceId::new("ecs:cluster", "prod"),
            change: Change::NoOp,
            depends_on: vec![],
        }]);
        assert_eq!(
            plan.to_string(),
            "No changes. 0 to create, 0 to update, 0 to replace, 0 to destroy, 1 unchanged.\n"
        );
    }

    #[test]
    fn json_round_trips_and_never_contains_secrets() {
        let plan = sample();
        let json = plan.to_json().unwrap();
        assert!(!json.contains("secret:db-AbCdEf"));
        assert!(!json.contains("secret:old-AbCdEf"));
        let back: Plan = serde_json::from_str(&json).unwrap();
        assert_eq!(back, plan);
    }
}
