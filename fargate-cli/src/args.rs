//! The command line: global flags, the subcommands, and steps chained with `then`.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::exit::{BAD_INPUT, OK};
use crate::output::errln;

const LONG_ABOUT: &str = concat!(
    "Plan, deploy and operate the apps of an app description file on ECS Fargate.\n\n",
    "By default everything runs against a local AWS emulator (the moto server, installed on \
     first use; each invocation is a fresh, empty account). --aws uses your AWS config instead \
     (AWS_PROFILE, AWS_REGION, AWS_ENDPOINT_URL, ...); the banner on stderr names the endpoint \
     it really talks to.\n\n",
    "The app file: {\"environment\": {...}, \"apps\": [{\"kind\": \"service\" | \"frontend\" | \
     \"backend\" | \"job\", ...}]}. Its JSON Schema (every field, its type and default) is \
     fargate-cli/app-file.schema.json; `fargate schema` prints it. Point an editor at it with \
     \"$schema\" in the file (see examples/apps/*.json).\n\n",
    include_str!("exit_codes.txt")
);

const AFTER_HELP: &str = "\
Chain steps with `then` (one emulator account per invocation):
  fargate -f app.json apply then status then destroy
Save a plan, review it, apply exactly it (or nothing):
  fargate -f app.json plan --out p.json then apply --plan p.json

Exit codes: 0 ok, 1 failed, 2 plan/diff has changes, 3 bad input, 4 rollout
failed, 5 run: the task failed, 6 not deployed, 7 setup/environment, 8 stale
saved plan (--help says more).";

const AFTER_LONG_HELP: &str = "\
Chain steps with `then`: they run in order against the same account and stop at
the first failure (\"plan has changes\" does not stop the chain):
  fargate -f app.json apply then run etl --env ETL_JOB=full then destroy

Saved plans: `plan --out FILE` also writes the plan (JSON: the environment, its
generation, a digest of the input, every change; secrets redacted). `apply --plan
FILE` plans again and applies only if the new plan is exactly the saved one;
otherwise it applies nothing, names what differs (a resource's change, another
apply since, other input) and exits 8. On the emulator every invocation is a new
account: chain the steps, or use FARGATE_MOTO_URL with FARGATE_MOTO_ACCOUNT.

Environment:
  FARGATE_MOTO_SERVER  a moto_server binary to use instead of installing moto
  FARGATE_PYTHON       the Python that installs moto (default: python3)
  FARGATE_MOTO_URL     a moto server that is already running, used as the local
                       emulator instead of starting one (http://127.0.0.1:<port>;
                       loopback only; ignored with --aws)
  FARGATE_MOTO_ACCOUNT the 12-digit moto account to act in: on the emulator
                       (default: a fresh one per invocation; with FARGATE_MOTO_URL
                       separate invocations then share one account's state), and
                       with --aws on an endpoint override (AWS_ENDPOINT_URL, sent
                       as the x-moto-account-id header); refused with --aws on AWS
  AWS_MAX_ATTEMPTS     with --aws: attempts per AWS call (default 10, with backoff
                       up to 20 s: fargate-rs's retries for real accounts)
  RUST_LOG             tracing output on stderr, e.g. RUST_LOG=fargate_deploy=debug
  NO_COLOR             no colours";

/// Plan, deploy and operate the apps of an app description file on ECS Fargate.
#[derive(Parser, Debug)]
#[command(
    name = "fargate",
    version,
    long_about = LONG_ABOUT,
    after_help = AFTER_HELP,
    after_long_help = AFTER_LONG_HELP
)]
struct Cli {
    /// The app description file (JSON). Default: ./fargate.json.
    #[arg(short = 'f', long = "file", global = true, value_name = "FILE")]
    file: Option<PathBuf>,
    /// Print one JSON object per step on stdout, nothing else.
    #[arg(long, global = true)]
    json: bool,
    /// Use your AWS config (default credentials, AWS_PROFILE, AWS_REGION, AWS_ENDPOINT_URL)
    /// instead of the local emulator.
    #[arg(long, global = true)]
    aws: bool,
    /// Confirm changes to real AWS (`apply`, `destroy`, `rollback`, `continue` and `run` with
    /// `--aws`).
    #[arg(long, global = true)]
    yes: bool,
    /// Remove the environment's lock first, whoever holds it (only when that holder is
    /// gone: a crashed holder's lock also expires by itself within two minutes).
    #[arg(long, global = true)]
    force_unlock: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug, Clone)]
