// `fieldValidation=Strict`: a field neither podnet nor Kubernetes knows refuses the request
// (a typo like `imagee:` must not pass silently). podnet types only the fields it reads, so
// the Kubernetes fields it keeps without reading are listed here: those are accepted.

/** Kubernetes fields podnet keeps as given; `*` stands for any list index. */
export const KUBERNETES_FIELDS: readonly string[] = [
  'metadata.managedFields',
  'metadata.ownerReferences',
  'metadata.finalizers',
  'metadata.selfLink',
  'metadata.deletionGracePeriodSeconds',
  'spec.restartPolicy',
  'spec.terminationGracePeriodSeconds',
  'spec.activeDeadlineSeconds',
  'spec.dnsPolicy',
  'spec.dnsConfig',
  'spec.nodeSelector',
  'spec.serviceAccountName',
  'spec.serviceAccount',
  'spec.automountServiceAccountToken',
  'spec.hostNetwork',
  'spec.hostPID',
  'spec.hostIPC',
  'spec.shareProcessNamespace',
  'spec.securityContext',
  'spec.imagePullSecrets',
  'spec.schedulerName',
  'spec.affinity',
  'spec.tolerations',
  'spec.hostAliases',
  'spec.priorityClassName',
  'spec.priority',
  'spec.readinessGates',
  'spec.runtimeClassName',
  'spec.enableServiceLinks',
  'spec.preemptionPolicy',
  'spec.overhead',
  'spec.topologySpreadConstraints',
  'spec.volumes',
  'spec.initContainers',
  'spec.ephemeralContainers',
  'spec.os',
  'spec.containers[*].workingDir',
  'spec.containers[*].envFrom',
  'spec.containers[*].env[*].valueFrom',
  'spec.containers[*].resources',
  'spec.containers[*].resizePolicy',
  'spec.containers[*].volumeMounts',
  'spec.containers[*].volumeDevices',
  'spec.containers[*].livenessProbe',
  'spec.containers[*].startupProbe',
  'spec.containers[*].lifecycle',
  'spec.containers[*].terminationMessagePath',
  'spec.containers[*].terminationMessagePolicy',
  'spec.containers[*].imagePullPolicy',
  'spec.containers[*].securityContext',
  'spec.containers[*].stdin',
  'spec.containers[*].stdinOnce',
  'spec.containers[*].tty',
  'spec.containers[*].ports[*].hostPort',
  'spec.containers[*].ports[*].hostIP',
  'spec.ports[*].appProtocol',
  'spec.externalIPs',
  'spec.loadBalancerIP',
  'spec.loadBalancerSourceRanges',
  'spec.externalTrafficPolicy',
  'spec.internalTrafficPolicy',
  'spec.healthCheckNodePort',
  'spec.publishNotReadyAddresses',
  'spec.allocateLoadBalancerNodePorts',
  'spec.loadBalancerClass',
  'spec.trafficDistribution',
  'spec.taints',
  'spec.unschedulable',
  'spec.providerID',
  'spec.configSource',
  'spec.externalID',
  'status',
];

/** `spec.containers[0].image` → `spec.containers[*].image`. */
function generic(path: string): string {
  return path.replace(/\[\d+\]/g, '[*]');
}

export function isKubernetesField(path: string): boolean {
  const p = generic(path);
  return KUBERNETES_FIELDS.some((k) => p === k || p.startsWith(`${k}.`) || p.startsWith(`${k}[`));
}
