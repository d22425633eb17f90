"""Runs the IAM happy paths against one endpoint with boto3 and prints, per action, the response's XML shape: every
element path in document order (namespace, ResponseMetadata and values left out) and the policy-document encoding.

usage: python differential.py ENDPOINT [CA_BUNDLE]   (credentials from the environment)
"""
import json
import sys
import xml.etree.ElementTree as ET

import boto3

endpoint = sys.argv[1]
ca = sys.argv[2] if len(sys.argv) > 2 else None
client = boto3.client("iam", endpoint_url=endpoint, verify=ca or True, region_name="us-east-1")
raw = {}
client.meta.events.register("after-call.iam", lambda http_response, model, **kw: raw.__setitem__(model.name, http_response.content.decode()))

url = "https://diff.example.com/id/1"
arn_account = "123456789012"  # moto's default account; the openirsa side is configured to match
provider_arn = None
trust = json.dumps({
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Federated": f"arn:aws:iam::{arn_account}:oidc-provider/diff.example.com/id/1"},
                   "Action": "sts:AssumeRoleWithWebIdentity",
                   "Condition": {"StringEquals": {"diff.example.com/id/1:sub": "system:serviceaccount:a:b"}}}],
})
read = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]})

failed = {}


def call(method, **kw):
    """One call; a server that cannot answer it (moto lacks some actions) is recorded, not fatal."""
    try:
        return getattr(client, method)(**kw)
    except Exception as e:  # noqa: BLE001 - any failure of the other server is data here
        failed[method] = str(e).splitlines()[0][:300]
        return {}


provider_arn = f"arn:aws:iam::{arn_account}:oidc-provider/diff.example.com/id/1"
policy_arn = f"arn:aws:iam::{arn_account}:policy/diff-pol"
call(
    "create_open_id_connect_provider",
    Url=url, ClientIDList=["sts.amazonaws.com"], ThumbprintList=["a" * 40], Tags=[{"Key": "team", "Value": "a"}]
)
call("get_open_id_connect_provider", OpenIDConnectProviderArn=provider_arn)
call("list_open_id_connect_providers")
call("add_client_id_to_open_id_connect_provider", OpenIDConnectProviderArn=provider_arn, ClientID="other")
call("remove_client_id_from_open_id_connect_provider", OpenIDConnectProviderArn=provider_arn, ClientID="other")
call("update_open_id_connect_provider_thumbprint", OpenIDConnectProviderArn=provider_arn, ThumbprintList=["b" * 40])
call("tag_open_id_connect_provider", OpenIDConnectProviderArn=provider_arn, Tags=[{"Key": "x", "Value": "1"}])
call("untag_open_id_connect_provider", OpenIDConnectProviderArn=provider_arn, TagKeys=["x"])
call("create_role", RoleName="diff", Path="/irsa/", AssumeRolePolicyDocument=trust, Description="d", Tags=[{"Key": "k", "Value": "v"}])
call("get_role", RoleName="diff")
call("list_roles", PathPrefix="/irsa/")
call("update_role", RoleName="diff", MaxSessionDuration=7200)
call("update_assume_role_policy", RoleName="diff", PolicyDocument=trust)
call("tag_role", RoleName="diff", Tags=[{"Key": "x", "Value": "1"}])
call("untag_role", RoleName="diff", TagKeys=["x"])
call("list_role_tags", RoleName="diff")
call("put_role_policy", RoleName="diff", PolicyName="inline", PolicyDocument=read)
call("get_role_policy", RoleName="diff", PolicyName="inline")
call("list_role_policies", RoleName="diff")
call("create_policy", PolicyName="diff-pol", PolicyDocument=read, Description="p")
call("get_policy", PolicyArn=policy_arn)
call("get_policy_version", PolicyArn=policy_arn, VersionId="v1")
call("attach_role_policy", RoleName="diff", PolicyArn=policy_arn)
call("list_attached_role_policies", RoleName="diff")
call("detach_role_policy", RoleName="diff", PolicyArn=policy_arn)
call("delete_role_policy", RoleName="diff", PolicyName="inline")
call("delete_policy", PolicyArn=policy_arn)
call("delete_role", RoleName="diff")
call("delete_open_id_connect_provider", OpenIDConnectProviderArn=provider_arn)

def shape(xml):
    root = ET.fromstring(xml)
    out = []

    def walk(el, path):
        tag = el.tag.split("}")[-1]
        p = f"{path}/{tag}" if path else tag
        if tag == "ResponseMetadata":
            return
        if p not in out:
            out.append(p)
        for child in el:
            walk(child, p)

    walk(root, "")
    docs = [el.text for el in root.iter() if el.tag.split("}")[-1] in ("AssumeRolePolicyDocument", "PolicyDocument", "Document") and el.text]
    encoding = "url-encoded" if docs and all(d.startswith("%7B") for d in docs) else ("json" if docs else None)
    return {"elements": out, "documentEncoding": encoding}


print(json.dumps({"shapes": {action: shape(xml) for action, xml in raw.items()}, "failed": failed}))
