import { createHash, createHmac, createSecretKey, type Hash, type Hmac, type KeyObject } from 'node:crypto'

type SourceData = string | ArrayBuffer | ArrayBufferView

// Measured on Node 24 (the 2-core box): createHmac with a Buffer key costs ~32 us, with a
// KeyObject (or a string) ~6 us. SigV4 makes two HMACs with Buffer keys per signature (the
// signing-key cache lookup and the signature itself), so every presigned URL and every
// S3/SQS request paid ~50 us for key handling alone: the largest single item in the CPU
// profile of the presign endpoint. Keys repeat (the secret, one signing key per day, region
// and service), so their KeyObjects are kept.
const MAX_KEYS = 64
const keys = new Map<string, KeyObject>()

function keyObjectFor(secret: ArrayBuffer | ArrayBufferView): KeyObject {
  const bytes = ArrayBuffer.isView(secret) ? Buffer.from(secret.buffer, secret.byteOffset, secret.byteLength) : Buffer.from(secret)
  const id = bytes.toString('latin1')
  let key = keys.get(id)
  if (key === undefined) {
    if (keys.size >= MAX_KEYS) keys.clear()
    key = createSecretKey(bytes)
    keys.set(id, key)
  }
  return key
}

/**
 * The SDK's `sha256` (hash and HMAC) with cached HMAC keys; otherwise what @smithy's
 * Sha256Node does. Give it to AWS clients as `sha256: AwsSha256`.
 */
export class AwsSha256 {
  readonly digestLength = 32
  readonly #secret: SourceData | undefined
  #hash: Hash | Hmac
  #finished = false

  constructor(secret?: SourceData) {
    this.#secret = secret
    this.#hash = this.#create()
  }

  update(data: SourceData, encoding?: 'utf8' | 'ascii' | 'latin1'): void {
    if (this.#finished) throw new Error('Attempted to update an already finished hash.')
    if (typeof data === 'string') this.#hash.update(data, encoding ?? 'utf8')
    else this.#hash.update(ArrayBuffer.isView(data) ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength) : new Uint8Array(data))
  }

  async digest(): Promise<Uint8Array> {
    // A plain hash may be digested again after more updates (the SDK streams); an HMAC once.
    let out: Buffer
    if (this.#secret === undefined) out = (this.#hash as Hash).copy().digest()
    else {
      this.#finished = true
      out = this.#hash.digest()
    }
    return new Uint8Array(out.buffer, out.byteOffset, out.byteLength)
  }

  reset(): void {
    this.#hash = this.#create()
    this.#finished = false
  }

  #create(): Hash | Hmac {
    const secret = this.#secret
    if (secret === undefined || secret === '') return createHash('sha256')
    if (typeof secret === 'string') return createHmac('sha256', secret)
    // A zero-length key is valid for HMAC but not for a KeyObject.
    return createHmac('sha256', secret.byteLength === 0 ? Buffer.alloc(0) : keyObjectFor(secret))
  }
}
