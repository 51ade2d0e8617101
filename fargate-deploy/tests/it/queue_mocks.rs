//! SQS queues against mocked clients: the exact calls of creating a queue worker's
//! dead-letter queue and queue (its `RedrivePolicy` names the dead-letter queue's ARN), a
//! re-apply with no mutating call, an attribute change as one `SetQueueAttributes`, and a
//! same-named queue without our tags refused before any change.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use fargate_core::exec::RunOptions;
use fargate_core::resource::node;
use fargate_core::tags::Ownership;
use fargate_core::{Error, Executable, Ident, Mode, Resource, Tags};
use fargate_deploy::Clients;
use fargate_deploy::queue::{QueueWorker, queue_url};
use fargate_testkit::aws_sdk_sqs::Client as Sqs;
use fargate_testkit::aws_sdk_sqs::operation::create_queue::CreateQueueOutput;
use fargate_testkit::aws_sdk_sqs::operation::get_queue_attributes::GetQueueAttributesOutput;
use fargate_testkit::aws_sdk_sqs::operation::get_queue_url::{GetQueueUrlError, GetQueueUrlOutput};
use fargate_testkit::aws_sdk_sqs::operation::list_queue_tags::ListQueueTagsOutput;
use fargate_testkit::aws_sdk_sqs::operation::set_queue_attributes::SetQueueAttributesOutput;
use fargate_testkit::aws_sdk_sqs::types::QueueAttributeName;
use fargate_testkit::aws_sdk_sqs::types::error::QueueDoesNotExist;
use fargate_testkit::aws_smithy_mocks::{Rule, mock};

use crate::support::{Mocks, aws};

const URL: &str = "https://sqs.us-east-1.amazonaws.com/123456789012/prod-worker";
const DLQ_URL: &str = "https://sqs.us-east-1.amazonaws.com/123456789012/prod-worker-dlq";
const ARN: &str = "arn:aws:sqs:us-east-1:123456789012:prod-worker";
const DLQ_ARN: &str = "arn:aws:sqs:us-east-1:123456789012:prod-worker-dlq";

fn ident(s: &str) -> Ident {
    s.parse().unwrap()
}

fn resources(q: &QueueWorker) -> Vec<Arc<dyn Resource<Clients>>> {
    q.expand(&ident("prod"), &ident("worker"), &aws(), &Tags::new())
        .unwrap()
        .specs
        .into_iter()
        .map(node)
        .collect()
}

fn url_of(name: &str) -> &'static str {
    if name.ends_with("-dlq") { DLQ_URL } else { URL }
}

fn arn_of(url: &str) -> &'static str {
    if url == DLQ_URL { DLQ_ARN } else { ARN }
}

fn absent() -> Rule {
    mock!(Sqs::get_queue_url)
        .then_error(|| GetQueueUrlError::QueueDoesNotExist(QueueDoesNotExist::builder().build()))
}

fn found_named() -> [Rule; 2] {
    [DLQ_URL, URL].map(|url| {
        let name = url.rsplit('/').next().unwrap().to_string();
        mock!(Sqs::get_queue_url)
            .match_requests(move |r| r.queue_name() == Some(name.as_str()))
            .then_output(move || GetQueueUrlOutput::builder().queue_url(url).build())
    })
}

fn tags(owned: bool) -> Rule {
    mock!(Sqs::list_queue_tags).then_output(move || {
        let mut tags: HashMap<String, String> = HashMap::new();
        if owned {
            for (k, v) in Ownership::new(ident("prod"))
                .with_app(ident("worker"))
                .tags()
            {
                tags.insert(k, v);
            }
        }
        ListQueueTagsOutput::builder().set_tags(Some(tags)).build()
    })
}

