/// <reference path="./s3rver.d.ts" />
import type { S3rverStore } from '@20minutes/s3rver'
import S3Error from '@20minutes/s3rver/lib/models/error.js'

/**
 * Reads answered as S3 answers them where s3rver does not. `If-Match` on a GET or HEAD: 412
 * when the stored ETag differs (s3rver ignores the header, and a reader that pins the version
 * it checked, HEAD then GET If-Match, must see a replacement). A ranged GET of an empty
 * object: 416 (s3rver promises one byte and sends none, so the client waits ~5 s for the
 * connection to time out). In the store, like refuseOverwrites, so the signature is checked first.
 */
export function answerReadsAsS3(store: S3rverStore, ifMatch: () => string | undefined): void {
  const getObject = store.getObject.bind(store)
  store.getObject = async (bucket, key, options) => {
    const object = await getObject(bucket, key, options)
    if (object === null) return object
    const accepted = ifMatch()?.split(',').map(unquote)
    const refusal =
      accepted !== undefined && !accepted.includes('*') && !accepted.includes(unquote(object.metadata.etag ?? ''))
        ? new S3Error('PreconditionFailed', 'At least one of the pre-conditions you specified did not hold')
        : options?.start !== undefined && object.size === 0
          ? new S3Error('InvalidRange', 'The requested range is not satisfiable')
          : undefined
    if (refusal === undefined) return object
    object.content?.destroy()
    throw refusal
  }
}

function unquote(etag: string): string {
  return etag.trim().replace(/^W\//, '').replace(/"/g, '')
}
