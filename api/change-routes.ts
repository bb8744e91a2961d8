/**
 * The change feed for the operator API: `GET /tenants/:ref/changes?after=&run=&kinds=&ops=&limit=`
 * (viewer, within the caller's scope), one page of the tenant's committed changes
 * (operations/list-changes.ts).
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { Stores } from '../connectors/mongo/index.js';
import { CHANGE_OPS, MAX_CHANGES_LIMIT } from '../domain/changes.js';
import { listChanges } from '../operations/index.js';
import { callerOf } from './access.js';
import { type ApiTypeProvider, ERRORS, queryString, RefParams } from './schemas.js';

const Change = z.object({
  cursor: z.string().describe('opaque; pass as `after` to read what came after this change'),
  runId: z.string(),
  kind: z.string(),
  externalId: z.string().optional().describe('absent on a baseline marker'),
  op: z
    .enum(CHANGE_OPS)
    .describe(
      'baseline: the kind’s first complete pull (no row per object): read the kind in full, then follow the feed after it',
    ),
  fields: z.array(z.string()).optional().describe('updated: the top-level fields that changed'),
  at: z.iso.datetime(),
});

const ChangePage = z.object({
  tenantId: z.string(),
  changes: z.array(Change),
  cursor: z.string().describe('pass as `after` to read on (never past a change still being written)'),
  more: z.boolean().describe('more committed changes follow the cursor now'),
});

const ChangeQuery = z.object({
  after: queryString().optional().describe('a cursor from an earlier page or change; the start when absent'),
  run: queryString().optional().describe('only this run’s changes'),
  kinds: queryString().optional().describe('comma-separated kinds'),
  ops: queryString()
    .optional()
    .describe(`comma-separated operations (${CHANGE_OPS.join(', ')})`),
  limit: queryString().optional().describe(`1 to ${MAX_CHANGES_LIMIT}, default 100`),
});

export function registerChangeRoutes(app: FastifyInstance, stores: Stores): void {
  const api = app.withTypeProvider<ApiTypeProvider>();
  api.get(
    '/tenants/:ref/changes',
    {
      config: { access: { needs: 'viewer' as const } },
      schema: {
        tags: ['tenants'],
        params: RefParams,
        querystring: ChangeQuery,
        response: { 200: ChangePage, ...ERRORS },
      },
    },
    async (request) => {
      const { after, run, kinds, ops, limit } = request.query;
      return listChanges(
        { stores },
        {
          tenant: request.params.ref,
          scope: callerOf(request).scope,
          ...(after !== undefined ? { after } : {}),
          ...(run !== undefined ? { runId: run } : {}),
          ...(kinds !== undefined ? { kinds } : {}),
          ...(ops !== undefined ? { ops } : {}),
          ...(limit !== undefined ? { limit } : {}),
        },
      );
    },
  );
}
