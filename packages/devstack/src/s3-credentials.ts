/// <reference path="./s3rver.d.ts" />
import AWSAccount from '@20minutes/s3rver/lib/models/account.js'

/**
 * s3rver keeps access keys in one process-wide registry, so every emulator in this process
 * accepts every key registered here. Keys are reference counted so that stopping one emulator
 * does not revoke a key another one still uses, and a key id can never be re-registered with a
 * different secret (that would silently break the first emulator's clients).
 */
const inUse = new Map<string, { secret: string; refs: number }>()

export function registerS3AccessKey(accessKeyId: string, secretAccessKey: string): () => void {
  const entry = inUse.get(accessKeyId)
  if (entry && entry.secret !== secretAccessKey) {
    throw new Error(`S3 access key ${accessKeyId} is already registered with another secret`)
  }
  if (entry) entry.refs += 1
  else {
    AWSAccount.DUMMY_ACCOUNT.createKeyPair(accessKeyId, secretAccessKey)
    inUse.set(accessKeyId, { secret: secretAccessKey, refs: 1 })
  }
  let released = false
  return () => {
    if (released) return
    released = true
    const current = inUse.get(accessKeyId)
    if (!current) return
    current.refs -= 1
    if (current.refs === 0) {
      inUse.delete(accessKeyId)
      // s3rver's own built-in key stays: revoking it would break s3rver's defaults elsewhere.
      if (accessKeyId !== 'S3RVER') AWSAccount.DUMMY_ACCOUNT.revokeAccessKey(accessKeyId)
    }
  }
}
