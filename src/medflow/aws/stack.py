"""The CDK stack: medflow on AWS, with the same pipelines as on one machine.

What it creates (see README "Deploy to AWS"):

* a KMS key (rotated) that encrypts the data buckets, the database, the queues and the topic;
* one private S3 bucket per medflow bucket (block public access, TLS-only bucket policy,
  KMS encryption, access logs; versioning on ``raw``, where originals are kept forever);
* an SQS queue (with its dead-letter queue) receiving the raw bucket's ``ObjectCreated`` events,
  read by the ``Ingest`` function;
* a VPC, PostgreSQL on RDS (encrypted, credentials in Secrets Manager), the signing secret;
* one container image (``deploy/aws/Dockerfile``) for every function and task: per pipeline a
  step function with only the permissions its profile lists (``profiles.yaml``), a failure
  (quarantine) function, the imaging sweep and notification retries on EventBridge schedules,
  a migration run on deploy;
* per pipeline a Step Functions state machine generated from its declaration
  (:mod:`medflow.aws.asl`); steps too long for Lambda run as Fargate tasks of the same image;
* CloudWatch alarms (failed and timed-out executions, dead letters, ingest errors) on an SNS
  topic;
* the portal as a Fargate service behind an Application Load Balancer.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecr_assets as ecr_assets
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_ecs_patterns as ecs_patterns
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_logs as logs
from aws_cdk import aws_rds as rds
from aws_cdk import aws_route53 as route53
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_notifications as s3n
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subs
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import triggers
from constructs import Construct

from medflow.aws.asl import (
    compute_for,
    lambda_timeout_s,
    placeholder_name,
    placeholders,
    state_machine,
)
from medflow.aws.settings import BUCKETS, Access, DeploySettings, Profile, load_profiles
from medflow.errors import ConfigError
from medflow.platform.runner.declaration import Pipeline

READ_ACTIONS = ("s3:GetObject",)
LIST_ACTIONS = ("s3:ListBucket",)
WRITE_ACTIONS = ("s3:PutObject", "s3:AbortMultipartUpload")
DELETE_ACTIONS = ("s3:DeleteObject",)
BUCKET_ACTIONS = frozenset(READ_ACTIONS + LIST_ACTIONS + WRITE_ACTIONS + DELETE_ACTIONS)
"""Every S3 action any medflow role gets on a data bucket: named one by one, no wildcards."""

DOCKERFILE = "deploy/aws/Dockerfile"
CONTAINER = "medflow"

# What the image build context leaves out (the stack copies the context into cdk.out).
ASSET_EXCLUDES = [
    ".git",
    ".venv",
    "**/__pycache__",
    "*.pyc",
    ".mypy_cache",
    ".ruff_cache",
    ".pytest_cache",
    "medflow-data",
    "cdk.out",
    "node_modules",
    "tests",
    "benchmarks",
    "docs",
    ".bench",
    "*.egg-info",
]


def _resource_id(name: str) -> str:
    return placeholder_name(name, "")


class MedflowStack(cdk.Stack):
    """Everything medflow needs on AWS, in one stack.

    Args:
        scope: the app.
        construct_id: the stack's id.
        pipelines: the declarations to deploy (each becomes a state machine).
        deploy: the context settings.
        source_dir: the folder holding ``deploy/aws/Dockerfile`` and the package (the image's
            build context).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        pipelines: Sequence[Pipeline],
        deploy: DeploySettings,
        source_dir: Path,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        if not (source_dir / DOCKERFILE).is_file():
            raise ConfigError(f"{source_dir / DOCKERFILE} not found: pass the medflow checkout")
        self.deploy = deploy
        profiles, self.failure_profile = load_profiles()
        missing = [p.name for p in pipelines if p.name not in profiles]
        if missing:
            raise ConfigError(
                f"no profile in medflow/aws/profiles.yaml for pipelines: {', '.join(missing)}"
            )
        self.pipelines = list(pipelines)
        self.profiles = profiles

        self.key = kms.Key(
            self,
            "DataKey",
            enable_key_rotation=True,
            description="medflow: buckets, database, queues, topic",
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
        self._storage()
        self._network_and_database()
        self._alarm_topic()
        self._compute(source_dir)
        self._state_machines()
        self._ingest()
        self._schedules()
        if deploy.portal:
            self._portal()
        self._alarms()

    # -- storage ----------------------------------------------------------------------------

    def _storage(self) -> None:
        self.log_bucket = s3.Bucket(
            self,
            "AccessLogs",
            encryption=s3.BucketEncryption.S3_MANAGED,  # log delivery cannot use a KMS key
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_PREFERRED,
            lifecycle_rules=[s3.LifecycleRule(expiration=cdk.Duration.days(365))],
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
        self.buckets: dict[str, s3.Bucket] = {}
        for name in BUCKETS:
            self.buckets[name] = s3.Bucket(
                self,
                f"{_resource_id(name)}Bucket",
                encryption=s3.BucketEncryption.KMS,
                encryption_key=self.key,
                bucket_key_enabled=True,
                block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
                enforce_ssl=True,
                versioned=name == "raw",
                server_access_logs_bucket=self.log_bucket,
                server_access_logs_prefix=f"{name}/",
                object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
                removal_policy=cdk.RemovalPolicy.RETAIN,
                cors=[
                    s3.CorsRule(
                        allowed_methods=[s3.HttpMethods.PUT],
                        allowed_origins=[self._portal_origin()],
                        allowed_headers=["*"],
                        max_age=3000,
                    )
                ]
                if name == "raw"
                else None,
            )

    def _portal_origin(self) -> str:
        return f"https://{self.deploy.domain_name}" if self.deploy.domain_name else "*"

    # -- network, database, secrets ---------------------------------------------------------

    def _network_and_database(self) -> None:
        d = self.deploy
        if d.vpc_id:
            self.vpc = ec2.Vpc.from_lookup(self, "Vpc", vpc_id=d.vpc_id)
        else:
            self.vpc = ec2.Vpc(
                self,
                "Vpc",
                max_azs=d.max_azs,
                nat_gateways=d.nat_gateways,
                subnet_configuration=[
                    ec2.SubnetConfiguration(name="public", subnet_type=ec2.SubnetType.PUBLIC),
                    ec2.SubnetConfiguration(
                        name="app", subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS
                    ),
                    ec2.SubnetConfiguration(
                        name="data", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED
                    ),
                ],
                gateway_endpoints={
                    "S3": ec2.GatewayVpcEndpointOptions(service=ec2.GatewayVpcEndpointAwsService.S3)
                },
            )
        self.app_sg = ec2.SecurityGroup(
            self, "AppSecurityGroup", vpc=self.vpc, description="medflow functions and tasks"
        )
        db_sg = ec2.SecurityGroup(
            self,
            "DatabaseSecurityGroup",
            vpc=self.vpc,
            description="medflow database: PostgreSQL from the app only",
            allow_all_outbound=False,
        )
        db_sg.add_ingress_rule(self.app_sg, ec2.Port.tcp(5432), "PostgreSQL from medflow")
        self.database = rds.DatabaseInstance(
            self,
            "Database",
            engine=rds.DatabaseInstanceEngine.postgres(version=rds.PostgresEngineVersion.VER_17),
            instance_type=ec2.InstanceType(d.db_instance_class),
            vpc=self.vpc,
            vpc_subnets=ec2.SubnetSelection(
                subnet_type=ec2.SubnetType.PRIVATE_ISOLATED
                if not d.vpc_id
                else ec2.SubnetType.PRIVATE_WITH_EGRESS
            ),
            security_groups=[db_sg],
            database_name="medflow",
            credentials=rds.Credentials.from_generated_secret("medflow"),
            storage_encrypted=True,
            storage_encryption_key=self.key,
            allocated_storage=20,
            max_allocated_storage=200,
            multi_az=d.db_multi_az,
            backup_retention=cdk.Duration.days(7),
            deletion_protection=d.deletion_protection,
            publicly_accessible=False,
            auto_minor_version_upgrade=True,
            removal_policy=cdk.RemovalPolicy.SNAPSHOT,
        )
        assert self.database.secret is not None
        self.db_secret: secretsmanager.ISecret = self.database.secret
        self.signing_secret = secretsmanager.Secret(
            self,
            "SigningSecret",
            description="medflow: HMAC key for signed URLs, patient links, de-identification",
            generate_secret_string=secretsmanager.SecretStringGenerator(
                password_length=64, exclude_punctuation=True
            ),
        )

    def _alarm_topic(self) -> None:
        self.alarm_topic = sns.Topic(self, "AlarmTopic", master_key=self.key)
        self.alarm_topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="TlsOnly",
                effect=iam.Effect.DENY,
                principals=[iam.AnyPrincipal()],
                actions=["sns:Publish"],
                resources=[self.alarm_topic.topic_arn],
                conditions={"Bool": {"aws:SecureTransport": "false"}},
            )
        )
        # CloudWatch alarms publish to an encrypted topic only if the key lets them.
        self.key.grant(
            iam.ServicePrincipal("cloudwatch.amazonaws.com"), "kms:Decrypt", "kms:GenerateDataKey*"
        )
        if self.deploy.alarm_email:
            self.alarm_topic.add_subscription(subs.EmailSubscription(self.deploy.alarm_email))

    # -- permissions ------------------------------------------------------------------------

    def grant_buckets(self, role: iam.IGrantable, access: Access) -> None:
        """Exactly the S3 and KMS actions ``access`` needs, on exactly those buckets."""
        statements: list[tuple[str, Sequence[str], list[str]]] = []
        for name in sorted(set(access.read) | set(access.write) | set(access.delete)):
            bucket = self.buckets[name]
            objects = [bucket.arn_for_objects("*")]
            actions: list[str] = []
            # ListBucket: list() and the store's start check (HeadBucket) on every bucket named.
            statements.append((f"List{_resource_id(name)}", LIST_ACTIONS, [bucket.bucket_arn]))
            if name in access.read:
                actions += READ_ACTIONS
            if name in access.write:
                actions += WRITE_ACTIONS
            if name in access.delete:
                actions += DELETE_ACTIONS
            statements.append((f"Objects{_resource_id(name)}", actions, objects))
        for sid, acts, resources in statements:
            role.grant_principal.add_to_principal_policy(
                iam.PolicyStatement(sid=sid, actions=list(acts), resources=resources)
            )
        if not access.buckets:
            return
        key_actions = ["kms:Decrypt"]
        if access.write:
            key_actions.append("kms:GenerateDataKey")
        role.grant_principal.add_to_principal_policy(
            iam.PolicyStatement(sid="DataKey", actions=key_actions, resources=[self.key.key_arn])
        )

    def grant_email(self, role: iam.IGrantable) -> None:
        """``ses:SendRawEmail`` from the configured sender (its address and its domain)."""
        sender = self.deploy.email_sender
        if not sender:
            return
        domain = sender.rsplit("@", 1)[-1]
        identities = [
            self.format_arn(service="ses", resource="identity", resource_name=name)
            for name in dict.fromkeys((sender, domain))
        ]
        role.grant_principal.add_to_principal_policy(
            iam.PolicyStatement(sid="SendEmail", actions=["ses:SendRawEmail"], resources=identities)
        )

    def grant_platform(self, role: iam.IGrantable) -> None:
        """The database credentials and the signing secret (read only)."""
        self.db_secret.grant_read(role)
        self.signing_secret.grant_read(role)

    # -- compute ----------------------------------------------------------------------------

    def _environment(self, access: Access) -> dict[str, str]:
        """The settings of a function or task, as ``MEDFLOW_*`` variables. ``storage.buckets``
        lists only the buckets ``access`` names: the S3 store checks those at start, and a
        function may not even see the others."""
        d = self.deploy
        env = {
            "MEDFLOW_ENVIRONMENT": "production",
            "MEDFLOW_DATA_DIR": "/tmp/medflow-data",
            "MEDFLOW_STORAGE__BACKEND": "s3",
            "MEDFLOW_STORAGE__S3_REGION": self.region,
            "MEDFLOW_STORAGE__S3_BUCKETS": self.to_json_string(
                {name: b.bucket_name for name, b in self.buckets.items()}
            ),
            "MEDFLOW_STORAGE__BUCKETS": json.dumps(access.buckets),
            "MEDFLOW_RUNNER__BACKEND": "stepfunctions",
            "MEDFLOW_NOTIFY__BACKEND": "ses" if d.email_sender else "memory",
            "MEDFLOW_AWS__DATABASE_SECRET_ARN": self.db_secret.secret_arn,
            "MEDFLOW_AWS__SIGNING_SECRET_ARN": self.signing_secret.secret_arn,
            "HOME": "/tmp",
        }
        if d.email_sender:
            env["MEDFLOW_NOTIFY__FROM_ADDRESS"] = d.email_sender
        if d.domain_name:
            env["MEDFLOW_WEB__BASE_URL"] = f"https://{d.domain_name}"
        return env

    def _compute(self, source_dir: Path) -> None:
        self.image = ecr_assets.DockerImageAsset(
            self,
            "Image",
            directory=str(source_dir),
            file=DOCKERFILE,
            exclude=ASSET_EXCLUDES,
            platform=ecr_assets.Platform.LINUX_AMD64,
        )
        self.step_functions: dict[str, lambda_.Function] = {}
        for p in self.pipelines:
            profile = self.profiles[p.name]
            on_lambda = [s for s in p.steps if compute_for(s) == "lambda"]
            timeout = max((lambda_timeout_s(s) for s in on_lambda), default=60)
            fn = self._function(
                f"{_resource_id(p.name)}Steps",
                "medflow.aws.handlers.step",
                profile,
                timeout,
                f"runs the steps of the {p.name} pipeline",
            )
            self.grant_buckets(fn, profile.access)
            if profile.access.email:
                self.grant_email(fn)
            self.step_functions[p.name] = fn
        fp = self.failure_profile
        self.failure_function = self._function(
            "Failure", "medflow.aws.handlers.failure", fp, 900, "quarantines failed inputs"
        )
        self.grant_buckets(self.failure_function, fp.access)
        self.migrate_function = self._function(
            "Migrate",
            "medflow.aws.handlers.migrate",
            Profile(Access(), memory_mb=1024),
            300,
            "brings the database schema to the newest migration",
        )
        triggers.Trigger(
            self,
            "MigrateOnDeploy",
            handler=self.migrate_function,
            execute_after=[self.database],
            execute_on_handler_change=True,
        )
        self.cluster = ecs.Cluster(
            self, "Cluster", vpc=self.vpc, container_insights_v2=ecs.ContainerInsights.ENABLED
        )
        self.task_definitions: dict[str, ecs.FargateTaskDefinition] = {}
        for p in self.pipelines:
            if any(compute_for(s) == "fargate" for s in p.steps):
                self.task_definitions[p.name] = self._task_definition(p)

    def _log_group(self, construct_id: str) -> logs.LogGroup:
        return logs.LogGroup(
            self,
            f"{construct_id}Logs",
            retention=logs.RetentionDays.THREE_MONTHS,
            encryption_key=None,
            removal_policy=cdk.RemovalPolicy.DESTROY,
        )

    def _function(
        self,
        construct_id: str,
        handler: str,
        profile: Profile,
        timeout_s: int,
        description: str,
    ) -> lambda_.DockerImageFunction:
        fn = lambda_.DockerImageFunction(
            self,
            construct_id,
            code=lambda_.DockerImageCode.from_ecr(
                self.image.repository, tag_or_digest=self.image.image_tag, cmd=[handler]
            ),
            description=f"medflow: {description}",
            memory_size=profile.memory_mb,
            ephemeral_storage_size=cdk.Size.mebibytes(profile.tmp_mb),
            timeout=cdk.Duration.seconds(timeout_s),
            environment=self._environment(profile.access),
            vpc=self.vpc,
            vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS),
            security_groups=[self.app_sg],
            log_group=self._log_group(construct_id),
            architecture=lambda_.Architecture.X86_64,
        )
        self.grant_platform(fn)
        return fn

    def _task_definition(self, p: Pipeline) -> ecs.FargateTaskDefinition:
        profile = self.profiles[p.name]
        rid = _resource_id(p.name)
        task = ecs.FargateTaskDefinition(
            self,
            f"{rid}Task",
            cpu=profile.task_cpu,
            memory_limit_mib=profile.task_memory_mb,
            ephemeral_storage_gib=50,
        )
        task.add_container(
            CONTAINER,
            image=ecs.ContainerImage.from_docker_image_asset(self.image),
            entry_point=["python", "-m", "medflow.aws.task"],
            environment=self._environment(profile.access),
            logging=ecs.LogDrivers.aws_logs(
                stream_prefix=p.name, log_group=self._log_group(f"{rid}Task")
            ),
        )
        self.grant_buckets(task.task_role, profile.access)
        if profile.access.email:
            self.grant_email(task.task_role)
        self.grant_platform(task.task_role)
        return task

    # -- state machines ---------------------------------------------------------------------

    def _state_machines(self) -> None:
        self.state_machines: dict[str, sfn.StateMachine] = {}
        subnets = self.vpc.select_subnets(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS)
        for p in self.pipelines:
            rid = _resource_id(p.name)
            definition = state_machine(p)
            values: dict[str, str] = {
                placeholder_name(p.name, "Function"): self.step_functions[p.name].function_arn,
                "FailureFunction": self.failure_function.function_arn,
            }
            task = self.task_definitions.get(p.name)
            if task is not None:
                values.update(
                    Cluster=self.cluster.cluster_arn,
                    TaskDefinition=task.task_definition_arn,
                    Subnet1=subnets.subnet_ids[0],
                    Subnet2=subnets.subnet_ids[min(1, len(subnets.subnet_ids) - 1)],
                    TaskSecurityGroup=self.app_sg.security_group_id,
                )
            unresolved = placeholders(definition) - set(values)
            if unresolved:
                raise ConfigError(f"{p.name}: no value for {', '.join(sorted(unresolved))}")
            machine = sfn.StateMachine(
                self,
                f"{rid}StateMachine",
                definition_body=sfn.DefinitionBody.from_string(json.dumps(definition, indent=1)),
                definition_substitutions={k: values[k] for k in sorted(placeholders(definition))},
                state_machine_type=sfn.StateMachineType.STANDARD,
                logs=sfn.LogOptions(
                    destination=self._log_group(f"{rid}StateMachine"), level=sfn.LogLevel.ERROR
                ),
                tracing_enabled=True,
                comment=f"medflow {p.name} {p.version}",
            )
            self.step_functions[p.name].grant_invoke(machine)
            self.failure_function.grant_invoke(machine)
            if task is not None:
                machine.add_to_role_policy(
                    iam.PolicyStatement(
                        sid="RunLongSteps",
                        actions=["ecs:RunTask"],
                        resources=[task.task_definition_arn],
                        conditions={"ArnEquals": {"ecs:cluster": self.cluster.cluster_arn}},
                    )
                )
                roles = [task.task_role.role_arn]
                if task.execution_role is not None:
                    roles.append(task.execution_role.role_arn)
                machine.add_to_role_policy(
                    iam.PolicyStatement(
                        sid="PassTaskRoles", actions=["iam:PassRole"], resources=roles
                    )
                )
                machine.grant_task_response(task.task_role)
            self.state_machines[p.name] = machine
        arns = {name: m.state_machine_arn for name, m in self.state_machines.items()}
        self.env_state_machines = self.to_json_string(arns)
        for name, m in self.state_machines.items():
            cdk.CfnOutput(self, f"{_resource_id(name)}StateMachineArn", value=m.state_machine_arn)

    # -- ingestion and schedules ------------------------------------------------------------

    def _start_permission(self, role: iam.IGrantable, pipelines: Iterable[str]) -> None:
        arns = [self.state_machines[p].state_machine_arn for p in pipelines]
        role.grant_principal.add_to_principal_policy(
            iam.PolicyStatement(
                sid="StartPipelines", actions=["states:StartExecution"], resources=arns
            )
        )

    def _entry_function(
        self,
        construct_id: str,
        handler: str,
        access: Access,
        pipelines: Sequence[str],
        description: str,
    ) -> lambda_.DockerImageFunction:
        fn = self._function(
            construct_id, handler, Profile(access, memory_mb=1024), 120, description
        )
        fn.add_environment("MEDFLOW_AWS__STATE_MACHINES", self.env_state_machines)
        self.grant_buckets(fn, access)
        if pipelines:
            self._start_permission(fn, pipelines)
        return fn

    def _ingest(self) -> None:
        self.ingest_dlq = sqs.Queue(
            self,
            "IngestDeadLetters",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=cdk.Duration.days(14),
        )
        self.ingest_queue = sqs.Queue(
            self,
            "IngestQueue",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            visibility_timeout=cdk.Duration.seconds(6 * 120),
            dead_letter_queue=sqs.DeadLetterQueue(max_receive_count=5, queue=self.ingest_dlq),
        )
        self.buckets["raw"].add_event_notification(
            s3.EventType.OBJECT_CREATED, s3n.SqsDestination(self.ingest_queue)
        )
        names = [p.name for p in self.pipelines]
        self.ingest_function = self._entry_function(
            "Ingest",
            "medflow.aws.handlers.ingest",
            Access(read=("raw",)),
            names,
            "records uploads to the raw bucket and starts their pipelines",
        )
        self.ingest_function.add_event_source(
            sources.SqsEventSource(
                self.ingest_queue, batch_size=10, report_batch_item_failures=True
            )
        )

    def _schedules(self) -> None:
        self.schedule_dlq = sqs.Queue(
            self,
            "ScheduleDeadLetters",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=cdk.Duration.days(14),
        )
        names = {p.name for p in self.pipelines}
        if "imaging_study" in names:
            sweep = self._entry_function(
                "ImagingSweep",
                "medflow.aws.handlers.sweep",
                Access(read=("work",), write=("work",)),
                ["imaging_study"],
                "starts imaging_study for studies left quiet long enough",
            )
            events.Rule(
                self,
                "ImagingSweepSchedule",
                schedule=events.Schedule.rate(cdk.Duration.minutes(self.deploy.sweep_minutes)),
                targets=[
                    targets.LambdaFunction(
                        sweep, dead_letter_queue=self.schedule_dlq, retry_attempts=2
                    )
                ],
            )
        retry = self._entry_function(
            "NotificationRetry",
            "medflow.aws.handlers.retry_notifications",
            Access(),
            [],
            "sends failed notifications again",
        )
        self.grant_email(retry)
        events.Rule(
            self,
            "NotificationRetrySchedule",
            schedule=events.Schedule.rate(cdk.Duration.minutes(5)),
            targets=[
                targets.LambdaFunction(retry, dead_letter_queue=self.schedule_dlq, retry_attempts=2)
            ],
        )

    # -- portal -----------------------------------------------------------------------------

    def _portal(self) -> None:
        d = self.deploy
        certificate: acm.ICertificate | None = None
        zone: route53.IHostedZone | None = None
        if d.certificate_arn:
            certificate = acm.Certificate.from_certificate_arn(self, "Cert", d.certificate_arn)
        elif d.domain_name and d.hosted_zone_id and d.hosted_zone_name:
            zone = route53.HostedZone.from_hosted_zone_attributes(
                self, "Zone", hosted_zone_id=d.hosted_zone_id, zone_name=d.hosted_zone_name
            )
            certificate = acm.Certificate(
                self,
                "PortalCertificate",
                domain_name=d.domain_name,
                validation=acm.CertificateValidation.from_dns(zone),
            )
        else:
            cdk.Annotations.of(self).add_warning_v2(
                "medflow:portal-http",
                "the portal has no certificate (set domain_name with hosted_zone_id and "
                "hosted_zone_name, or certificate_arn): it is served over plain HTTP",
            )
        access = Access(
            read=("raw", "results", "quarantine", "curated", "insights", "deidentified"),
            write=("raw",),
            email=True,
        )
        env = {**self._environment(access), "MEDFLOW_AWS__STATE_MACHINES": self.env_state_machines}
        service = ecs_patterns.ApplicationLoadBalancedFargateService(
            self,
            "Portal",
            cluster=self.cluster,
            cpu=1024,
            memory_limit_mib=2048,
            desired_count=1,
            public_load_balancer=True,
            certificate=certificate,
            domain_name=d.domain_name if zone is not None else None,
            domain_zone=zone,
            redirect_http=certificate is not None,
            protocol=elbv2.ApplicationProtocol.HTTPS
            if certificate is not None
            else elbv2.ApplicationProtocol.HTTP,
            task_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS),
            security_groups=[self.app_sg],
            task_image_options=ecs_patterns.ApplicationLoadBalancedTaskImageOptions(
                image=ecs.ContainerImage.from_docker_image_asset(self.image),
                container_name=CONTAINER,
                container_port=8000,
                entry_point=["python", "-m", "medflow.aws.portal"],
                environment=env,
                log_driver=ecs.LogDrivers.aws_logs(
                    stream_prefix="portal", log_group=self._log_group("Portal")
                ),
            ),
            circuit_breaker=ecs.DeploymentCircuitBreaker(rollback=True),
        )
        service.target_group.configure_health_check(path="/login", healthy_http_codes="200")
        service.load_balancer.log_access_logs(self.log_bucket, "portal-alb")
        role = service.task_definition.task_role
        # Signed uploads are PUT by browsers with the portal's credentials: raw write;
        # every result the pages show: read.
        self.grant_buckets(role, access)
        self.grant_email(role)
        self.grant_platform(role)
        self._start_permission(role, [p.name for p in self.pipelines])
        self.portal_service = service
        cdk.CfnOutput(self, "PortalUrl", value=(
            f"https://{d.domain_name}" if certificate is not None and d.domain_name
            else f"http://{service.load_balancer.load_balancer_dns_name}"
        ))  # fmt: skip

    # -- alarms -----------------------------------------------------------------------------

    def _alarms(self) -> None:
        action = cw_actions.SnsAction(self.alarm_topic)
        for name, machine in self.state_machines.items():
            rid = _resource_id(name)
            for metric, what in (
                (machine.metric_failed(period=cdk.Duration.minutes(5)), "Failed"),
                (machine.metric_timed_out(period=cdk.Duration.minutes(5)), "TimedOut"),
            ):
                alarm = cloudwatch.Alarm(
                    self,
                    f"{rid}Executions{what}",
                    metric=metric,
                    threshold=1,
                    evaluation_periods=1,
                    comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                    treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
                    alarm_description=f"medflow {name}: an execution {what.lower()} "
                    "(quarantined inputs count: see the quarantine bucket)",
                )
                alarm.add_alarm_action(action)
        for construct_id, queue in (
            ("IngestDeadLettersAlarm", self.ingest_dlq),
            ("ScheduleDeadLettersAlarm", self.schedule_dlq),
        ):
            alarm = cloudwatch.Alarm(
                self,
                construct_id,
                metric=queue.metric_approximate_number_of_messages_visible(
                    period=cdk.Duration.minutes(5)
                ),
                threshold=1,
                evaluation_periods=1,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
                alarm_description="medflow: messages reached a dead-letter queue",
            )
            alarm.add_alarm_action(action)
        ingest_errors = cloudwatch.Alarm(
            self,
            "IngestErrors",
            metric=self.ingest_function.metric_errors(period=cdk.Duration.minutes(5)),
            threshold=1,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            alarm_description="medflow: the ingest function failed",
        )
        ingest_errors.add_alarm_action(action)
