/**
 * The configuration files of the test node (test/helpers/node.ts), as pure functions of their inputs: containerd's
 * config (version 4, containerd 2.4), the CNI network list, the kubelet's KubeletConfiguration and its kubeconfig.
 * Every path comes in; nothing here reads the machine.
 */

/** The node's pod network: a documentation range (RFC 5737 TEST-NET-2), so no real address is ever a target. */
export const POD_SUBNET = '198.51.100.0/24';
/** The bridge's own address: the pods' gateway, the node IP, and where host-side servers listen for pods. */
export const NODE_IP = '198.51.100.1';
export const BRIDGE = 'cni0';
export const NODE_NAME = 'openirsa-node';
/** The prefix of the cgroup parent of everything a test node's kubelet creates (one subtree per run). */
export const CGROUP_ROOT_PREFIX = '/openirsa-node-';

export interface ContainerdPaths {
  /** containerd's persistent root (images, snapshots) and its state folder (sockets, mounts). */
  root: string;
  state: string;
  socket: string;
  runc: string;
  cniBinDir: string;
  cniConfDir: string;
  sandboxImage: string;
}

const toml = (s: string) => JSON.stringify(s); // a TOML basic string is a JSON string for these characters

/** containerd 2.4 config (version 4): the CRI plugin with runc (cgroupfs driver: no systemd here) and CNI. */
export function containerdConfig(p: ContainerdPaths): string {
  return [
    'version = 4',
    `root = ${toml(p.root)}`,
    `state = ${toml(p.state)}`,
    // Snapshotters needing cgo or block devices are not built in; tracing and NRI are unused.
    "disabled_plugins = ['io.containerd.tracing.processor.v1.otlp', 'io.containerd.internal.v1.tracing', 'io.containerd.nri.v1.nri']",
    '',
    // Version 4 moved the servers into plugins; a top-level [grpc] would be ignored silently.
    "[plugins.'io.containerd.server.v1.grpc']",
    `  address = ${toml(p.socket)}`,
    '',
    "[plugins.'io.containerd.server.v1.ttrpc']",
    `  address = ${toml(`${p.socket}.ttrpc`)}`,
    '',
    "[plugins.'io.containerd.cri.v1.images']",
    "  snapshotter = 'overlayfs'",
    '',
    "[plugins.'io.containerd.cri.v1.images'.pinned_images]",
    `  sandbox = ${toml(p.sandboxImage)}`,
    '',
    "[plugins.'io.containerd.cri.v1.runtime']",
    // Pod network namespaces are bind-mounted under the state folder, not the machine's /var/run/netns.
    '  netns_mounts_under_state_dir = true',
    // root here lacks CAP_SYS_RESOURCE, so no process may lower its oom_score_adj (the pause container asks for
    // -998): keep every container's at or above containerd's own, as for rootless containerd.
    '  restrict_oom_score_adj = true',
    '',
    "[plugins.'io.containerd.cri.v1.runtime'.containerd]",
    "  default_runtime_name = 'runc'",
    '',
    "[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]",
    "  runtime_type = 'io.containerd.runc.v2'",
    '',
    "[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]",
    `  BinaryName = ${toml(p.runc)}`,
    // runc's own state, beside containerd's (its default is the machine's /run/containerd/runc).
    `  Root = ${toml(`${p.state}/runc`)}`,
    '  SystemdCgroup = false',
    '',
    "[plugins.'io.containerd.cri.v1.runtime'.cni]",
    `  bin_dirs = [${toml(p.cniBinDir)}]`,
    `  conf_dir = ${toml(p.cniConfDir)}`,
    '  max_conf_num = 1',
    '',
  ].join('\n');
}

