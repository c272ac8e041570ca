// A client of the CRI runtime service (`runtime.v1`) over containerd's socket, as kubelet
// speaks it: the calls the lab's pod runner makes, typed for the fields it uses. The service
// definition is Kubernetes' own cri-api proto, loaded at run time.
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { OperationError } from '../util/errors.js';

/** The vendored proto, in the source tree (dist/src/lab/ → src/lab/). */
function protoFile(): string {
  return join(
    dirname(fileURLToPath(import.meta.url)),
    '..',
    '..',
    '..',
    'src',
    'lab',
    'cri-api.proto',
  );
}

export interface SandboxMetadata {
  name: string;
  uid: string;
  namespace: string;
  attempt: number;
}

export interface SandboxConfig {
  metadata: SandboxMetadata;
  hostname: string;
  log_directory: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  dns_config: { servers: string[]; searches: string[]; options: string[] };
  linux: Record<string, unknown>;
}

export interface ContainerConfig {
  metadata: { name: string; attempt: number };
  image: { image: string };
  command: string[];
  args: string[];
  /** Values are bytes in the current cri-api (strings on the wire to older runtimes). */
  envs: { key: string; value: Buffer }[];
  labels: Record<string, string>;
  mounts: { container_path: string; host_path: string; readonly: boolean }[];
  log_path: string;
  linux: Record<string, unknown>;
}

export interface Sandbox {
  id: string;
  metadata: SandboxMetadata;
  state: 'SANDBOX_READY' | 'SANDBOX_NOTREADY';
  labels: Record<string, string>;
}

export interface SandboxStatus extends Sandbox {
  network?: { ip: string; additional_ips: { ip: string }[] } | null;
}

export interface Container {
  id: string;
  pod_sandbox_id: string;
  metadata: { name: string; attempt: number };
  state: 'CONTAINER_CREATED' | 'CONTAINER_RUNNING' | 'CONTAINER_EXITED' | 'CONTAINER_UNKNOWN';
}

export interface ContainerStatus extends Container {
  exit_code: number;
  started_at: string;
  finished_at: string;
  reason: string;
  message: string;
}

type Unary = (req: unknown, cb: (err: grpc.ServiceError | null, res: unknown) => void) => void;

export class CriClient {
  private readonly service: grpc.Client & Record<string, Unary>;

  constructor(readonly socket: string) {
    const def = protoLoader.loadSync(protoFile(), {
      keepCase: true,
      longs: String,
      enums: String,
      defaults: true,
    });
    const pkg = grpc.loadPackageDefinition(def) as unknown as {
      runtime: { v1: { RuntimeService: grpc.ServiceClientConstructor } };
    };
    this.service = new pkg.runtime.v1.RuntimeService(
      `unix://${socket}`,
      grpc.credentials.createInsecure(),
    ) as grpc.Client & Record<string, Unary>;
  }

  private call<T>(method: string, req: unknown): Promise<T> {
    return new Promise((resolve, reject) => {
      this.service[method]!.call(this.service, req, (err, res) => {
        if (err) reject(new OperationError(`CRI ${method}: ${err.details || err.message}`));
        else resolve(res as T);
      });
    });
  }

  async runPodSandbox(config: SandboxConfig): Promise<string> {
    const r = await this.call<{ pod_sandbox_id: string }>('RunPodSandbox', { config });
    return r.pod_sandbox_id;
  }

  async stopPodSandbox(id: string): Promise<void> {
    await this.call('StopPodSandbox', { pod_sandbox_id: id });
  }

  async removePodSandbox(id: string): Promise<void> {
    await this.call('RemovePodSandbox', { pod_sandbox_id: id });
  }

  async podSandboxStatus(id: string): Promise<SandboxStatus> {
    const r = await this.call<{ status: SandboxStatus }>('PodSandboxStatus', {
      pod_sandbox_id: id,
    });
    return r.status;
  }

  async listPodSandbox(): Promise<Sandbox[]> {
    const r = await this.call<{ items: Sandbox[] }>('ListPodSandbox', {});
    return r.items;
  }

  async createContainer(
    sandboxId: string,
    config: ContainerConfig,
    sandboxConfig: SandboxConfig,
  ): Promise<string> {
    const r = await this.call<{ container_id: string }>('CreateContainer', {
      pod_sandbox_id: sandboxId,
      config,
      sandbox_config: sandboxConfig,
    });
    return r.container_id;
  }

  async startContainer(id: string): Promise<void> {
    await this.call('StartContainer', { container_id: id });
  }

  async stopContainer(id: string, timeoutSeconds: number): Promise<void> {
    await this.call('StopContainer', { container_id: id, timeout: timeoutSeconds });
  }

  async removeContainer(id: string): Promise<void> {
    await this.call('RemoveContainer', { container_id: id });
  }

  async listContainers(sandboxId: string): Promise<Container[]> {
    const r = await this.call<{ containers: Container[] }>('ListContainers', {
      filter: { pod_sandbox_id: sandboxId },
    });
    return r.containers;
  }

  async containerStatus(id: string): Promise<ContainerStatus> {
    const r = await this.call<{ status: ContainerStatus }>('ContainerStatus', { container_id: id });
    return r.status;
  }

  close(): void {
    this.service.close();
  }
}
