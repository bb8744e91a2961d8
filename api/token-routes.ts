/**
 * Token routes of the operator API, for admins: list, create (the token is in this one answer and
 * nowhere else) and revoke. An admin sees and manages only tokens whose scope lies within its own,
 * and cannot make a token reaching further than itself.
 */
import type { FastifyInstance } from 'fastify';
import type { ApiTokenStore } from '../connectors/mongo/api-tokens.js';
import { scopeCovers } from '../domain/access.js';
import { ValidationError } from '../domain/errors.js';
import { callerOf } from './access.js';

const admin = { config: { access: { needs: 'admin' as const } } };

export function registerTokenRoutes(app: FastifyInstance, tokens: ApiTokenStore): void {
  app.get('/tokens', admin, async (request) => tokens.list({ within: callerOf(request).scope }));

  app.post('/tokens', admin, async (request, reply) => {
    const caller = callerOf(request);
    const body = (request.body ?? {}) as { name?: unknown; role?: unknown; scope?: unknown };
    if (typeof body !== 'object' || Array.isArray(body))
      throw new ValidationError('Token', [
        { field: 'body', message: 'must be a JSON object { name, role, scope }' },
      ]);
    const scope = body.scope ?? caller.scope;
    if (typeof scope === 'string' && !scopeCovers(caller.scope, scope))
      throw new ValidationError('Token', [
        { field: 'scope', message: `must be ${caller.scope} or a place under it (the scope of this token)` },
      ]);
    return reply.status(201).send(await tokens.create({ ...body, scope }, caller.name));
  });

  app.delete<{ Params: { ref: string } }>('/tokens/:ref', admin, async (request) => {
    const caller = callerOf(request);
    return tokens.revoke(request.params.ref, caller.name, { within: caller.scope });
  });
}
