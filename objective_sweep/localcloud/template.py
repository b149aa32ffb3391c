"""Reads template.yaml into the resources the local cloud creates: the SAM transform first (with
aws-sam-translator, the library `sam` uses), so policy templates, connectors and generated roles are
exactly what CloudFormation would receive; then the intrinsic functions resolved against local names
and ARNs. The local cloud never keeps a second list of what the stack contains."""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import yaml  # type: ignore[import-untyped]

from objective_sweep.localcloud.authorizer import Role
from objective_sweep.localcloud.iam import PolicyError, Statement, parse_policy
from objective_sweep.localcloud.managed_policies import MANAGED_POLICIES

REGION = "us-east-1"
ACCOUNT_ID = "123456789012"
PARTITION = "aws"

# Resource types whose ARN service name differs from the lower-cased CloudFormation namespace.
_ARN_SERVICES = {
    "Serverless::Function": "lambda",
    "Serverless::StateMachine": "states",
    "StepFunctions": "states",
}


class TemplateError(Exception):
    """template.yaml uses something the local cloud cannot reproduce; the message says what and where."""


class _CfnLoader(yaml.SafeLoader):
    """YAML loader that turns CloudFormation short-form tags (!Ref, !GetAtt, !Sub...) into their
    long form, so one resolver handles both spellings."""


def _construct_tag(loader: _CfnLoader, tag_suffix: str, node: yaml.Node) -> dict[str, Any]:
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if tag_suffix == "Ref":
        return {"Ref": value}
    if tag_suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    if tag_suffix == "Condition":
        return {"Condition": value}
    return {f"Fn::{tag_suffix}": value}


_CfnLoader.add_multi_constructor("!", _construct_tag)


def load_template(path: Path) -> dict[str, Any]:
    """Parse a CloudFormation/SAM YAML template with its short-form intrinsic tags."""
    with path.open(encoding="utf-8") as handle:
        document = yaml.load(handle, Loader=_CfnLoader)  # noqa: S506 - SafeLoader subclass with CFN tags only
    if not isinstance(document, dict) or "Resources" not in document:
        raise TemplateError(f"{path}: not a CloudFormation template (no Resources section)")
    return document


@dataclass(frozen=True)
class FunctionSpec:
    """A Lambda function as the transformed template declares it."""

    logical_id: str
    name: str
    arn: str
    handler: str
    code_dir: Path
    runtime: str
    timeout: int
    memory_size: int
    environment: dict[str, str]
    role_arn: str


@dataclass(frozen=True)
class RuleSpec:
    """An EventBridge rule target: what it starts, as which role, with which part of the event."""

    logical_id: str
    name: str
    pattern: dict[str, Any]
    target_arn: str
    role_arn: str | None
    input_path: str | None


@dataclass(frozen=True)
class ScheduleSpec:
    """An EventBridge Scheduler schedule and the input its role sends the target."""

    logical_id: str
    name: str
    expression: str
    target_arn: str
    role_arn: str
    input: str | None
    state: str = "DISABLED"


@dataclass
class LocalStack:
    """Everything the local cloud creates, resolved to local names and ARNs."""

    root: Path
    parameters: dict[str, str]
    functions: list[FunctionSpec]
    state_machine_name: str
    state_machine_arn: str
    state_machine_role_arn: str
    definition: str
    bucket_name: str
    bucket_versioned: bool
    bucket_eventbridge: bool
    bucket_policy: dict[str, Any] | None
    bucket_policy_id: str | None
    topic_name: str | None
    topic_arn: str | None
    rules: list[RuleSpec]
    schedules: list[ScheduleSpec]
    roles: list[Role]
    outputs: dict[str, str]
    physical: dict[str, str] = field(default_factory=dict)


