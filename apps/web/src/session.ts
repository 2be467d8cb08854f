import { createImageServiceClient, type ImageServiceClient } from '@image-service/client'

export type Session = { client: ImageServiceClient; apiUrl: string; who: string }

/**
 * Checks the credential with one cheap authenticated call (usage) before showing the upload
 * form, so a wrong token or an api without CORS for this page is said at once.
 */
export async function signIn(apiUrl: string, token: string): Promise<Session> {
  const baseUrl = apiUrl.replace(/\/+$/, '')
  const client = createImageServiceClient({ baseUrl, token })
  const answer = await client.GET('/api/image/v1/usage').catch((error: unknown) => {
    const why = error instanceof Error ? error.message : String(error)
    throw new Error(`The api did not answer (${why}). Is it running at ${baseUrl}, and does its CORS_ORIGINS include ${location.origin}?`)
  })
  if (answer.error !== undefined) {
    const { code, message } = answer.error as { code?: string; message?: string }
    throw new Error(`The api refused the token: ${message ?? answer.response.statusText} (${code ?? answer.response.status})`)
  }
  return { client, apiUrl: baseUrl, who: describeCredential(token) }
}

function describeCredential(token: string): string {
  if (token.startsWith('isk_')) return `an API key (${token.slice(0, 12)}…)`
  try {
    const payload = JSON.parse(atob((token.split('.')[1] ?? '').replace(/-/g, '+').replace(/_/g, '/'))) as { sub?: unknown }
    if (typeof payload.sub === 'string') return payload.sub
  } catch {
    // not a JWT we can read; the api accepted it all the same
  }
  return 'the token’s owner'
}
