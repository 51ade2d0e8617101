//! The app file's JSON Schema: `fargate schema` prints what is shipped, `--help` points to it.

use crate::{own_emulator, run, text};

/// The binary with no emulator at all (none is needed).
fn fargate(args: &[&str]) -> std::process::Output {
    run(own_emulator()
        .args(args)
        .env("FARGATE_MOTO_SERVER", "/nonexistent"))
}

const SHIPPED: &str = "app-file.schema.json";

#[test]
fn the_shipped_schema_is_the_one_generated_from_the_types() {
    let out = fargate(&["schema"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let generated = text(&out.stdout);
    let path = format!("{}/{SHIPPED}", env!("CARGO_MANIFEST_DIR"));
    let shipped = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        shipped == generated,
        "fargate-cli/{SHIPPED} is not the schema generated from the types; regenerate it \
         with:\n  cargo run -p fargate-cli -- schema > fargate-cli/{SHIPPED}"
    );
    let schema: serde_json::Value = serde_json::from_str(&generated).unwrap();
    assert_eq!(schema["title"], "fargate app file");
    // `--json`: the same schema on one line.
    let out = fargate(&["schema", "--json"]);
    let one_line = text(&out.stdout);
    assert_eq!(one_line.lines().count(), 1);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&one_line).unwrap(),
        schema
    );
}

#[test]
fn help_names_the_schema_file_and_the_subcommand() {
    for flag in ["--help", "-h"] {
        let out = fargate(&[flag]);
        assert_eq!(out.status.code(), Some(0));
        let help = text(&out.stdout);
        assert!(
            help.contains("fargate-cli/app-file.schema.json"),
            "{flag}:\n{help}"
        );
        assert!(help.contains("schema"), "{flag}:\n{help}");
    }
    let help = text(&fargate(&["--help"]).stdout);
    assert!(help.contains("`fargate schema` prints it"), "{help}");
}
