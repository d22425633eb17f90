/**
 * Differential test against moto's IAM server (moto_server from .cache/venv): the same happy paths through boto3
 * against both, comparing each response's XML shape (elements, their order, policy-document encoding). Where they
 * differ, AWS's documentation decides; every known difference is listed below with the reason, and the same list
 * is in docs/iam-api.md ("Where moto differs"). A new difference, or one that went away, fails this test.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { type ChildProcess, execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ROOT, cleanEnv, startHarness, venvTool, type Harness } from '../../helpers/sts-harness.js';
import { startMoto } from '../issuer/harness.js';

const run = promisify(execFile);
const ADMIN = {
  accessKeyId: 'AKIAOPENIRSADIFF0001',
  secretAccessKey: 'differential-admin-secret'.padEnd(40, 'd'),
};
const SCRIPT = join(ROOT, 'test/integration/iam-api/differential.py');

interface Shape {
  elements: string[];
  documentEncoding: string | null;
}
interface Run {
  shapes: Record<string, Shape>;
  failed: Record<string, string>;
}

/**
 * What moto (5.x) does differently, and why openirsa follows AWS instead:
 * - `failsOnMoto`: moto's server answers HTTP 500 (not implemented in server mode).
 * - `elementsOnlyInOpenirsa`: elements AWS's response documents carry (CreateOpenIDConnectProvider's Tags — the
 *   API reference lists Tags among its response elements; PermissionsBoundaryUsageCount and Description of a
 *   Policy, as `aws iam create-policy` / `get-policy` show them in the AWS CLI reference examples).
 * - `elementsOnlyInMoto`: GetPolicy's empty <Tags/> (AWS omits an empty list).
 * - `order`: moto writes botocore's shape order; openirsa the order of the API reference's sample responses
 *   (CreateRole/GetRole: Path, Arn, RoleName, AssumeRolePolicyDocument, CreateDate, RoleId; GetOpenIDConnectProvider:
 *   ThumbprintList, CreateDate, ClientIDList, Url; GetRolePolicy: PolicyName, RoleName, PolicyDocument;
 *   CreatePolicy/GetPolicy: PolicyName, DefaultVersionId, PolicyId, Path, Arn, AttachmentCount, CreateDate,
 *   IsAttachable, UpdateDate; GetPolicyVersion: Document, IsDefaultVersion, VersionId, CreateDate).
 * - `encoding`: moto returns ListRoles' and GetPolicyVersion's policy documents as plain JSON; IAM URL-encodes
 *   every policy document it returns (RFC 3986), as the API reference says for each of those elements.
 */
const KNOWN = {
  failsOnMoto: [
    'add_client_id_to_open_id_connect_provider',
    'remove_client_id_from_open_id_connect_provider',
  ],
  elementsOnlyInOpenirsa: {
    CreateOpenIDConnectProvider: ['Tags', 'Tags/member', 'Tags/member/Key', 'Tags/member/Value'],
    CreatePolicy: ['Policy/PermissionsBoundaryUsageCount', 'Policy/Description'],
    GetPolicy: ['Policy/PermissionsBoundaryUsageCount'],
  },
  elementsOnlyInMoto: { GetPolicy: ['Policy/Tags'] },
  order: [
    'CreatePolicy',
    'CreateRole',
    'GetOpenIDConnectProvider',
    'GetPolicy',
    'GetPolicyVersion',
    'GetRole',
    'GetRolePolicy',
    'ListRoles',
  ],
  encoding: { GetPolicyVersion: ['json', 'url-encoded'], ListRoles: ['json', 'url-encoded'] },
};

let h: Harness;
let moto: { child: ChildProcess; endpoint: string };

before(async () => {
  h = await startHarness({
    configure: (c) => {
      // moto's fixed account, so ARNs compare equal.
      c.accountId = '123456789012';
      c.oidcProviders = [];
      c.roles = [];
      c.iamApi = { admin: ADMIN, store: 'memory' };
    },
  });
  moto = await startMoto();
});
after(async () => {
  moto?.child.kill('SIGTERM');
  await h?.stop();
});

async function shapes(endpoint: string, ca?: string): Promise<Run> {
  const env = cleanEnv({
    AWS_ACCESS_KEY_ID: ADMIN.accessKeyId,
    AWS_SECRET_ACCESS_KEY: ADMIN.secretAccessKey,
  });
  const { stdout } = await run(venvTool('python'), [SCRIPT, endpoint, ...(ca ? [ca] : [])], {
    env,
    maxBuffer: 8 << 20,
  });
  return JSON.parse(stdout) as Run;
}

const strip = (p: string) => p.split('/').slice(2).join('/');

test('openirsa and moto answer the same happy paths; every difference is a known one where AWS’s docs side with openirsa', async () => {
  const ours = await shapes(h.stsUrl, h.caFile);
  const theirs = await shapes(moto.endpoint);
  assert.deepEqual(ours.failed, {}, 'openirsa answers every call');
  assert.equal(Object.keys(ours.shapes).length, 29, 'all 29 actions answered');
  const found = {
    failsOnMoto: Object.keys(theirs.failed).sort(),
    elementsOnlyInOpenirsa: {} as Record<string, string[]>,
    elementsOnlyInMoto: {} as Record<string, string[]>,
    order: [] as string[],
    encoding: {} as Record<string, string[]>,
  };
  for (const [action, o] of Object.entries(ours.shapes)) {
    const m = theirs.shapes[action];
    if (!m) continue;
    const onlyO = o.elements.filter((e) => !m.elements.includes(e)).map(strip);
    const onlyM = m.elements.filter((e) => !o.elements.includes(e)).map(strip);
    if (onlyO.length) found.elementsOnlyInOpenirsa[action] = onlyO;
    if (onlyM.length) found.elementsOnlyInMoto[action] = onlyM;
    const common = (a: string[], b: string[]) => a.filter((e) => b.includes(e));
    if (common(o.elements, m.elements).join() !== common(m.elements, o.elements).join())
      found.order.push(action);
    if (o.documentEncoding !== m.documentEncoding)
      found.encoding[action] = [String(m.documentEncoding), String(o.documentEncoding)];
  }
  found.order.sort();
  assert.deepEqual(found, KNOWN);
  // openirsa returns every policy document URL-encoded, as IAM does.
  for (const [action, s] of Object.entries(ours.shapes))
    if (s.documentEncoding !== null) assert.equal(s.documentEncoding, 'url-encoded', action);
});
