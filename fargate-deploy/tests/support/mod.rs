//! Shared helpers for fargate-deploy's tests.
#![allow(dead_code)]

use fargate_deploy::{AwsContext, Clients};
use fargate_net::NetClients;
use fargate_testkit::aws_smithy_mocks::{Rule, RuleMode};
use fargate_testkit::mock_sdk_client;

/// Mocked rules per service; any call to a service without rules panics
/// ("no rule matched"), so a test proves which services were called.
#[derive(Default)]
pub struct Mocks<'a> {
    pub ecs: Vec<&'a Rule>,
    pub ecr: Vec<&'a Rule>,
    pub ec2: Vec<&'a Rule>,
    pub elb: Vec<&'a Rule>,
    pub iam: Vec<&'a Rule>,
    pub logs: Vec<&'a Rule>,
    pub scheduler: Vec<&'a Rule>,
    pub apigw: Vec<&'a Rule>,
    pub autoscaling: Vec<&'a Rule>,
}

pub fn aws() -> AwsContext {
    AwsContext {
        account_id: "123456789012".into(),
        region: "us-east-1".into(),
        partition: "aws".into(),
    }
}

impl Mocks<'_> {
    pub fn clients(&self) -> Clients {
        Clients {
            net: NetClients {
                ec2: mock_sdk_client!(aws_sdk_ec2, RuleMode::MatchAny, self.ec2.iter().copied()),
                elb: mock_sdk_client!(
                    aws_sdk_elasticloadbalancingv2,
                    RuleMode::MatchAny,
                    self.elb.iter().copied()
                ),
                apigw: mock_sdk_client!(
                    aws_sdk_apigatewayv2,
                    RuleMode::MatchAny,
                    self.apigw.iter().copied()
                ),
            },
            ecs: mock_sdk_client!(aws_sdk_ecs, RuleMode::MatchAny, self.ecs.iter().copied()),
            ecr: mock_sdk_client!(aws_sdk_ecr, RuleMode::MatchAny, self.ecr.iter().copied()),
            iam: mock_sdk_client!(aws_sdk_iam, RuleMode::MatchAny, self.iam.iter().copied()),
            logs: mock_sdk_client!(
                aws_sdk_cloudwatchlogs,
                RuleMode::MatchAny,
                self.logs.iter().copied()
            ),
            scheduler: mock_sdk_client!(
                aws_sdk_scheduler,
                RuleMode::MatchAny,
                self.scheduler.iter().copied()
            ),
            autoscaling: mock_sdk_client!(
                aws_sdk_applicationautoscaling,
                RuleMode::MatchAny,
                self.autoscaling.iter().copied()
            ),
            aws: aws(),
        }
    }
}
