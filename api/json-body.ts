/**
 * The API's JSON bodies: UTF-8 only. Node decodes invalid UTF-8 by replacing each bad byte with
 * U+FFFD, so a body with a stray byte would be stored quietly changed; it is refused with 400 instead,
 * before anything is read from it. Parsing is otherwise Fastify's own (its prototype-poisoning checks
 * included).
 */
import { isUtf8 } from 'node:buffer';
import type { FastifyInstance } from 'fastify';
import { ValidationError } from '../domain/errors.js';

export function acceptUtf8JsonOnly(app: FastifyInstance): void {
  const parseJson = app.getDefaultJsonParser(
    app.initialConfig.onProtoPoisoning ?? 'error',
    app.initialConfig.onConstructorPoisoning ?? 'error',
  );
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body, done) => {
    const bytes = body as Buffer;
    if (!isUtf8(bytes))
      return done(
        new ValidationError('Request body', [
          {
            field: 'body',
            message: 'is not valid UTF-8: send the JSON text encoded as UTF-8',
          },
        ]),
        undefined,
      );
    parseJson(request, bytes.toString('utf8'), done);
  });
}
