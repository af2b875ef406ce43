"""The CDK app for ``cdk synth`` / ``cdk deploy`` (see cdk.json and README "Deploy to AWS").

Settings come from CDK context (``cdk deploy -c email_sender=reports@example.org``); the
stack is built by medflow.aws.app, the same code ``medflow aws synth`` runs.
"""

from medflow.aws.app import build_app

build_app().synth()
