import type {
  FastifyBaseLogger,
  FastifyInstance,
  FastifyTypeProvider,
  RawReplyDefaultExpression,
  RawRequestDefaultExpression,
  RawServerDefault,
} from 'fastify'

/**
 * Any root instance, whatever its logger type (the app passes pino's Logger) or type
 * provider (TypeBox): the middleware only adds hooks and plugins, which do not depend on them.
 */
export type AnyFastifyInstance<
  L extends FastifyBaseLogger = FastifyBaseLogger,
  P extends FastifyTypeProvider = FastifyTypeProvider,
> = FastifyInstance<RawServerDefault, RawRequestDefaultExpression, RawReplyDefaultExpression, L, P>
