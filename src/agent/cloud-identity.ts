// With `backend: cloud`, each agent learns its own place in the cloud (instance, interface,
// zone) from instance metadata or its Node's spec.providerID, publishes its interface for the
// route controller, and turns the interface's source/destination check off: with it on, the
// VPC drops every packet to or from a pod address on this host.
import {
  ANNOTATION_CLOUD_INTERFACE,
  ANNOTATION_CLOUD_SOURCE_DEST_CHECK,
  type Node,
} from '../api/types.js';
import { ec2Api } from '../cloud/ec2.js';
import {
  DEFAULT_METADATA_ENDPOINT,
  identityFromMetadata,
  identityFromProviderID,
  type CloudIdentity,
} from '../cloud/identity.js';
import { getClusterNetwork, getObject, updateObject } from '../store/objects.js';
import { errorMessage } from '../util/errors.js';
import type { AgentContext, Controller } from './controller.js';

const NAME = 'cloud-identity';
const RETRY_MS = 5000;

export function cloudIdentityController(): Controller {
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  return {
    name: NAME,
    async start(ctx: AgentContext): Promise<void> {
      const network = await getClusterNetwork(ctx.store);
      const cloud = network.cloud;
      if (network.backend !== 'cloud' || !cloud) {
        ctx.health.setReady(NAME, true);
        return;
      }
      const log = ctx.log.child({ controller: NAME });
      const self = ctx.options.nodeName;
      // Tests leave the check on to show what the VPC then does.
      const keepCheck = process.env.PODNET_CLOUD_KEEP_SOURCE_DEST_CHECK === '1';
      const api = ec2Api(cloud);
      const attempt = async (): Promise<void> => {
        try {
          const node = await getObject(ctx.store, 'Node', undefined, self);
          const identity = await learn(node, cloud.metadataEndpoint, api);
          if (!keepCheck) await api.disableSourceDestCheck(identity.networkInterfaceId!);
          await updateObject(ctx.store, 'Node', undefined, self, (n: Node) => {
            const annotations = {
              ...n.metadata.annotations,
              [ANNOTATION_CLOUD_INTERFACE]: identity.networkInterfaceId!,
              [ANNOTATION_CLOUD_SOURCE_DEST_CHECK]: keepCheck ? 'on' : 'off',
            };
            const providerID =
              n.spec.providerID ?? `aws:///${identity.zone ?? ''}/${identity.instanceId}`;
            if (
              n.spec.providerID === providerID &&
              Object.entries(annotations).every(([k, v]) => n.metadata.annotations?.[k] === v)
            ) {
              return undefined;
            }
            return {
              ...n,
              metadata: { ...n.metadata, annotations },
              spec: { ...n.spec, providerID },
            };
          });
          log.info(
            { ...identity, sourceDestCheck: keepCheck ? 'on' : 'off' },
            'cloud identity published',
          );
          ctx.health.setError(NAME, undefined);
          ctx.health.setReady(NAME, true);
        } catch (err) {
          ctx.health.setError(NAME, errorMessage(err));
          log.warn({ err: errorMessage(err) }, 'cloud identity not learnt yet');
          if (!stopped) timer = setTimeout(() => void attempt(), RETRY_MS);
        }
      };
      await attempt();
    },
    async stop(): Promise<void> {
      stopped = true;
      clearTimeout(timer);
    },
  };
}

/** From the Node's providerID when it has one, else from instance metadata. */
async function learn(
  node: Node | undefined,
  metadataEndpoint: string | undefined,
  api: ReturnType<typeof ec2Api>,
): Promise<CloudIdentity & { networkInterfaceId: string }> {
  const fromSpec = identityFromProviderID(node?.spec.providerID);
  const identity =
    fromSpec ?? (await identityFromMetadata(metadataEndpoint ?? DEFAULT_METADATA_ENDPOINT));
  const networkInterfaceId =
    identity.networkInterfaceId ?? (await api.primaryInterface(identity.instanceId)).eni;
  return { ...identity, networkInterfaceId };
}
