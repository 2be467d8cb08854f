import { generateKeyPairSync, randomBytes } from 'node:crypto'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'

/** A CloudFront-style signing key pair for the CDN emulator (never used outside development). */
export type DevKeyPair = { keyPairId: string; privateKeyPem: string; publicKeyPem: string }

const FILE_NAME = 'cloudfront-dev-key-pair.json'
const ID_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789'

export function generateDevKeyPair(): DevKeyPair {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  })
  // CloudFront public key ids look like K2JCJMDEHXQW5F: 'K' and 13 upper-case alphanumerics.
  const id = [...randomBytes(13)].map((byte) => ID_ALPHABET[byte % ID_ALPHABET.length]).join('')
  return { keyPairId: `K${id}`, privateKeyPem: privateKey, publicKeyPem: publicKey }
}

/**
 * `pnpm dev` keeps one key pair in its data directory, so signed URLs (and an app's cached
 * config) stay valid across restarts. The file is written 0600: it holds a private key.
 */
export async function loadOrCreateDevKeyPair(dataDir: string): Promise<DevKeyPair> {
  const path = join(dataDir, FILE_NAME)
  const existing = await readFile(path, 'utf8').then(
    (text) => parseKeyPair(text, path),
    (error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return undefined
      throw error
    },
  )
  if (existing) return existing
  const created = generateDevKeyPair()
  await mkdir(dataDir, { recursive: true })
  await writeFile(path, JSON.stringify(created, null, 2), { mode: 0o600 })
  return created
}

function parseKeyPair(text: string, path: string): DevKeyPair {
  const value: unknown = JSON.parse(text)
  if (
    typeof value === 'object' &&
    value !== null &&
    'keyPairId' in value &&
    'privateKeyPem' in value &&
    'publicKeyPem' in value &&
    typeof value.keyPairId === 'string' &&
    typeof value.privateKeyPem === 'string' &&
    typeof value.publicKeyPem === 'string'
  ) {
    return { keyPairId: value.keyPairId, privateKeyPem: value.privateKeyPem, publicKeyPem: value.publicKeyPem }
  }
  throw new Error(`${path} is not a dev key pair; delete it to have a new one generated`)
}