pub enum Command {
    /// Show what `apply` would do, with a cost estimate. Exit 0: no changes, 2: changes.
    Plan {
        /// Also save the plan to FILE (JSON), for `apply --plan FILE` after review.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Show only the resources that would change. Exit 0: no changes, 2: changes.
    Diff,
    /// Create or update the environment and apps, watching each rollout.
    Apply {
        /// Apply the plan saved by `plan --out FILE`, and only if planning again gives exactly
        /// that plan; otherwise nothing is applied (exit 8: stale plan).
        #[arg(long, value_name = "FILE")]
        plan: Option<PathBuf>,
    },
    /// Remove the apps and the environment (only what fargate-rs created).
    Destroy {
        /// Keep the environment (network, cluster, shared load balancers).
        #[arg(long)]
        apps_only: bool,
    },
    /// The state of an app's service (all services when no app is given). Exit 6: not deployed.
    Status {
        /// The app.
        app: Option<String>,
    },
    /// Run an app's task once now and wait for it (applies the app first).
    Run {
        /// The app.
        app: String,
        /// Set an environment variable for this run (repeatable).
        #[arg(short = 'e', long = "env", value_name = "NAME=VALUE")]
        env: Vec<String>,
        /// Give up after this many seconds.
        #[arg(long, default_value_t = 600)]
        timeout: u64,
        /// The command to run instead of the app's (after `--`).
        #[arg(last = true)]
        command: Vec<String>,
    },
    /// The last log lines of an app's most recent task; with --follow, then every new line
    /// of its containers until Ctrl-C (exit 0). Exit 6: not deployed.
    Logs {
        /// The app.
        app: String,
        /// How many lines.
        #[arg(short = 'n', long, default_value_t = 50)]
        lines: u32,
        /// Keep printing new lines (every container of the app, each line after its log
        /// stream) until Ctrl-C. (`-F`: `-f` is the app file.)
        #[arg(short = 'F', long)]
        follow: bool,
    },
    /// Roll an app's service back to its previous task definition. Exit 6: not deployed.
    Rollback {
        /// The app.
        app: String,
    },
    /// Continue an app's blue/green, linear or canary deployment paused at a lifecycle hook
    /// (ECS ContinueServiceDeployment). Exit 6: not deployed; 1: nothing in flight or not
    /// paused.
    Continue {
        /// The app.
        app: String,
        /// Roll the paused deployment back instead (the hook's ROLLBACK action).
        #[arg(long)]
        reject: bool,
    },
    /// Open a shell (or run COMMAND) in a running task of an app with ECS Exec, through the
    /// AWS Session Manager plugin (`session-manager-plugin` on PATH, or the path in
    /// FARGATE_SESSION_MANAGER_PLUGIN). The app needs `"enable_exec": true`, applied.
    /// Exit 6: not deployed; 7: no plugin; 1: no task to enter (the message says why).
    Exec {
        /// The app.
        app: String,
        /// The container (default: the app's main container, named like the app).
        #[arg(long, value_name = "NAME")]
        container: Option<String>,
        /// The command, after `--` (default `/bin/sh`).
        #[arg(last = true)]
        command: Vec<String>,
    },
    /// Print the JSON Schema of the app file (shipped as fargate-cli/app-file.schema.json);
    /// reads no file.
    Schema,
}

impl Command {
    pub fn name(&self) -> &'static str {
        match self {
            Command::Plan { .. } => "plan",
            Command::Diff => "diff",
            Command::Apply { .. } => "apply",
            Command::Destroy { .. } => "destroy",
            Command::Status { .. } => "status",
            Command::Run { .. } => "run",
            Command::Logs { .. } => "logs",
            Command::Rollback { .. } => "rollback",
            Command::Continue { .. } => "continue",
            Command::Exec { .. } => "exec",
            Command::Schema => "schema",
        }
    }

    pub fn app(&self) -> Option<&str> {
        match self {
            Command::Status { app } => app.as_deref(),
            Command::Run { app, .. }
            | Command::Logs { app, .. }
            | Command::Rollback { app }
            | Command::Continue { app, .. }
            | Command::Exec { app, .. } => Some(app),
            _ => None,
        }
    }

    pub fn mutates(&self) -> bool {
        matches!(
            self,
            Command::Apply { .. }
                | Command::Destroy { .. }
                | Command::Run { .. }
                | Command::Rollback { .. }
                | Command::Continue { .. }
                | Command::Exec { .. }
        )
    }
}

/// The whole command line: the file, the global flags and the steps in order.
pub struct Invocation {
    pub file: PathBuf,
    pub json: bool,
    pub aws: bool,
    pub yes: bool,
    pub force_unlock: bool,
    pub steps: Vec<Command>,
}

