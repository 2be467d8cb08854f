import { type Credential, createImageServiceClient, type ImageServiceClient } from '@image-service/client'
import { jwtClaims } from './jwt-claims.ts'

export type Session = { client: ImageServiceClient; apiUrl: string; who: string }

/**
 * Checks the credential with one cheap authenticated call (usage) before showing the upload
 * form, so a wrong token or an api without CORS for this page is said at once.
 */
export async function signIn(apiUrl: string, credential: Credential): Promise<Session> {
  const client = createImageServiceClient({ baseUrl: apiUrl, token: credential })
  const answer = await client.GET('/api/image/v1/usage').catch((error: unknown) => {
    const why = error instanceof Error ? error.message : String(error)
    throw new Error(`The api did not answer (${why}). Is it running at ${apiUrl}, and does its CORS_ORIGINS include ${location.origin}?`)
  })
  if (answer.error !== undefined) {
    const { code, message } = answer.error as { code?: string; message?: string }
    throw new Error(`The api refused the token: ${message ?? answer.response.statusText} (${code ?? answer.response.status})`)
  }
  const token = typeof credential === 'string' ? credential : await credential()
  return { client, apiUrl, who: describeCredential(token) }
}

function describeCredential(token: string): string {
  if (token.startsWith('isk_')) return `an API key (${token.slice(0, 12)}…)`
  const { email, sub } = jwtClaims(token)
  if (typeof email === 'string') return email
  if (typeof sub === 'string') return sub
  return 'the token’s owner'
}
