"""Fleetdeck speaks CodeDeploy's own API at `{server}/codedeploy`, so `aws deploy …` and
`boto3.client("codedeploy", endpoint_url=…)` work unchanged.

How a request goes through (views.endpoint):

1. `protocol.protocol_of`: AWS JSON 1.1 (X-Amz-Target) or Smithy RPC v2 CBOR (the path), and the
   operation's name. The body is read up to `protocol.MAX_BODY`.
2. `auth.authenticate`: the SigV4 signature, re-computed with botocore's signer from the access key's
   secret (projects.models.AccessKey). The key names the project, which plays the AWS account.
3. `registry.Caller.require`: the key's user's current role in that project, against the role the
   operation needs (`@operation(name, role=…)`), before the payload is even parsed.
4. `protocol.decode`: the body against the operation's input shape in botocore's model, validated by
   botocore's own validator.
5. The handler (`ops_*.py`) does the work with the same serializers, engine functions and checks as
   the REST API (deployments/api), in CodeDeploy's words, and returns a dict of the output shape.
6. `protocol.shape_out` writes the answer by walking the output shape; `protocol.encode` serialises it.

Any refusal is a `protocol.CodeDeployError` named after one of the model's error shapes, so
`client.exceptions.ApplicationDoesNotExistException` catches it. An operation with no handler answers
`OperationNotSupportedException` naming it and pointing at docs/codedeploy-api.md; nothing answers 500
for what a client sent.

To add an operation: write `@operation("Name", role=Role.…)` over `def handler(caller, params) -> dict`
in the ops module of its resource (importing it in `registry.load`), using `lookup.py` to find rows in
the caller's project and `errors.py` to turn serializer errors into CodeDeploy's exceptions; then add
its row to docs/codedeploy-api.md.
"""