/// Split the arguments at `then` (not after `--`).
fn split_steps(args: impl IntoIterator<Item = OsString>) -> Vec<Vec<OsString>> {
    let mut steps = vec![Vec::new()];
    let mut rest_is_command = false;
    for a in args {
        if !rest_is_command && a == "then" {
            steps.push(Vec::new());
            continue;
        }
        if a == "--" {
            rest_is_command = true;
        }
        if let Some(last) = steps.last_mut() {
            last.push(a);
        }
    }
    steps
}

/// Parse the command line; `Err` is the exit code after clap printed help, the version or a
/// usage error.
pub fn parse(args: impl IntoIterator<Item = OsString>) -> Result<Invocation, u8> {
    let mut args = args.into_iter();
    let bin = args.next().unwrap_or_else(|| "fargate".into());
    let mut inv = Invocation {
        file: PathBuf::new(),
        json: false,
        aws: false,
        yes: false,
        force_unlock: false,
        steps: Vec::new(),
    };
    let mut file: Option<PathBuf> = None;
    for segment in split_steps(args) {
        let cli = match Cli::try_parse_from(std::iter::once(bin.clone()).chain(segment)) {
            Ok(cli) => cli,
            Err(e) if e.use_stderr() => {
                let _ = e.print();
                return Err(BAD_INPUT);
            }
            Err(e) => {
                let _ = e.print();
                return Err(OK);
            }
        };
        if let (Some(a), Some(b)) = (&file, &cli.file)
            && a != b
        {
            errln!(
                "bad input: one invocation reads one file, but both {} and {} were given",
                a.display(),
                b.display()
            );
            return Err(BAD_INPUT);
        }
        file = file.or(cli.file);
        inv.json |= cli.json;
        inv.aws |= cli.aws;
        inv.yes |= cli.yes;
        inv.force_unlock |= cli.force_unlock;
        inv.steps.push(cli.command);
    }
    inv.file = file.unwrap_or_else(|| PathBuf::from("fargate.json"));
    Ok(inv)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_definition_is_valid() {
        Cli::command().debug_assert();
    }

    #[test]
    fn steps_split_at_then_but_not_inside_a_run_command() {
        let args = ["apply", "then", "run", "etl", "--", "echo", "then", "x"]
            .map(OsString::from)
            .to_vec();
        let steps = split_steps(args);
        assert_eq!(steps.len(), 2);
        assert_eq!(
            steps[1],
            ["run", "etl", "--", "echo", "then", "x"].map(OsString::from)
        );
    }

    #[test]
    fn chained_steps_share_the_file_and_flags() {
        let args = [
            "fargate", "-f", "a.json", "plan", "then", "status", "web", "--json",
        ];
        let inv = parse(args.map(OsString::from)).unwrap();
        assert_eq!(inv.file, PathBuf::from("a.json"));
        assert!(inv.json && !inv.aws);
        let names: Vec<&str> = inv.steps.iter().map(Command::name).collect();
        assert_eq!(names, ["plan", "status"]);
    }

    #[test]
    fn logs_follow_is_a_flag_of_logs_and_dash_f_stays_the_file() {
        let args = [
            "fargate", "logs", "web", "--follow", "-f", "a.json", "-n", "5",
        ];
        let inv = parse(args.map(OsString::from)).unwrap();
        assert_eq!(inv.file, PathBuf::from("a.json"));
        match &inv.steps[..] {
            [Command::Logs { app, lines, follow }] => {
                assert_eq!((app.as_str(), *lines, *follow), ("web", 5, true));
            }
            other => panic!("expected one logs step, got {other:?}"),
        }
        let inv = parse(["fargate", "logs", "web", "-F"].map(OsString::from)).unwrap();
        assert!(matches!(
            &inv.steps[..],
            [Command::Logs { follow: true, .. }]
        ));
        let inv = parse(["fargate", "logs", "web"].map(OsString::from)).unwrap();
        assert!(matches!(
            &inv.steps[..],
            [Command::Logs { follow: false, .. }]
        ));
    }

    #[test]
    fn continue_names_its_app_mutates_and_takes_reject() {
        let inv = parse(["fargate", "continue", "web"].map(OsString::from)).unwrap();
        let step = &inv.steps[0];
        assert_eq!((step.name(), step.app()), ("continue", Some("web")));
        assert!(step.mutates());
        assert!(matches!(step, Command::Continue { reject: false, .. }));
        let inv = parse(["fargate", "continue", "web", "--reject"].map(OsString::from)).unwrap();
        assert!(matches!(
            &inv.steps[..],
            [Command::Continue { reject: true, .. }]
        ));
        assert!(parse(["fargate", "continue"].map(OsString::from)).is_err());
    }
}
