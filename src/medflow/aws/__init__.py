"""medflow on AWS: Lambda handlers, Step Functions state machines generated from the pipeline
declarations, and the CDK app that deploys them (``medflow aws synth``, ``cdk deploy``).

Entry points only: the pipelines, analyzers and platform adapters are the ones every other
deployment runs.
"""

import os

# jsii (under aws-cdk-lib) prints a banner on every start when Node is past its end of life;
# the Node on the build machine is the operator's choice, and the banner hides real messages.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "18,20")
os.environ.setdefault("JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION", "1")
