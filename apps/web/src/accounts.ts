import { jwtClaims } from './jwt-claims.ts'

/**
 * The api's built-in accounts (Better Auth at /api/auth/*): sign in or sign up with an email and
 * a password, keep the session token its bearer plugin returns, and trade it for the 15-minute
 * JWT the image routes take, again shortly before each one expires.
 */
export type AccountRequest = { apiUrl: string; mode: 'sign-in' | 'sign-up'; email: string; password: string; name: string }

const RENEW_BEFORE_EXPIRY_MS = 60_000

export async function accountCredential(request: AccountRequest): Promise<() => Promise<string>> {
  const body =
    request.mode === 'sign-up'
      ? { name: request.name || request.email, email: request.email, password: request.password }
      : { email: request.email, password: request.password }
  const answer = await fetch(`${request.apiUrl}/api/auth/${request.mode}/email`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  })
  if (!answer.ok) throw new Error(await refusal(answer))
  const session = answer.headers.get('set-auth-token')
  if (!session) throw new Error('The api answered without a session token (set-auth-token).')

  let current: { token: Promise<string>; renewAt: number } | undefined
  return () => {
    if (current === undefined || Date.now() >= current.renewAt) {
      const token = exchange(request.apiUrl, session)
      current = { token, renewAt: Number.POSITIVE_INFINITY }
      const pending = current
      token.then(
        (jwt) => (pending.renewAt = expiryOf(jwt) - RENEW_BEFORE_EXPIRY_MS),
        () => (pending.renewAt = 0),
      )
    }
    return current.token
  }
}

async function exchange(apiUrl: string, session: string): Promise<string> {
  const answer = await fetch(`${apiUrl}/api/auth/token`, { headers: { authorization: `Bearer ${session}` } })
  if (!answer.ok) throw new Error(await refusal(answer))
  const { token } = (await answer.json()) as { token?: unknown }
  if (typeof token !== 'string') throw new Error('The api answered /api/auth/token without a token.')
  return token
}

function expiryOf(jwt: string): number {
  const { exp } = jwtClaims(jwt)
  return typeof exp === 'number' ? exp * 1000 : 0
}

async function refusal(answer: Response): Promise<string> {
  const body = (await answer.json().catch(() => ({}))) as { code?: unknown; message?: unknown }
  const message = typeof body.message === 'string' ? body.message : answer.statusText
  return `${message}${typeof body.code === 'string' ? ` (${body.code})` : ''}`
}