/** One bridge network; host-local IPAM keeps its leases under `ipamDataDir` (not the machine's /var/lib/cni). */
export function cniNetworkList(ipamDataDir: string): object {
  return {
    cniVersion: '1.0.0',
    name: 'openirsa-node',
    plugins: [
      {
        type: 'bridge',
        bridge: BRIDGE,
        isGateway: true,
        // No masquerade: pods talk only to the node's own address (and no iptables is needed).
        ipMasq: false,
        hairpinMode: true,
        ipam: {
          type: 'host-local',
          ranges: [[{ subnet: POD_SUBNET, gateway: NODE_IP }]],
          // A default route through the node, as on a real node: EKS's agent address (169.254.170.23, on the node)
          // is outside the pod subnet. The sandbox's network has no way out, so nothing goes further.
          routes: [{ dst: '0.0.0.0/0' }],
          dataDir: ipamDataDir,
        },
      },
    ],
  };
}

export interface KubeletInputs {
  containerdSocket: string;
  clientCaFile: string;
  tlsCertFile: string;
  tlsKeyFile: string;
  podLogsDir: string;
  port: number;
  healthzPort: number;
  /** This run's own cgroup parent (CGROUP_ROOT_PREFIX + a random suffix), in every v1 hierarchy. */
  cgroupRoot: string;
}

/**
 * KubeletConfiguration for a throwaway node on a cgroup v1 machine without systemd. Each departure from the
 * defaults says why.
 */
export function kubeletConfig(k: KubeletInputs): object {
  return {
    apiVersion: 'kubelet.config.k8s.io/v1beta1',
    kind: 'KubeletConfiguration',
    // Kubernetes >= 1.35 refuses cgroup v1 by default (KEP-5573); this machine has only v1 controllers.
    failCgroupV1: false,
    cgroupDriver: 'cgroupfs',
    cgroupRoot: k.cgroupRoot,
    containerRuntimeEndpoint: `unix://${k.containerdSocket}`,
    address: '127.0.0.1',
    port: k.port,
    readOnlyPort: 0,
    healthzBindAddress: '127.0.0.1',
    healthzPort: k.healthzPort,
    tlsCertFile: k.tlsCertFile,
    tlsPrivateKeyFile: k.tlsKeyFile,
    authentication: {
      anonymous: { enabled: false },
      webhook: { enabled: false },
      x509: { clientCAFile: k.clientCaFile },
    },
    authorization: { mode: 'AlwaysAllow' },
    podLogsDir: k.podLogsDir,
    podCIDR: POD_SUBNET,
    maxPods: 16,
    // Swap may be on where the tests run; the pods here set no memory limits that swap would distort.
    failSwapOn: false,
    // A shared test machine's disk may be fuller than a node's defaults allow; never evict the test's pods.
    evictionHard: {
      'memory.available': '50Mi',
      'nodefs.available': '1%',
      'imagefs.available': '1%',
      'nodefs.inodesFree': '1%',
    },
    imageGCHighThresholdPercent: 100,
    imageGCLowThresholdPercent: 99,
    // The images are imported, never pulled (no registry is reachable).
    serializeImagePulls: true,
    // Faster status and volume refresh than the production defaults (tests wait on them).
    nodeStatusUpdateFrequency: '5s',
    syncFrequency: '10s',
    registerNode: true,
    rotateCertificates: false,
    serverTLSBootstrap: false,
  };
}

/** The kubelet's kubeconfig: a client certificate for system:node:<name> in group system:nodes (Node authorizer). */
export function kubeletKubeconfig(server: string, caPem: string, cert: string, key: string): string {
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    '- name: openirsa-node',
    '  cluster:',
    `    server: ${server}`,
    `    certificate-authority-data: ${b64(caPem)}`,
    'users:',
    `- name: system:node:${NODE_NAME}`,
    '  user:',
    `    client-certificate-data: ${b64(cert)}`,
    `    client-key-data: ${b64(key)}`,
    'contexts:',
    '- name: openirsa-node',
    '  context:',
    '    cluster: openirsa-node',
    `    user: system:node:${NODE_NAME}`,
    'current-context: openirsa-node',
    '',
  ].join('\n');
}
