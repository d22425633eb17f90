/**
 * `bash scripts/control-plane.sh start|stop DIR` for humans: a control plane that outlives the command, driven by the
 * same code the tests use (test/helpers/control-plane.ts). State (pids, URLs) is kept in DIR/state.json.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { startControlPlane } from '../../test/helpers/control-plane.js';

interface State {
  url: string;
  issuer: string;
  kubeconfig: string;
  pids: { etcd: number; apiServer: number };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function stop(dir: string): Promise<void> {
  const state = JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8')) as State;
  // kube-apiserver first, then etcd; each is the leader of its own process group.
  for (const pid of [state.pids.apiServer, state.pids.etcd]) {
    if (!alive(pid)) continue;
    process.kill(-pid, 'SIGTERM');
    const deadline = Date.now() + 20_000;
    while (alive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    if (alive(pid)) process.kill(-pid, 'SIGKILL');
  }
  console.error(`control-plane: stopped (logs and certificates kept in ${dir})`);
}

async function main(): Promise<number> {
  const [command, dirArg] = process.argv.slice(2);
  if (!dirArg || (command !== 'start' && command !== 'stop')) {
    console.error('usage: cli.ts start|stop DIR');
    return 2;
  }
  const dir = resolve(dirArg);
  if (command === 'stop') {
    await stop(dir);
    return 0;
  }
  const cp = await startControlPlane({ dir, detached: true, keep: true });
  const state: State = { url: cp.url, issuer: cp.issuer, kubeconfig: cp.kubeconfigPath, pids: cp.pids };
  writeFileSync(join(dir, 'state.json'), JSON.stringify(state, null, 2) + '\n');
  console.error(
    `control-plane: kube-apiserver ${cp.url} (etcd ${cp.etcdUrl}); stop with: bash scripts/control-plane.sh stop ${dir}`,
  );
  console.log(cp.kubeconfigPath);
  return 0;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error(`control-plane: ${(e as Error).message}`);
    process.exit(1);
  },
);
