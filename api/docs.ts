/**
 * The API's own description: an OpenAPI 3.1 document generated from the route schemas
 * (@fastify/swagger, with fastify-type-provider-zod's transforms) and a browsable Swagger UI at
 * /docs (@fastify/swagger-ui); the document itself at /docs/json (and /docs/yaml).
 *
 * Both are public, like /health: a browser opening /docs cannot send a bearer token, and the
 * document holds nothing of any tenant, only the shape of the routes, which this repository
 * publishes anyway. Calls made from the UI need a token ("Authorize").
 */
import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import { jsonSchemaTransform, jsonSchemaTransformObject } from 'fastify-type-provider-zod';
import { M365SYNC_VERSION } from '../observability/metrics.js';

export const DOCS_PREFIX = '/docs';

/** Whether a route belongs to the documentation (public, and not itself documented). */
export function isDocsRoute(url: string): boolean {
  return url === DOCS_PREFIX || url.startsWith(`${DOCS_PREFIX}/`);
}

/** Registers the generator and the UI; call before the routes are declared. */
export function registerDocs(app: FastifyInstance): void {
  void app.register(fastifySwagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'm365sync operator API',
        version: M365SYNC_VERSION,
        description:
          'Tenants, syncs, runs, schedules, the queue and tokens. Every route but /health, /readyz, ' +
          '/metrics and /docs needs `Authorization: Bearer <token>` (m365sync tokens create). Errors are ' +
          '`{ code, message, problems? }`.',
      },
      components: {
        securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'an m365sync API token' } },
      },
      security: [{ bearer: [] }],
    },
    transform: jsonSchemaTransform,
    transformObject: jsonSchemaTransformObject,
  });
  void app.register(fastifySwaggerUi, { routePrefix: DOCS_PREFIX });
}