/// `GetQueueAttributes` of both queues: the main queue with `visibility`, the dead-letter
/// queue with 60 s; the default retentions and redrive.
fn observed(visibility: &'static str) -> Rule {
    mock!(Sqs::get_queue_attributes).then_compute_output(move |r| {
        let url = r.queue_url().unwrap_or_default();
        let mut b = GetQueueAttributesOutput::builder()
            .attributes(QueueAttributeName::QueueArn, arn_of(url));
        if url == DLQ_URL {
            b = b
                .attributes(QueueAttributeName::VisibilityTimeout, "60")
                .attributes(QueueAttributeName::MessageRetentionPeriod, "1209600");
        } else {
            b = b
                .attributes(QueueAttributeName::VisibilityTimeout, visibility)
                .attributes(QueueAttributeName::MessageRetentionPeriod, "345600")
                .attributes(
                    QueueAttributeName::RedrivePolicy,
                    format!(r#"{{"deadLetterTargetArn":"{DLQ_ARN}","maxReceiveCount":5}}"#),
                );
        }
        b.build()
    })
}

async fn run(
    clients: &Clients,
    q: &QueueWorker,
) -> Result<(fargate_core::Plan, fargate_core::exec::Outputs), Error> {
    let exe = Executable::plan(clients, &resources(q), Mode::Apply).await?;
    let (plan, graph) = exe.into_graph(clients.clone()).unwrap();
    let outputs = graph
        .run(RunOptions::default())
        .await
        .into_result()
        .unwrap();
    Ok((plan, outputs))
}

fn worker(visibility: u32) -> QueueWorker {
    QueueWorker {
        visibility_timeout_secs: visibility,
        ..QueueWorker::default()
    }
}

#[tokio::test]
async fn creating_makes_the_dead_letter_queue_then_the_queue_redriving_to_it() {
    let get_url = absent();
    let order = Arc::new(Mutex::new(Vec::<String>::new()));
    let seen = order.clone();
    let create = mock!(Sqs::create_queue)
        .match_requests(move |r| {
            let name = r.queue_name().unwrap_or_default().to_string();
            let a = r.attributes().cloned().unwrap_or_default();
            let tagged = r.tags().is_some_and(|t| {
                t.get("fargate:environment").map(String::as_str) == Some("prod")
                    && t.get("fargate:app").map(String::as_str) == Some("worker")
            });
            let get = |k: QueueAttributeName| a.get(&k).map(String::as_str);
            let ok = tagged
                && get(QueueAttributeName::VisibilityTimeout) == Some("30")
                && if name == "prod-worker-dlq" {
                    get(QueueAttributeName::MessageRetentionPeriod) == Some("1209600")
                        && get(QueueAttributeName::RedrivePolicy).is_none()
                } else {
                    let policy: serde_json::Value = get(QueueAttributeName::RedrivePolicy)
                        .and_then(|p| serde_json::from_str(p).ok())
                        .unwrap_or_default();
                    name == "prod-worker"
                        && get(QueueAttributeName::MessageRetentionPeriod) == Some("345600")
                        && policy["deadLetterTargetArn"] == DLQ_ARN
                        && policy["maxReceiveCount"] == "5"
                };
            if ok {
                seen.lock().unwrap().push(name);
            }
            ok
        })
        .then_compute_output(|r| {
            CreateQueueOutput::builder()
                .queue_url(url_of(r.queue_name().unwrap_or_default()))
                .build()
        });
    let arn = mock!(Sqs::get_queue_attributes)
        .match_requests(|r| r.attribute_names() == [QueueAttributeName::QueueArn])
        .then_compute_output(|r| {
            GetQueueAttributesOutput::builder()
                .attributes(
                    QueueAttributeName::QueueArn,
                    arn_of(r.queue_url().unwrap_or_default()),
                )
                .build()
        });
    let clients = Mocks {
        sqs: vec![&get_url, &create, &arn],
        ..Mocks::default()
    }
    .clients();
    let (plan, outputs) = run(&clients, &QueueWorker::default()).await.unwrap();
    assert_eq!(plan.summary().create, 2, "{plan}");
    assert_eq!(get_url.num_calls(), 2);
    assert_eq!(create.num_calls(), 2);
    assert_eq!(
        *order.lock().unwrap(),
        ["prod-worker-dlq", "prod-worker"],
        "the dead-letter queue first"
    );
    assert_eq!(outputs.get(&queue_url("prod-worker")).unwrap(), URL);
}

#[tokio::test]
async fn an_unchanged_queue_is_a_no_op_without_mutating_calls() {
    let [dlq, main] = found_named();
    let tags = tags(true);
    let q60 = worker(60);
    let attrs60 = observed("60");
    // Only read rules: any CreateQueue or SetQueueAttributes would match no rule and fail.
    let clients = Mocks {
        sqs: vec![&dlq, &main, &tags, &attrs60],
        ..Mocks::default()
    }
    .clients();
    let (plan, outputs) = run(&clients, &q60).await.unwrap();
    assert!(!plan.has_changes(), "{plan}");
    assert_eq!(outputs.get(&queue_url("prod-worker")).unwrap(), URL);
}

#[tokio::test]
async fn a_changed_visibility_timeout_is_one_set_queue_attributes() {
    let [dlq, main] = found_named();
    let tags = tags(true);
    // The main queue has 30 s, the dead-letter queue already 60 s.
    let attrs = observed("30");
    let set = mock!(Sqs::set_queue_attributes)
        .match_requests(|r| {
            let a = r.attributes().cloned().unwrap_or_default();
            r.queue_url() == Some(URL)
                && a.get(&QueueAttributeName::VisibilityTimeout)
                    .map(String::as_str)
                    == Some("60")
                && a.contains_key(&QueueAttributeName::RedrivePolicy)
        })
        .then_output(|| SetQueueAttributesOutput::builder().build());
    let clients = Mocks {
        sqs: vec![&dlq, &main, &tags, &attrs, &set],
        ..Mocks::default()
    }
    .clients();
    let (plan, _) = run(&clients, &worker(60)).await.unwrap();
    assert_eq!(plan.summary().update, 1, "{plan}");
    assert_eq!(set.num_calls(), 1);
}

#[tokio::test]
async fn a_same_named_queue_without_our_tags_is_refused() {
    let [dlq, main] = found_named();
    let tags = tags(false);
    let clients = Mocks {
        sqs: vec![&dlq, &main, &tags],
        ..Mocks::default()
    }
    .clients();
    let err = Executable::plan(&clients, &resources(&worker(60)), Mode::Apply)
        .await
        .err()
        .unwrap();
    assert!(matches!(err.original(), Error::NotOwned { .. }), "{err:?}");
}
