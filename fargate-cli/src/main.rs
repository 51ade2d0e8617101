#![doc = concat!(r#"
`fargate`: a small command-line tool over fargate-rs for internal tooling.

Install it with `cargo install --path fargate-cli` (from a checkout of fargate-rs), or run it
in place with `cargo run -p fargate-cli -- <args>`.

It reads an app description file (JSON, see `examples/apps/*.json`): an
environment and its apps (`service`, `frontend`, `backend`, `job`), mapped
onto the typed builders, which validate it before any AWS call.

```sh
fargate -f examples/apps/dashboard.json plan           # exit 2 when there are changes
fargate -f examples/apps/dashboard.json apply
fargate -f examples/apps/dashboard.json status api
fargate -f examples/apps/dashboard.json run etl --env ETL_JOB=full -- python -c 'print(1)'
fargate -f examples/apps/dashboard.json logs api -n 100
fargate -f examples/apps/dashboard.json rollback api
fargate -f examples/apps/dashboard.json destroy
```

**Where it deploys.** By default to the local AWS emulator (the moto server from
`fargate-local`, installed into a Python venv on first use; `FARGATE_MOTO_SERVER` names a
`moto_server` to use instead). `--aws` uses your AWS config — default credentials,
`AWS_PROFILE`, `AWS_REGION`, and `AWS_ENDPOINT_URL` when set — and `apply`, `destroy`,
`rollback` and `run` then need `--yes`. The banner on stderr names what it really talks to:
the emulator's URL and account, the endpoint override, or `AWS <region>` only when no endpoint
is overridden.

**A moto server that is already running.** `FARGATE_MOTO_URL=http://127.0.0.1:<port>` makes
the local emulator that server instead of one started for the invocation (seconds faster; a
test harness or a long session shares one server): each invocation still gets a fresh, empty
account. `FARGATE_MOTO_ACCOUNT=<12 digits>` picks the account instead, so separate invocations
see one account's state (`apply`, later `status`, later `destroy`); with `--aws` and an endpoint
override (`AWS_ENDPOINT_URL` pointing at moto) it is sent as moto's `x-moto-account-id` header,
and with `--aws` on AWS itself it is refused. The banner names the URL and the account.

**The emulator and memory.** moto's RunTask fails (HTTP 500) when no container sets `memory`
or `memoryReservation`. On the local emulator, an app without `memory_reservation` therefore
gets one equal to its task memory, and a note says so; nothing is added with `--aws`. On an
endpoint override a failed `run` of such an app says which field to set.

**The emulator and secrets.** The emulator starts every invocation with an empty account, so
the SSM parameters and Secrets Manager secrets the apps reference (and that the pre-flight
check requires) are created there with a placeholder value, each with a note. With `--aws`
they must exist.

**Steps in one invocation.** The emulator is a fresh, empty account for
every process, so against it one invocation must do the whole cycle. Chain
steps with the word `then`; they run in order against the same account and
stop at the first failure (like `&&`, except that "plan has changes" and
"not deployed" from `status` do not stop the chain):

```sh
fargate -f examples/apps/worker.json apply then plan then status then destroy
```

`then` is reserved as the separator (an app cannot be called `then`), except
after `--` in `run`, where everything left is the command.

**Output.** Human output is coloured when stdout is a terminal and
`NO_COLOR` is unset; long work shows progress bars on stderr. With `--json`
every step prints one JSON object on one line of stdout (JSON Lines), with
`"command"` naming the step and, on failure, `"error"`; nothing else goes
to stdout. `RUST_LOG` (for example `RUST_LOG=fargate_deploy=debug`) turns on
`tracing` output on stderr; without it there is none.

**Task definitions.** An app entry may say `"task_definition": "file.json"`, an
AWS CLI `register-task-definition --cli-input-json` document (relative to the
app file): its main container (named like the app, else the first essential
one) fills the entry's unset fields (image, size, architecture, command,
environment, secrets, port, memory reservation, `CMD-SHELL` health check,
tags) and its other containers become the app's `sidecars` (with their cpu,
memory, ports, health checks, `dependsOn`, init process, capabilities and
ulimits). fargate-rs keeps its own family, roles and log group (a note says
so); what an app file cannot express (a task role ARN, volumes, the main
container's entry point, ...) is refused as bad input, naming the field.
Likewise `"service_definition": "file.json"`, an AWS CLI `create-service
--cli-input-json` document or `describe-services` output, fills the desired
count, ECS Exec, the Fargate Spot weight, the rolling deployment's settings,
the health check grace period and tags; the cluster, network, name, task
definition and load balancer stay the environment's and the app's own. A job's
`"run_task_definition": "file.json"`, an AWS CLI `run-task --cli-input-json`
document, fills its `job_env`, `job_command` and tags from the container
override (one task, on-demand Fargate, no ECS Exec, no EBS volume).

**It never panics.** Every failure is one of the exit codes below, with a reason on stderr
(and a JSON `"error"` object with `--json`).

# Exit codes

```text
"#, include_str!("exit_codes.txt"), "\n```\n")]

mod app_file;
mod args;
mod commands;
mod connect;
mod emulator;
mod exit;
mod output;

use std::io::IsTerminal;
use std::panic::AssertUnwindSafe;
use std::process::ExitCode;

use output::{Out, Paint, errln};

fn main() -> ExitCode {
    fargate_local::init_tracing();
    // A bug that panics anyway is reported as one line and exit code 1, not a backtrace and 101.
    std::panic::set_hook(Box::new(|info| {
        errln!("error: internal error (a bug in fargate, please report it): {info}");
    }));
    let code = std::panic::catch_unwind(AssertUnwindSafe(run)).unwrap_or(exit::FAILED);
    ExitCode::from(code)
}

fn run() -> u8 {
    let inv = match args::parse(std::env::args_os()) {
        Ok(inv) => inv,
        Err(code) => return code,
    };
    let out = Out {
        json: inv.json,
        paint: Paint::for_stream(std::io::stdout().is_terminal()),
        err: Paint::for_stream(std::io::stderr().is_terminal()),
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            exit::Failure::setup(format!("cannot start the async runtime: {e}"))
                .report(&out, "start");
            return exit::SETUP;
        }
    };
    runtime.block_on(commands::run(inv, out))
}