class _Resolver:
    """Evaluates intrinsic functions with each resource's local physical name and ARN."""

    def __init__(self, template: dict[str, Any], stack_name: str, overrides: dict[str, str]) -> None:
        self.template = template
        self.resources: dict[str, dict[str, Any]] = template["Resources"]
        self.parameters = self._parameter_values(template.get("Parameters") or {}, overrides)
        self.pseudo = {
            "AWS::Region": REGION,
            "AWS::AccountId": ACCOUNT_ID,
            "AWS::Partition": PARTITION,
            "AWS::StackName": stack_name,
            "AWS::StackId": f"arn:aws:cloudformation:{REGION}:{ACCOUNT_ID}:stack/{stack_name}/local",
            "AWS::URLSuffix": "amazonaws.com",
        }
        self.stack_name = stack_name
        self.conditions: dict[str, bool] = {}
        for name, expression in (template.get("Conditions") or {}).items():
            self.conditions[name] = bool(self.resolve(expression))

    @staticmethod
    def _parameter_values(declared: dict[str, Any], overrides: dict[str, str]) -> dict[str, str]:
        values: dict[str, str] = {}
        for name, spec in declared.items():
            if name in overrides:
                values[name] = overrides[name]
            elif "Default" in spec:
                default = spec["Default"]
                values[name] = ",".join(map(str, default)) if isinstance(default, list) else str(default)
            else:
                raise TemplateError(
                    f"template.yaml: parameter {name} has no Default; pass it as an override to run locally"
                )
        unknown = set(overrides) - set(declared)
        if unknown:
            raise TemplateError(f"template.yaml declares no parameter(s) {sorted(unknown)}")
        return values

    def type_of(self, logical_id: str) -> str:
        return str(self.resources[logical_id]["Type"])

    def of_type(self, kind: str) -> list[str]:
        """Logical ids of the resources of one type whose Condition (if any) holds."""
        return [
            logical_id
            for logical_id, resource in self.resources.items()
            if resource.get("Type") == kind
            and ("Condition" not in resource or self.conditions[resource["Condition"]])
        ]

    def properties(self, logical_id: str) -> dict[str, Any]:
        return dict(self.resources[logical_id].get("Properties") or {})

    def physical_name(self, logical_id: str) -> str:
        """Name a resource gets locally: its explicit name property, else stack-logical like CloudFormation."""
        props = self.properties(logical_id)
        for key in ("FunctionName", "Name", "BucketName", "TopicName", "RoleName", "StateMachineName"):
            if key in props:
                return str(self.resolve(props[key]))
        generated = f"{self.stack_name}-{logical_id}"
        if self.type_of(logical_id) == "AWS::S3::Bucket":
            # Bucket names are lower case and DNS-safe.
            return re.sub(r"[^a-z0-9-]", "-", generated.lower())[:63]
        return generated

    def arn(self, logical_id: str) -> str:
        kind = self.type_of(logical_id)
        name = self.physical_name(logical_id)
        namespace = kind.split("::", 1)[1]
        if kind == "AWS::S3::Bucket":
            return f"arn:aws:s3:::{name}"
        if kind == "AWS::SNS::Topic":
            return f"arn:aws:sns:{REGION}:{ACCOUNT_ID}:{name}"
        if kind == "AWS::IAM::Role":
            return f"arn:aws:iam::{ACCOUNT_ID}:role/{name}"
        if kind == "AWS::Serverless::Function" or kind == "AWS::Lambda::Function":
            return f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{name}"
        if kind in ("AWS::Serverless::StateMachine", "AWS::StepFunctions::StateMachine"):
            return f"arn:aws:states:{REGION}:{ACCOUNT_ID}:stateMachine:{name}"
        if kind == "AWS::Events::Rule":
            return f"arn:aws:events:{REGION}:{ACCOUNT_ID}:rule/{name}"
        if kind == "AWS::Logs::LogGroup":
            return f"arn:aws:logs:{REGION}:{ACCOUNT_ID}:log-group:{name}:*"
        service = _ARN_SERVICES.get(namespace.rsplit("::", 1)[0], namespace.split("::")[0].lower())
        # Resources the local cloud does not model only need a well-formed ARN where they are referenced.
        return f"arn:aws:{service}:{REGION}:{ACCOUNT_ID}:{name}"

    def ref(self, name: str) -> Any:
        if name == "AWS::NoValue":
            return _NO_VALUE
        if name in self.parameters:
            kind = str((self.template.get("Parameters") or {}).get(name, {}).get("Type", "String"))
            if kind == "CommaDelimitedList" or kind.startswith("List<"):
                return [part.strip() for part in self.parameters[name].split(",")]
            return self.parameters[name]
        if name in self.pseudo:
            return self.pseudo[name]
        if name not in self.resources:
            raise TemplateError(f"template.yaml: !Ref {name} names no parameter or resource")
        kind = self.type_of(name)
        # CloudFormation's Ref returns the ARN for these types and the name for the others.
        if kind in ("AWS::SNS::Topic", "AWS::Serverless::StateMachine", "AWS::StepFunctions::StateMachine"):
            return self.arn(name)
        return self.physical_name(name)

    def get_att(self, logical_id: str, attribute: str) -> str:
        if logical_id not in self.resources:
            raise TemplateError(f"template.yaml: !GetAtt {logical_id}.{attribute} names no resource")
        if attribute == "Arn":
            return self.arn(logical_id)
        if attribute in ("Name", "TopicName", "StateMachineName"):
            return self.physical_name(logical_id)
        if attribute == "DomainName":
            return f"{self.physical_name(logical_id)}.s3.amazonaws.com"
        raise TemplateError(f"template.yaml: !GetAtt {logical_id}.{attribute} is not supported locally")

    def sub(self, text: str, variables: dict[str, Any]) -> str:
        def replace(match: re.Match[str]) -> str:
            token = match.group(1)
            if token.startswith("!"):
                return "${" + token[1:] + "}"
            if token in variables:
                return str(self.resolve(variables[token]))
            if "." in token:
                logical_id, attribute = token.split(".", 1)
                return self.get_att(logical_id, attribute)
            return str(self.ref(token))

        return re.sub(r"\$\{([^}]+)\}", replace, text)

    def resolve(self, node: Any) -> Any:
        """Evaluate every intrinsic function inside node."""
        if isinstance(node, list):
            return [value for value in (self.resolve(item) for item in node) if value is not _NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            ((key, value),) = node.items()
            if key == "Ref":
                return self.ref(value)
            if key == "Fn::GetAtt":
                logical_id, attribute = value if isinstance(value, list) else value.split(".", 1)
                return self.get_att(logical_id, attribute)
            if key == "Fn::Sub":
                text, variables = (value, {}) if isinstance(value, str) else (value[0], value[1])
                return self.sub(text, variables)
            if key == "Fn::Join":
                return str(value[0]).join(str(self.resolve(part)) for part in self.resolve(value[1]))
            if key == "Fn::Select":
                return self.resolve(value[1])[int(self.resolve(value[0]))]
            if key == "Fn::Split":
                return str(self.resolve(value[1])).split(value[0])
            if key == "Fn::If":
                return self.resolve(value[1] if self.conditions[value[0]] else value[2])
            if key == "Fn::Equals":
                return self.resolve(value[0]) == self.resolve(value[1])
            if key == "Fn::Not":
                return not self.resolve(value[0])
            if key == "Fn::And":
                return all(self.resolve(item) for item in value)
            if key == "Fn::Or":
                return any(self.resolve(item) for item in value)
            if key == "Condition":
                return self.conditions[value]
            if key == "Fn::ToJsonString":
                return json.dumps(self.resolve(value))
            if key.startswith("Fn::"):
                raise TemplateError(f"template.yaml: {key} is not supported by the local cloud")
        resolved = {key: self.resolve(value) for key, value in node.items()}
        return {key: value for key, value in resolved.items() if value is not _NO_VALUE}


# What !Ref AWS::NoValue stands for until the property or list item holding it is dropped.
_NO_VALUE = object()


# What a SAM template's local paths become before the transform, as `sam validate` does: the
# translator wants S3 URIs, and the local cloud maps them back to the folders.
_ARTIFACTS = "s3://local-artifacts/"
_LOCAL_PATHS = ("CodeUri", "DefinitionUri", "ContentUri")
SAM_TRANSFORM = "AWS::Serverless-2016-10-31"


def _sam_transform(template: dict[str, Any], parameters: dict[str, str]) -> dict[str, Any]:
    """The CloudFormation template SAM would deploy: serverless resources expanded into functions,
    roles (policy templates and connectors included), state machines, rules and layers."""
    from samtranslator.metrics.metrics import DummyMetricsPublisher, Metrics
    from samtranslator.model.exceptions import InvalidDocumentException
    from samtranslator.parser.parser import Parser
    from samtranslator.translator.translator import Translator

    document = copy.deepcopy(template)
    sections = [r.get("Properties") or {} for r in document["Resources"].values()]
    sections += [g for g in (document.get("Globals") or {}).values() if isinstance(g, dict)]
    for section in sections:
        for key in _LOCAL_PATHS:
            if isinstance(section.get(key), str) and not section[key].startswith("s3://"):
                section[key] = _ARTIFACTS + section[key]
    # The translator reads the region from a boto3 session; it makes no call.
    session = boto3.session.Session(region_name=REGION)
    pseudo = {"AWS::Region": REGION, "AWS::AccountId": ACCOUNT_ID, "AWS::Partition": PARTITION}
    # The translator counts feature usage for SAM's telemetry; published to nowhere, so it stays quiet.
    metrics = Metrics("ServerlessTransform", DummyMetricsPublisher())
    try:
        transformed: dict[str, Any] = Translator(
            None, Parser(), boto_session=session, metrics=metrics
        ).translate(
            document,
            parameter_values={**parameters, **pseudo},
            get_managed_policy_map=lambda: {},
        )
    except InvalidDocumentException as error:
        causes = "; ".join(str(getattr(cause, "message", cause)) for cause in error.causes)
        raise TemplateError(f"template.yaml does not pass the SAM transform: {causes}") from None
    finally:
        metrics.publish()
    return transformed


def _local_path(root: Path, uri: str, what: str) -> Path:
    if not uri.startswith(_ARTIFACTS):
        raise TemplateError(
            f"template.yaml: {what} {uri} is not a local path; the local cloud runs local code"
        )
    return (root / uri[len(_ARTIFACTS) :]).resolve()


def _single(resolver: _Resolver, kind: str) -> str:
    found = resolver.of_type(kind)
    if len(found) != 1:
        raise TemplateError(f"template.yaml: expected exactly one {kind}, found {len(found)}: {found}")
    return found[0]


def _roles(resolver: _Resolver) -> list[Role]:
    roles = []
    for logical_id in resolver.of_type("AWS::IAM::Role"):
        props = resolver.resolve(resolver.properties(logical_id))
        try:
            trust = parse_policy(props["AssumeRolePolicyDocument"], logical_id, "trust policy")
            statements: list[Statement] = []
            for policy in props.get("Policies") or []:
                statements += parse_policy(policy["PolicyDocument"], logical_id, policy["PolicyName"])
            for arn in props.get("ManagedPolicyArns") or []:
                name = str(arn).rsplit("/", 1)[-1]
                if name not in MANAGED_POLICIES:
                    raise TemplateError(
                        f"template.yaml: role {logical_id} uses the managed policy {arn}, whose document the "
                        "local cloud does not know; add it to objective_sweep/localcloud/managed_policies.py"
                    )
                statements += parse_policy(MANAGED_POLICIES[name], logical_id, name)
        except PolicyError as error:
            raise TemplateError(f"template.yaml: {error}") from None
        roles.append(
            Role(
                logical_id=logical_id,
                name=resolver.physical_name(logical_id),
                arn=resolver.arn(logical_id),
                trust=trust,
                policies=tuple(statements),
                trust_document=props["AssumeRolePolicyDocument"],
                inline_documents={p["PolicyName"]: p["PolicyDocument"] for p in props.get("Policies") or []},
                managed_policy_arns=tuple(str(arn) for arn in props.get("ManagedPolicyArns") or []),
            )
        )
    return roles


def read_stack(
    template_path: Path, *, stack_name: str = "objective-sweep", parameters: dict[str, str] | None = None
) -> LocalStack:
    """Resolve template.yaml into the local resources: functions, roles, state machine, bucket, topic,
    rules and schedules."""
    template = load_template(template_path)
    root = template_path.parent
    overrides = parameters or {}
    unknown = set(overrides) - set(template.get("Parameters") or {})
    if unknown:
        raise TemplateError(f"template.yaml declares no parameter(s) {sorted(unknown)}")
    if SAM_TRANSFORM in (template.get("Transform") or []) or template.get("Transform") == SAM_TRANSFORM:
        template = _sam_transform(template, overrides)
    resolver = _Resolver(template, stack_name, overrides)

    functions = []
    for logical_id in resolver.of_type("AWS::Lambda::Function"):
        props = resolver.resolve(resolver.properties(logical_id))
        code = props.get("Code") or {}
        functions.append(
            FunctionSpec(
                logical_id=logical_id,
                name=resolver.physical_name(logical_id),
                arn=resolver.arn(logical_id),
                handler=str(props["Handler"]),
                code_dir=_local_path(root, f"s3://{code.get('S3Bucket')}/{code.get('S3Key')}", "CodeUri"),
                runtime=str(props.get("Runtime", "python3.12")),
                timeout=int(props.get("Timeout", 3)),
                memory_size=int(props.get("MemorySize", 128)),
                environment={
                    key: str(value)
                    for key, value in ((props.get("Environment") or {}).get("Variables") or {}).items()
                },
                role_arn=str(props["Role"]),
            )
        )

    machine_id = _single(resolver, "AWS::StepFunctions::StateMachine")
    machine = resolver.resolve(resolver.properties(machine_id))
    location = machine.get("DefinitionS3Location") or {}
    if not location:
        raise TemplateError(f"template.yaml: state machine {machine_id} must load its ASL from DefinitionUri")
    definition_file = _local_path(root, f"s3://{location['Bucket']}/{location['Key']}", "DefinitionUri")
    definition = definition_file.read_text(encoding="utf-8")
    for key, value in (machine.get("DefinitionSubstitutions") or {}).items():
        definition = definition.replace("${" + key + "}", str(value))
    leftover = sorted(set(re.findall(r"\$\{([A-Za-z0-9_]+)\}", definition)))
    if leftover:
        raise TemplateError(
            f"{definition_file.relative_to(root)}: placeholders {leftover} have no DefinitionSubstitutions entry"
        )
    json.loads(definition)

    bucket_id = _single(resolver, "AWS::S3::Bucket")
    bucket = resolver.resolve(resolver.properties(bucket_id))
    bucket_name = resolver.physical_name(bucket_id)
    bucket_policies = [
        (lid, resolver.resolve(resolver.properties(lid)))
        for lid in resolver.of_type("AWS::S3::BucketPolicy")
        if resolver.resolve(resolver.properties(lid).get("Bucket")) == bucket_name
    ]
    topics = resolver.of_type("AWS::SNS::Topic")

    rules: list[RuleSpec] = []
    for logical_id in resolver.of_type("AWS::Events::Rule"):
        props = resolver.resolve(resolver.properties(logical_id))
        if "EventPattern" not in props:
            raise TemplateError(
                f"template.yaml: rule {logical_id} has no EventPattern (schedules belong to Scheduler)"
            )
        for target in props.get("Targets") or []:
            rules.append(
                RuleSpec(
                    logical_id,
                    resolver.physical_name(logical_id),
                    props["EventPattern"],
                    str(target["Arn"]),
                    target.get("RoleArn"),
                    target.get("InputPath"),
                )
            )
    schedules: list[ScheduleSpec] = []
    for logical_id in resolver.of_type("AWS::Scheduler::Schedule"):
        props = resolver.resolve(resolver.properties(logical_id))
        target = props["Target"]
        schedules.append(
            ScheduleSpec(
                logical_id,
                resolver.physical_name(logical_id),
                str(props["ScheduleExpression"]),
                str(target["Arn"]),
                str(target["RoleArn"]),
                target.get("Input"),
                str(props.get("State", "ENABLED")),
            )
        )

    outputs = {
        key: str(resolver.resolve(spec["Value"]))
        for key, spec in (template.get("Outputs") or {}).items()
        if "Condition" not in spec or resolver.conditions.get(spec["Condition"], False)
    }
    return LocalStack(
        root=root,
        parameters=resolver.parameters,
        functions=functions,
        state_machine_name=resolver.physical_name(machine_id),
        state_machine_arn=resolver.arn(machine_id),
        state_machine_role_arn=str(machine["RoleArn"]),
        definition=definition,
        bucket_name=bucket_name,
        bucket_versioned=(bucket.get("VersioningConfiguration") or {}).get("Status") == "Enabled",
        bucket_eventbridge=bool(
            ((bucket.get("NotificationConfiguration") or {}).get("EventBridgeConfiguration") or {}).get(
                "EventBridgeEnabled"
            )
        ),
        bucket_policy=bucket_policies[0][1]["PolicyDocument"] if bucket_policies else None,
        bucket_policy_id=bucket_policies[0][0] if bucket_policies else None,
        topic_name=resolver.physical_name(topics[0]) if topics else None,
        topic_arn=resolver.arn(topics[0]) if topics else None,
        rules=rules,
        schedules=schedules,
        roles=_roles(resolver),
        outputs=outputs,
    )
