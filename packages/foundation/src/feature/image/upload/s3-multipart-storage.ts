import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  HeadObjectCommand,
  ListPartsCommand,
  type S3Client,
  S3ServiceException,
  UploadPartCommand,
} from '@aws-sdk/client-s3'
import { getSignedUrl } from '@aws-sdk/s3-request-presigner'
import { isS3NotFound, storageUnavailable } from '../../../shared/storage/s3-errors.ts'
import { MultipartRefusedError } from './multipart-errors.ts'
import type { MultipartStorage, StoredPart } from './multipart-storage.ts'

// S3's answers to a part list it will not assemble (all 400), and to an upload that is gone.
const REFUSED = new Set(['InvalidPart', 'InvalidPartOrder', 'EntityTooSmall', 'MalformedXML'])
const isNoSuchUpload = (error: unknown) => error instanceof S3ServiceException && error.name === 'NoSuchUpload'

/** MultipartStorage on S3 or any S3-compatible server that implements ListParts. */
export function createS3MultipartStorage(deps: { client: S3Client; bucket: string }): MultipartStorage {
  const { client, bucket } = deps
  return {
    async createMultipartUpload({ objectKey, contentType }) {
      try {
        const { UploadId } = await client.send(
          new CreateMultipartUploadCommand({ Bucket: bucket, Key: objectKey, ContentType: contentType }),
        )
        if (UploadId === undefined) throw new Error('CreateMultipartUpload answered without an UploadId')
        return UploadId
      } catch (error) {
        throw storageUnavailable('start a multipart upload', error)
      }
    },

    async presignPart({ objectKey, uploadId, partNumber, sizeBytes, expiresInSeconds }) {
      try {
        return await getSignedUrl(
          client,
          new UploadPartCommand({ Bucket: bucket, Key: objectKey, UploadId: uploadId, PartNumber: partNumber, ContentLength: sizeBytes }),
          { expiresIn: expiresInSeconds, signableHeaders: new Set(['content-length']) },
        )
      } catch (error) {
        throw storageUnavailable('presign a part URL', error)
      }
    },

    async listParts({ objectKey, uploadId }) {
      const parts: StoredPart[] = []
      let marker: string | undefined
      try {
        for (;;) {
          const page = await client.send(
            new ListPartsCommand({ Bucket: bucket, Key: objectKey, UploadId: uploadId, PartNumberMarker: marker }),
          )
          for (const part of page.Parts ?? []) {
            parts.push({ partNumber: part.PartNumber ?? 0, etag: part.ETag ?? '', sizeBytes: part.Size ?? 0 })
          }
          if (page.IsTruncated !== true || page.NextPartNumberMarker === undefined) return parts
          marker = page.NextPartNumberMarker
        }
      } catch (error) {
        if (isNoSuchUpload(error)) return null
        throw storageUnavailable('list the parts of an upload', error)
      }
    },

    async completeMultipartUpload({ objectKey, uploadId, parts }) {
      try {
        await client.send(
          new CompleteMultipartUploadCommand({
            Bucket: bucket,
            Key: objectKey,
            UploadId: uploadId,
            MultipartUpload: { Parts: parts.map((p) => ({ PartNumber: p.partNumber, ETag: p.etag })) },
          }),
        )
      } catch (error) {
        if (error instanceof S3ServiceException && (REFUSED.has(error.name) || isNoSuchUpload(error))) {
          throw new MultipartRefusedError(error.name, error.message)
        }
        throw storageUnavailable('complete a multipart upload', error)
      }
    },

    async abortMultipartUpload({ objectKey, uploadId }) {
      try {
        await client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: objectKey, UploadId: uploadId }))
      } catch (error) {
        if (isNoSuchUpload(error) || isS3NotFound(error)) return
        throw storageUnavailable('abort a multipart upload', error)
      }
    },

    async objectExists(objectKey) {
      try {
        await client.send(new HeadObjectCommand({ Bucket: bucket, Key: objectKey }))
        return true
      } catch (error) {
        if (isS3NotFound(error)) return false
        throw storageUnavailable('look for an object', error)
      }
    },
  }
}
