/**
 * The queue page: whether the sync queue runs or is paused (and, for a caller of every scope, its job
 * counts), and pausing or resuming it (pauseSyncs, as the API's queue routes): an admin whose scope is
 * `*` only, since it stops every tenant's syncs.
 */
import type { FastifyInstance } from 'fastify';
import { ALL_SCOPES, roleAllows } from '../../domain/access.js';
import { pauseSyncs } from '../../operations/index.js';
import { queueState } from '../../queues/queue-state.js';
import { queueCall } from '../redis-calls.js';
import { html } from './html.js';
import { CONSOLE_ROUTE, needs, type ConsoleContext } from './context.js';

export function registerQueueRoutes(console: FastifyInstance, context: ConsoleContext): void {
  const { options, send, sessionOf } = context;
  const { syncQueue, timeoutMs } = options;

  console.get('/console/queue', CONSOLE_ROUTE, async (request, reply) => {
    const session = sessionOf(request);
    const state = await queueCall(syncQueue, timeoutMs, () =>
      queueState(syncQueue, { jobs: session.caller.scope === ALL_SCOPES }),
    );
    const canPause = roleAllows(session.caller.role, 'admin') && session.caller.scope === ALL_SCOPES;
    const shownNotice = context.notice(request);
    return send(
      reply,
      session,
      'Queue',
      html`<h1>Sync queue</h1>
        ${shownNotice ?? ''}
        <p>
          The queue is
          <b data-field="queue-state">${state.paused ? 'paused' : 'running'}</b
          >${state.paused ? ': workers take no new sync jobs; requests wait until it is resumed.' : '.'}
        </p>
        ${
          state.jobs
            ? html`<dl class="facts">
                ${Object.entries(state.jobs).map(
                  ([k, n]) =>
                    html`<dt>${k}</dt>
                      <dd>${n}</dd>`,
                )}
              </dl>`
            : ''
        }
        ${
          canPause
            ? html`<form
                method="post"
                action="/console/queue/${state.paused ? 'resume' : 'pause'}"
                class="actions"
              >
                <input type="hidden" name="csrf" value="${session.csrf}" /><button
                  type="submit"
                  class="${state.paused ? 'primary' : 'danger'}"
                  data-action="${state.paused ? 'resume' : 'pause'}"
                >
                  ${state.paused ? 'Resume the queue' : 'Pause the queue'}
                </button>
              </form>`
            : ''
        }`,
    );
  });

  for (const action of ['pause', 'resume'] as const)
    console.post(`/console/queue/${action}`, CONSOLE_ROUTE, async (request, reply) => {
      const session = sessionOf(request);
      needs(session.caller, 'admin', true);
      const change = { paused: action === 'pause', by: session.caller.name };
      await queueCall(syncQueue, timeoutMs, () =>
        pauseSyncs({ queue: syncQueue, logger: request.log }, change),
      );
      return reply.redirect(`/console/queue?done=${action}d`, 303);
    });
}
