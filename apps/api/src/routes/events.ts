import { once } from 'node:events'
import { PassThrough } from 'node:stream'
import { type Static, Type } from '@sinclair/typebox'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { type EventRecord, MAX_PAGE_SIZE } from '@image-service/foundation'
import type { ApiContainer } from '../container.ts'
import { requestContext } from '../http/request-context.ts'
import { errorResponses, Timestamp } from '../http/schemas.ts'

const eventId = (description: string) => Type.String({ maxLength: 41, description, examples: ['812-40'] })
const EventId = eventId('An event id: `<transaction>-<sequence>`, increasing in delivery order; opaque to clients')

export const EventsQuery = Type.Object(
  {
    after: Type.Optional(eventId('Events after this id (exclusive): the last id seen, or next_cursor')),
    limit: Type.Optional(Type.String({ pattern: '^[0-9]{1,3}$', description: `1..${MAX_PAGE_SIZE}, default 20` })),
  },
  { additionalProperties: false },
)

export const EventResponse = Type.Object(
  {
    id: EventId,
    type: Type.String({ description: 'image.pending, image.ready, image.failed, image.deleted, job.queued, job.running, …' }),
    subject_id: Type.String({ description: 'The image or job the event is about' }),
    at: Timestamp('When the change was made (RFC 3339, UTC)'),
    data: Type.Object({}, { additionalProperties: true }),
  },
  { title: 'Event', additionalProperties: false },
)
export type EventResponse = Static<typeof EventResponse>

export const EventListResponse = Type.Object(
  {
    items: Type.Array(EventResponse),
    next_cursor: Type.Union([EventId, Type.Null()], {
      description: 'The last id of this page (or the `after` given, on an empty page): pass it as `after` to tail the log',
    }),
  },
  { additionalProperties: false },
)
export type EventListResponse = Static<typeof EventListResponse>

export const EventStreamQuery = Type.Object(
  {
    access_token: Type.Optional(
      Type.String({
        maxLength: 16_384,
        description: 'For EventSource, which cannot send headers: a JWT that expires soon (never an API key)',
      }),
    ),
  },
  { additionalProperties: false },
)
export const EventStreamHeaders = Type.Object({
  'last-event-id': Type.Optional(eventId('Sent by EventSource on reconnect: replay the events after it')),
})

export function eventBody(event: EventRecord): EventResponse {
  return { id: event.id, type: event.type, subject_id: event.subjectId, at: event.at.toISOString(), data: event.data }
}

/** One SSE message: `id:` is the event id, `data:` the Event as JSON (one line). */
function sseMessage(event: EventRecord): string {
  return `id: ${event.id}\ndata: ${JSON.stringify(eventBody(event))}\n\n`
}

export const eventRoutes: FastifyPluginAsyncTypebox<{
  container: Pick<ApiContainer, 'listEvents' | 'followEvents' | 'closeEventStreams'>
  heartbeatSeconds: number
}> = async (app, { container, heartbeatSeconds }) => {
  // Open streams would hold the server's close() forever: end them first (clients reconnect elsewhere).
  app.addHook('preClose', async () => container.closeEventStreams())

  app.get(
    '/api/image/v1/events',
    {
      schema: {
        tags: ['events'],
        summary: "The caller's events, oldest first, after an id",
        querystring: EventsQuery,
        response: { 200: EventListResponse, ...errorResponses(400, 401, 503) },
      },
    },
    async (request): Promise<EventListResponse> => {
      const page = await container.listEvents(requestContext(request), {
        after: request.query.after,
        limit: request.query.limit === undefined ? undefined : Number(request.query.limit),
      })
      return { items: page.items.map(eventBody), next_cursor: page.nextCursor }
    },
  )

  app.get(
    '/api/image/v1/events/stream',
    {
      config: { accessTokenQuery: true },
      schema: {
        tags: ['events'],
        summary: "The caller's events live (Server-Sent Events), with heartbeats; Last-Event-ID replays what was missed",
        querystring: EventStreamQuery,
        headers: EventStreamHeaders,
        response: {
          200: {
            description: '`text/event-stream`: `id:` the event id, `data:` the Event as JSON',
            content: { 'text/event-stream': { schema: Type.String() } },
          },
          ...errorResponses(400, 401, 503),
        },
      },
    },
    async (request, reply) => {
      const gone = new AbortController()
      reply.raw.once('close', () => gone.abort())
      const events = await container.followEvents(requestContext(request), {
        lastEventId: request.headers['last-event-id'],
        signal: gone.signal,
      })
      const body = new PassThrough()
      const heartbeat = setInterval(() => body.write(': heartbeat\n\n'), heartbeatSeconds * 1000)
      let sent = 0
      const pump = async () => {
        try {
          for await (const event of events) {
            sent++
            if (!body.write(sseMessage(event))) await once(body, 'drain', { signal: gone.signal })
          }
        } catch (error) {
          if (!gone.signal.aborted) request.log.warn({ err: error }, 'event stream ended by an error')
        } finally {
          clearInterval(heartbeat)
          await events.return(undefined)
          body.end()
          // A stream the client ends gets no "request completed" line (Fastify sees an abort): this is its line.
          request.log.info(
            { route: request.routeOptions.url, events: sent, by: gone.signal.aborted ? 'client' : 'server' },
            'event stream closed',
          )
        }
      }
      // The reconnection delay a client waits after a drop, then whatever it missed is replayed.
      body.write('retry: 2000\n\n')
      void pump()
      return (
        reply
          .header('content-type', 'text/event-stream; charset=utf-8')
          .header('cache-control', 'no-cache, no-transform')
          .header('x-accel-buffering', 'no')
          // The connection ends with the stream: a stream ended at shutdown would otherwise leave
          // an idle keep-alive socket that server.close() waits for (up to keepAliveTimeout).
          .header('connection', 'close')
          // A stream is sent as it is written; the 200 schema above documents it, it does not serialise it.
          .send(body as unknown as string)
      )
    },
  )
}
