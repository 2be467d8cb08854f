import createClient, { type Client } from 'openapi-fetch'
import type { paths } from './schema.ts'

export type ImageServiceClient = Client<paths>

/** The bearer credential: a fixed one (an API key, a long-lived token), or asked for before each request (renewal). */
export type Credential = string | (() => string | Promise<string>)

/** A typed client of the image service: every call carries the bearer credential. */
export function createImageServiceClient(options: { baseUrl: string; token: Credential }): ImageServiceClient {
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
