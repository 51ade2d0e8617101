//! # fargate-net
//!
//! The network side of fargate-rs, one module per AWS resource kind, each
//! implementing [`fargate_core::Kind`]: VPC, subnets, internet gateway,
//! route tables and NAT gateways ([`network`]), security groups
//! ([`security_group`]), load balancers ([`load_balancer`]), target groups
//! ([`target_group`]), listeners and listener rules ([`listener`]), and API
//! Gateway HTTP APIs with VPC links ([`api_gateway`]).
//!
//! Resources are found by their ownership tags or by name, never by listing
//! the account; a resource with our name but without our tags is never
//! touched. Most users reach these through `fargate-deploy`'s builders.
#![deny(missing_docs)]
// Library code never panics on input or AWS data; tests may.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod api_gateway;
pub mod deferred;
mod elb;
pub mod listener;
pub mod load_balancer;
pub mod tagging;
pub mod target_group;

pub use api_gateway::{HttpApiSpec, VpcLinkSpec};
pub use listener::{AdoptedListener, ListenerRuleSpec, ListenerSpec};
pub use load_balancer::{AdoptedLoadBalancer, LoadBalancerSpec};
pub use target_group::{OrphanedTargetGroups, TargetGroupSpec};

use aws_smithy_runtime_api::client::interceptors::SharedInterceptor;
use aws_types::SdkConfig;
use fargate_core::limit::RequestLimits;

/// The SDK clients the network resources use.
#[derive(Debug, Clone)]
pub struct NetClients {
    /// EC2 (VPC, subnets, security groups, NAT).
    pub ec2: aws_sdk_ec2::Client,
    /// Elastic Load Balancing v2 (ALB, NLB, target groups, listeners).
    pub elb: aws_sdk_elasticloadbalancingv2::Client,
    /// API Gateway v2 (HTTP APIs, VPC links).
    pub apigw: aws_sdk_apigatewayv2::Client,
}

impl NetClients {
    /// Clients from a shared config, with extra interceptors (e.g. a call recorder) on each
    /// and AWS's default request limits ([`RequestLimits::aws`]).
    pub fn new(sdk: &SdkConfig, interceptors: &[SharedInterceptor]) -> Self {
        Self::with_limits(sdk, interceptors, &RequestLimits::aws())
    }

    /// Like [`NetClients::new`], with these request limits.
    pub fn with_limits(
        sdk: &SdkConfig,
        interceptors: &[SharedInterceptor],
        limits: &RequestLimits,
    ) -> Self {
        Self {
            ec2: fargate_core::sdk_client!(aws_sdk_ec2, sdk, interceptors, limits, "EC2"),
            elb: fargate_core::sdk_client!(
                aws_sdk_elasticloadbalancingv2,
                sdk,
                interceptors,
                limits,
                "ElasticLoadBalancingv2"
            ),
            apigw: fargate_core::sdk_client!(
                aws_sdk_apigatewayv2,
                sdk,
                interceptors,
                limits,
                "ApiGatewayV2"
            ),
        }
    }
}

impl AsRef<NetClients> for NetClients {
    fn as_ref(&self) -> &NetClients {
        self
    }
}

pub mod network;
pub use network::{AdoptSpec, Egress, Network, NetworkSpec};

pub mod security_group;
pub use security_group::{GroupRef, IngressRule, SecurityGroupSpec};
