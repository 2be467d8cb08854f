/// <reference path="./s3rver.d.ts" />
import { unlink } from 'node:fs/promises'
import type { S3rverStore } from '@20minutes/s3rver'

/** The files s3rver's filesystem store keeps for one object. */
const OBJECT_FILES = ['object', 'object.md5', 'metadata.json'] as const

/**
 * Deletes an object's files and leaves its directories in place. s3rver's own delete then
 * removes the key's parent directories, recursively, when they look empty: a PUT landing
 * under the same prefix in between lost its directory (a 500, or a vanished object after a
 * 200). S3 has no directories, so an empty one left behind changes nothing anyone can see.
 */
export function keepDirectoriesOnDelete(store: S3rverStore): void {
  store.deleteObject = async (bucket, key) => {
    await Promise.all(
      OBJECT_FILES.map((resource) =>
        unlink(store.getResourcePath(bucket, key, resource)).catch((error: NodeJS.ErrnoException) => {
          if (error.code !== 'ENOENT') throw error
        }),
      ),
    )
  }
}
