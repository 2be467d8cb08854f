import { FastifyOtelInstrumentation } from '@fastify/otel'
import { IMAGE_ID_ATTRIBUTE } from '@image-service/foundation'
import type { FastifyBaseLogger, FastifyRequest, FastifyTypeProvider } from 'fastify'
import type { AnyFastifyInstance } from './fastify-instance.ts'
import { isOperationalPath } from './rate-limit.ts'

/**
 * Request spans from @fastify/otel (route template as `http.route`), on the global tracer
 * provider, when tracing is on. Health and metrics scrapes are left out. The image a request
 * is about becomes the span's `image.id`: from the path or the body (`image_id`,
 * `image_ids`), or, for an upload, set by the route once the id exists (traceRequestImage).
 */
export async function registerTracing<L extends FastifyBaseLogger, P extends FastifyTypeProvider>(
  app: AnyFastifyInstance<L, P>,
  options: { enabled: boolean },
): Promise<void> {
  if (!options.enabled) return
  const instrumentation = new FastifyOtelInstrumentation({
    ignorePaths: (route) => isOperationalPath(route.url),
  })
  await app.register(instrumentation.plugin())
  app.addHook('preHandler', async (request) => {
    const params = request.params as { image_id?: unknown } | undefined
    const body = request.body as { image_id?: unknown; image_ids?: unknown } | undefined
    const id = params?.image_id ?? body?.image_id
    if (typeof id === 'string') traceRequestImage(request, id)
    else if (Array.isArray(body?.image_ids))
      traceRequestImage(
        request,
        body.image_ids.filter((i): i is string => typeof i === 'string'),
      )
  })
}

/** Sets the image id (or ids) on the request's span; nothing when tracing is off. */
export function traceRequestImage(request: FastifyRequest, id: string | readonly string[]): void {
  if (typeof request.opentelemetry !== 'function') return
  const otel = request.opentelemetry()
  if (!otel.enabled) return
  if (typeof id === 'string') otel.span.setAttribute(IMAGE_ID_ATTRIBUTE, id)
  else otel.span.setAttribute(`${IMAGE_ID_ATTRIBUTE}s`, [...id])
}
