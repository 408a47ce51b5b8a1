import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import type { Queue } from 'bullmq';
import type { RequestHandler, Router } from 'express';

/**
 * Bull Board at `/admin/queues` over every queue of the registry. In read-only mode the board
 * shows jobs but offers no retry, clean, promote or remove; otherwise retry and clean are there.
 * The caller puts the admin auth middleware in front (see {@link queuesDashboard}).
 */

export interface QueuesDashboardOptions {
  queues: Iterable<Queue>;
  /** No state-changing actions in the UI or its API. Default false. */
  readOnly?: boolean;
  /** Where the board is mounted. Default `/admin/queues`. */
  basePath?: string;
}

export interface QueuesDashboard {
  readonly basePath: string;
  readonly router: Router;
}

function queuesDashboard(options: QueuesDashboardOptions): QueuesDashboard {
  const basePath = options.basePath ?? '/admin/queues';
  const readOnly = options.readOnly ?? false;
  const serverAdapter = new ExpressAdapter();
  serverAdapter.setBasePath(basePath);
  createBullBoard({
    queues: [...options.queues].map(
      (queue) => new BullMQAdapter(queue, { readOnlyMode: readOnly, allowRetries: !readOnly }),
    ),
    serverAdapter,
    options: {
      uiConfig: { boardTitle: 'doorflow-provisioner', miscLinks: [{ text: 'Runs', url: '/admin/runs' }] },
    },
  });
  return { basePath, router: serverAdapter.getRouter() as Router };
}

/** Mounts the board behind `auth` on an express app or router. */
export function mountQueuesDashboard(
  app: { use(path: string, ...handlers: RequestHandler[]): unknown },
  auth: RequestHandler,
  options: QueuesDashboardOptions,
): QueuesDashboard {
  const board = queuesDashboard(options);
  app.use(board.basePath, auth, board.router);
  return board;
}
