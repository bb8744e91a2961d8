/**
 * The queue dashboard (Bull Board) at /admin/queues: the sync, trigger and webhook queues, where an
 * operator sees jobs and retries, promotes or cleans them. Its pages, files and calls are routes the
 * library declares; they all take QUEUE_BOARD_ACCESS through the access control's `accessByUrl`
 * (api/access.ts): an admin token whose scope is `*` (the board shows every tenant's jobs), given as
 * Bearer or, from a browser, as the password of HTTP Basic, with changes only from the board's own
 * pages. The pages refuse to be framed, so no other site can trick a signed-in admin into a click.
 */
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import type { Queue } from 'bullmq';
import type { FastifyInstance } from 'fastify';
import type { RouteAccess } from './access.js';

export const QUEUE_BOARD_PATH = '/admin/queues';
export const QUEUE_BOARD_ACCESS: RouteAccess = { needs: 'admin', allScopes: true, browser: true };

/** Whether a route is one of the board's (they take QUEUE_BOARD_ACCESS; the OpenAPI document leaves them out). */
export function isQueueBoardRoute(url: string): boolean {
  return url === QUEUE_BOARD_PATH || url.startsWith(`${QUEUE_BOARD_PATH}/`);
}

/** Serves the board over `queues`; call inside the plugin that holds the API's routes. */
export async function registerQueueBoard(app: FastifyInstance, queues: readonly Queue[]): Promise<void> {
  const serverAdapter = new FastifyAdapter();
  serverAdapter.setBasePath(QUEUE_BOARD_PATH);
  createBullBoard({
    queues: queues.map((queue) => new BullMQAdapter(queue)),
    serverAdapter,
    options: { uiConfig: { boardTitle: 'm365sync queues' } },
  });
  await app.register(async (board) => {
    board.addHook('onSend', async (_request, reply) => {
      void reply.header('x-frame-options', 'DENY');
      void reply.header('content-security-policy', "frame-ancestors 'none'");
      void reply.header('cache-control', 'no-store');
    });
    await board.register(serverAdapter.registerPlugin(), { prefix: QUEUE_BOARD_PATH });
  });
}
