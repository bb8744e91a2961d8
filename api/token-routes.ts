/**
 * Token routes of the operator API, for admins: list, create (the token is in this one answer and
 * nowhere else) and revoke. An admin sees and manages only tokens whose scope lies within its own,
 * and cannot make a token reaching further than itself.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { ApiTokenStore } from '../connectors/mongo/index.js';
import { ROLES, scopeCovers } from '../domain/access.js';
import { ValidationError } from '../domain/errors.js';
import { callerOf } from './access.js';
import { type ApiTypeProvider, ERRORS, Token } from './schemas.js';

const admin = { access: { needs: 'admin' as const } };

export function registerTokenRoutes(app: FastifyInstance, tokens: ApiTokenStore): void {
  const api = app.withTypeProvider<ApiTypeProvider>();
  api.get(
    '/tokens',
    { config: admin, schema: { tags: ['tokens'], response: { 200: z.array(Token), ...ERRORS } } },
    async (request) => tokens.list({ within: callerOf(request).scope }),
  );

  api.post(
    '/tokens',
    {
      config: admin,
      schema: {
        tags: ['tokens'],
        description: 'Creates a token; the answer holds it (`token`), the only time it is shown.',
        body: z
          .object({
            name: z.string(),
            role: z.enum(ROLES),
            scope: z.string().optional().describe("a hierarchy place or *; default the caller's scope"),
          })
          .strict(),
        response: { 201: Token.extend({ token: z.string() }), ...ERRORS },
      },
    },
    async (request, reply) => {
      const caller = callerOf(request);
      const scope = request.body.scope ?? caller.scope;
      if (!scopeCovers(caller.scope, scope))
        throw new ValidationError('Token', [
          {
            field: 'scope',
            message: `must be ${caller.scope} or a place under it (the scope of this token)`,
          },
        ]);
      return reply
        .status(201)
        .send(await tokens.create({ ...request.body, scope }, caller.name, { within: caller.scope }));
    },
  );

  api.delete(
    '/tokens/:ref',
    {
      config: admin,
      schema: {
        tags: ['tokens'],
        params: z.object({ ref: z.string().describe('token name or id') }),
        response: { 200: Token, ...ERRORS },
      },
    },
    async (request) => {
      const caller = callerOf(request);
      return tokens.revoke(request.params.ref, caller.name, { within: caller.scope });
    },
  );
}
