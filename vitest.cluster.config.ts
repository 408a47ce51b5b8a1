import { defineConfig } from 'vitest/config';
import base from './vitest.config.ts';

/**
 * `npm run test:cluster`: the pipeline, producers, lifecycle and accounts integration tests and the cluster
 * chaos test against a real local Redis Cluster (TEST_REDIS=cluster, test/helpers/global-setup.ts).
 * Left out: the single-server restart test (it restarts its own redis-server) and the two
 * slowest pipeline files whose faults are DoorFlow-side (lost responses, 5xx, per-channel
 * invitations), so the CI run stays within its time budget; they pass on the cluster too.
 */
// Not mergeConfig: it would append these lists to the base's `include` instead of replacing it.
export default defineConfig({
  ...base,
  test: {
    ...base.test,
    include: [
      'test/integration/pipeline-*.test.ts',
      'test/integration/producers-*.test.ts',
      'test/integration/lifecycle-*.test.ts',
      // Two accounts: two hash tags, so (usually) two masters.
      'test/integration/accounts-*.test.ts',
      'test/chaos/ci-chaos-cluster.test.ts',
    ],
    exclude: [
      'node_modules/**',
      'test/integration/pipeline-redis-restart.test.ts',
      'test/integration/pipeline-faults.test.ts',
      'test/integration/pipeline-one-invitation.test.ts',
    ],
  },
});
