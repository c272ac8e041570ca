// What podman needs beyond the plugin and its conflist: a containers.conf drop-in that makes
// it use CNI (not netavark), look for plugins where podnet installed its own, and read network
// configs where the conflist was written. Without it, a plugin installed outside podman's own
// list of directories fails with "failed to find plugin podnet in path".

/** Where podman (containers/common) reads drop-ins for root, after containers.conf. */
export const PODMAN_DROP_IN = '/etc/containers/containers.conf.d/50-podnet.conf';

/** podman's own plugin directories, kept after podnet's so the other plugins still resolve. */
const PODMAN_PLUGIN_DIRS = [
  '/usr/local/libexec/cni',
  '/usr/libexec/cni',
  '/usr/local/lib/cni',
  '/usr/lib/cni',
  '/opt/cni/bin',
];

/** A TOML basic string (JSON's escapes are TOML's for the characters a path can hold). */
function tomlString(value: string): string {
  return JSON.stringify(value);
}

export function renderPodmanDropIn(opts: { binDir: string; confDir: string }): string {
  const dirs = [opts.binDir, ...PODMAN_PLUGIN_DIRS.filter((d) => d !== opts.binDir)];
  return [
    "# Written by 'podnet cni install --runtime podman': podman runs --network podnet",
    '# through the podnet CNI plugin.',
    '[network]',
    'network_backend = "cni"',
    `cni_plugin_dirs = [${dirs.map(tomlString).join(', ')}]`,
    `network_config_dir = ${tomlString(opts.confDir)}`,
    '',
  ].join('\n');
}
