// The Kubernetes manifests in deploy/kubernetes/ and the models check that walks them.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

export const REPO_ROOT = new URL('../../../', import.meta.url).pathname;
export const DEPLOY_DIR = join(REPO_ROOT, 'deploy/kubernetes');
export const MODEL_FIXTURES = join(REPO_ROOT, 'test/kube-models/fixtures');

/** The manifests in the deploy folder, in the order they are applied. */
export function deployManifests(): string[] {
  return readdirSync(DEPLOY_DIR)
    .filter((f) => f.endsWith('.yaml'))
    .sort()
    .map((f) => join(DEPLOY_DIR, f));
}
