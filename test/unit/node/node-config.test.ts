/** The test node's configuration files (test/helpers/node-config.ts): what each must say, from its inputs alone. */
import assert from 'node:assert/strict';
import { BlockList } from 'node:net';
import { test } from 'node:test';
import {
  NODE_IP,
  NODE_NAME,
  POD_SUBNET,
  cniNetworkList,
  containerdConfig,
  kubeletConfig,
  kubeletKubeconfig,
} from '../../helpers/node-config.js';

const paths = {
  root: '/t/containerd/root',
  state: '/t/containerd/state',
  socket: '/t/containerd/containerd.sock',
  runc: '/cache/bin/runc',
  cniBinDir: '/cache/bin/cni',
  cniConfDir: '/t/cni/net.d',
  sandboxImage: 'registry.k8s.io/pause:3.10.2',
};

test('containerd: version 4, every path from the inputs, runc with cgroupfs, netns under its state folder', () => {
  const toml = containerdConfig(paths);
  assert.match(toml, /^version = 4$/m);
  assert.match(toml, /^root = "\/t\/containerd\/root"$/m);
  assert.match(toml, /^state = "\/t\/containerd\/state"$/m);
  assert.match(
    toml,
    /^\[plugins\.'io\.containerd\.server\.v1\.grpc'\]\n {2}address = "\/t\/containerd\/containerd.sock"$/m,
  );
  assert.match(
    toml,
    /^\[plugins\.'io\.containerd\.server\.v1\.ttrpc'\]\n {2}address = "\/t\/containerd\/containerd.sock.ttrpc"$/m,
  );
  assert.match(toml, /^ {2}sandbox = "registry.k8s.io\/pause:3.10.2"$/m);
  assert.match(toml, /^ {2}BinaryName = "\/cache\/bin\/runc"$/m);
  assert.match(toml, /^ {2}SystemdCgroup = false$/m);
  assert.match(toml, /^ {2}Root = "\/t\/containerd\/state\/runc"$/m);
  assert.match(toml, /^ {2}netns_mounts_under_state_dir = true$/m);
  assert.match(toml, /^ {2}restrict_oom_score_adj = true$/m);
  assert.match(toml, /^ {2}bin_dirs = \["\/cache\/bin\/cni"\]$/m);
  assert.match(toml, /^ {2}conf_dir = "\/t\/cni\/net.d"$/m);
  // Nothing of the machine's own containerd (/run/containerd, /var/lib/containerd).
  assert.doesNotMatch(toml, /\/run\/containerd|\/var\/lib\/containerd/);
});

test('containerd: a path with a quote or backslash stays one TOML string', () => {
  const toml = containerdConfig({ ...paths, root: '/t/a "b"\\c' });
  assert.match(toml, /^root = "\/t\/a \\"b\\"\\\\c"$/m);
});

test('CNI: one bridge on a documentation range, gateway = node IP and default route, leases under the given folder, no masquerade', () => {
  const list = cniNetworkList('/t/cni/ipam') as {
    plugins: {
      type: string;
      ipMasq: boolean;
      ipam: {
        dataDir: string;
        ranges: { subnet: string; gateway: string }[][];
        routes: { dst: string }[];
      };
    }[];
  };
  assert.deepEqual(
    list.plugins.map((p) => p.type),
    ['bridge'],
  );
  const bridge = list.plugins[0]!;
  assert.equal(bridge.ipMasq, false);
  assert.equal(bridge.ipam.dataDir, '/t/cni/ipam');
  assert.deepEqual(bridge.ipam.ranges, [[{ subnet: POD_SUBNET, gateway: NODE_IP }]]);
  // Through the node: how a pod reaches the agent's link-local address on it.
  assert.deepEqual(bridge.ipam.routes, [{ dst: '0.0.0.0/0' }]);
  // RFC 5737 TEST-NET-2: never a private or public address of anything real.
  const docs = new BlockList();
  docs.addSubnet('198.51.100.0', 24);
  assert.ok(docs.check(NODE_IP));
  assert.equal(POD_SUBNET, '198.51.100.0/24');
});

test('kubelet: accepts cgroup v1 explicitly, cgroupfs under its own root, no anonymous access, ports from inputs', () => {
  const c = kubeletConfig({
    containerdSocket: '/t/containerd/containerd.sock',
    clientCaFile: '/t/ca.crt',
    tlsCertFile: '/t/kubelet.crt',
    tlsKeyFile: '/t/kubelet.key',
    podLogsDir: '/t/pod-logs',
    port: 41001,
    healthzPort: 41002,
    cgroupRoot: '/openirsa-node-0a1b2c3d',
  }) as Record<string, unknown>;
  assert.equal(c.kind, 'KubeletConfiguration');
  assert.equal(c.failCgroupV1, false);
  assert.equal(c.cgroupDriver, 'cgroupfs');
  assert.equal(c.cgroupRoot, '/openirsa-node-0a1b2c3d');
  assert.equal(c.containerRuntimeEndpoint, 'unix:///t/containerd/containerd.sock');
  assert.deepEqual([c.port, c.healthzPort, c.readOnlyPort], [41001, 41002, 0]);
  assert.deepEqual(c.authentication, {
    anonymous: { enabled: false },
    webhook: { enabled: false },
    x509: { clientCAFile: '/t/ca.crt' },
  });
  assert.equal(c.podLogsDir, '/t/pod-logs');
  assert.equal(c.podCIDR, POD_SUBNET);
});

test("kubelet kubeconfig: the node's own identity, server and CA from the inputs", () => {
  const text = kubeletKubeconfig('https://127.0.0.1:6443', 'CA', 'CERT', 'KEY');
  assert.match(text, /server: https:\/\/127\.0\.0\.1:6443/);
  assert.match(text, new RegExp(`name: system:node:${NODE_NAME}`));
  assert.match(text, new RegExp(`certificate-authority-data: ${Buffer.from('CA').toString('base64')}`));
  assert.match(text, new RegExp(`client-certificate-data: ${Buffer.from('CERT').toString('base64')}`));
  assert.match(text, new RegExp(`client-key-data: ${Buffer.from('KEY').toString('base64')}`));
});
