import createClient, { type Client } from 'openapi-fetch'
import type { paths } from './schema.ts'

export type { components, paths } from './schema.ts'
export type Image = paths['/api/image/v1/images/{image_id}']['get']['responses'][200]['content']['application/json']

/** A typed client of the image service: every call carries the bearer credential. */
export function createImageServiceClient(options: { baseUrl: string; token: string | (() => string | Promise<string>) }): Client<paths> {
  const client = createClient<paths>({ baseUrl: options.baseUrl })
  client.use({
    async onRequest({ request }) {
      const token = typeof options.token === 'string' ? options.token : await options.token()
      request.headers.set('authorization', `Bearer ${token}`)
      return request
    },
  })
  return client
}
