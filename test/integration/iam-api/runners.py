"""Drives the IAM API with a real Python client, one call per line of a JSON plan, printing one JSON result per call.

usage: python runners.py boto3|cli PLAN.json
  boto3: boto3's IAM client (endpoint from AWS_ENDPOINT_URL_IAM, CA from AWS_CA_BUNDLE)
  cli:   the AWS CLI itself (awscli's driver, in this process): `aws iam <action> --cli-input-json ... --output json`
A param value "$marker" is replaced by the Marker of the previous result.
"""
import contextlib
import io
import json
import re
import sys

from botocore import xform_name
from botocore.exceptions import ParamValidationError


def run_boto3(plan):
    import boto3

    client = boto3.client("iam")
    marker = None
    for step in plan:
        params = {k: (marker if v == "$marker" else v) for k, v in step["params"].items()}
        try:
            out = getattr(client, xform_name(step["action"]))(**params)
            out.pop("ResponseMetadata", None)
            marker = out.get("Marker")
            yield {"ok": True, "result": out}
        except ParamValidationError as e:
            # botocore checks the model's lengths and ranges before sending (not its patterns).
            yield {"ok": False, "code": "ParamValidation", "message": str(e)}
        except client.exceptions.ClientError as e:
            err = e.response["Error"]
            yield {"ok": False, "code": err["Code"], "message": err.get("Message", ""), "status": e.response["ResponseMetadata"]["HTTPStatusCode"]}


def run_cli(plan):
    from awscli.clidriver import create_clidriver

    marker = None
    for step in plan:
        params = {k: (marker if v == "$marker" else v) for k, v in step["params"].items()}
        argv = ["iam", xform_name(step["action"], "-"), "--cli-input-json", json.dumps(params), "--output", "json", "--no-paginate"]
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            rc = create_clidriver().main(argv)
        if rc == 0:
            text = out.getvalue().strip()
            result = json.loads(text) if text else {}
            marker = result.get("Marker")
            yield {"ok": True, "result": result}
        else:
            m = re.search(r"An error occurred \((\w+)\) when calling the \w+ operation: (.*)", err.getvalue())
            if not m and "Parameter validation failed" in err.getvalue():
                yield {"ok": False, "code": "ParamValidation", "message": err.getvalue().strip()}
                continue
            yield {"ok": False, "code": m.group(1) if m else "CLI_ERROR", "message": m.group(2).strip() if m else err.getvalue(), "rc": rc}


if __name__ == "__main__":
    kind, plan_file = sys.argv[1], sys.argv[2]
    plan = json.load(open(plan_file))
    runner = run_boto3 if kind == "boto3" else run_cli
    for r in runner(plan):
        print(json.dumps(r, default=str), flush=True)
