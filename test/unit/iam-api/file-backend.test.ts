import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ACTIONS, type ActionContext } from '../../../src/iam-api/actions.js';
import { FileBackend, StateFileError, parseStateFile } from '../../../src/iam-api/file-backend.js';
import { emptyState, type IamState } from '../../../src/iam-api/model.js';
import { IamStore } from '../../../src/iam-api/store.js';

const ACCOUNT = { partition: 'aws', accountId: '111122223333' };
const ARN = 'arn:aws:iam::111122223333:oidc-provider/oidc.example.com';
const ROOT = resolve(import.meta.dirname, '../../..');

async function openStore(file: string): Promise<IamStore> {
  const store = new IamStore(emptyState(), new FileBackend(file));
  await store.start();
  return store;
}

function call(store: IamStore, action: string, params: Record<string, string>) {
  const ctx = (state: IamState): ActionContext => ({
    account: ACCOUNT,
    state,
    now: Date.now(),
    random: (n) => Buffer.alloc(n, 1),
  });
  return store.apply((s) => ACTIONS[action]!(ctx(s), new Map(Object.entries(params))));
}

test('two writers on one state file: concurrent updates of one entity are never lost; each sees the other', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'openirsa-iam-file-'));
  const file = join(dir, 'state.json');
  const a = await openStore(file);
  const b = await openStore(file);
  try {
    await call(a, 'CreateOpenIDConnectProvider', {
      Url: 'https://oidc.example.com',
      'ClientIDList.member.1': 'first',
    });
    assert.equal(statSync(file).mode & 0o777, 0o600, 'the state file is 0600');
    const ids = Array.from({ length: 16 }, (_, i) => `client-${i}`);
    await Promise.all(
      ids.map((id, i) =>
        call(i % 2 ? a : b, 'AddClientIDToOpenIDConnectProvider', {
          OpenIDConnectProviderArn: ARN,
          ClientID: id,
        }),
      ),
    );
    const onDisk = parseStateFile(file, readFileSync(file, 'utf8'));
    const stored = onDisk.entries['oidc-provider/oidc.example.com']!.entry.value as { clientIds: string[] };
    assert.deepEqual(
      [...stored.clientIds].sort(),
      ['first', ...ids].sort(),
      'every concurrent AddClientID survives',
    );
    // The other writer follows the file (its watch, or its last conflict re-read) without a restart.
    const deadline = Date.now() + 2000;
    const seen = (s: IamStore) => s.state.providers.get('oidc.example.com')!.clientIds.length;
    while ((seen(a) < 17 || seen(b) < 17) && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 20));
    assert.equal(a.state.providers.get('oidc.example.com')!.clientIds.length, 17);
    assert.equal(b.state.providers.get('oidc.example.com')!.clientIds.length, 17);
  } finally {
    await a.stop();
    await b.stop();
  }
});

test('a bad state file is refused with the file and what is wrong', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'openirsa-iam-file-'));
  const file = join(dir, 'state.json');
  writeFileSync(file, '{"format": "something-else"}');
  await assert.rejects(openStore(file), (err: Error) => {
    assert.ok(err instanceof StateFileError);
    assert.equal(
      err.message,
      `${file}: not an openirsa IAM state file (format must be "openirsa.iam-state/v1")`,
    );
    return true;
  });
  writeFileSync(file, '{"format": "openirsa.iam-state/v1", "generation": 1, "entr');
  await assert.rejects(openStore(file), /not valid JSON/);
});

test('killed mid-write, the state file is the old or the new state, never half of one; the dead writer’s lock is taken over', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'openirsa-iam-kill-'));
  const file = join(dir, 'state.json');
  // A writer that rewrites large states (≈1 MB) as fast as it can, until it is killed.
  const script = `
    import { FileBackend } from ${JSON.stringify(join(ROOT, 'src/iam-api/file-backend.ts'))};
    const b = new FileBackend(${JSON.stringify(file)});
    await b.start(() => {});
    const big = 'x'.repeat(1 << 20);
    for (let i = 0; ; i++) {
      const key = 'policy/p';
      const cur = b.entries().get(key)?.version;
      await b.write(key, { kind: 'policy', id: 'p', value: { name: 'p', path: '/', policyId: 'ANPA', document: big + i, createDate: '', updateDate: '', tags: [] } }, cur);
      if (i === 0) process.stdout.write('writing\\n');
    }
  `;
  let lastGeneration = 0;
  for (let round = 0; round < 4; round++) {
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    await new Promise<void>((r) => child.stdout.once('data', () => r()));
    await new Promise((r) => setTimeout(r, 30 + round * 40));
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
    const content = parseStateFile(file, readFileSync(file, 'utf8')); // throws if half-written
    assert.ok(content.generation >= lastGeneration, 'never an older state');
    lastGeneration = content.generation;
    const doc = (content.entries['policy/p']!.entry.value as { document: string }).document;
    assert.equal(doc.length >= 1 << 20, true, 'the whole document');
  }
  // A lock left by the killed writer (if it died holding it) must not block the next one.
  const store = await openStore(file);
  try {
    await call(store, 'CreateOpenIDConnectProvider', {
      Url: 'https://after.example.com',
      'ClientIDList.member.1': 'x',
    });
    assert.ok(store.state.providers.has('after.example.com'));
    assert.equal(existsSync(`${file}.lock`), false);
  } finally {
    await store.stop();
  }
});
