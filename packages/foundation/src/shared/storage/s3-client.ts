import { S3Client } from '@aws-sdk/client-s3'
import type { StorageConfig } from '../../common/config.ts'
import { AwsSha256 } from './aws-sha256.ts'

export type S3Credentials = { accessKeyId: string; secretAccessKey: string }
/** Static keys, or a provider (STS, instance metadata, ...) asked before each signature. */
export type S3CredentialsSource = S3Credentials | (() => Promise<S3Credentials>)

/**
 * One S3 client for AWS and S3-compatible servers. Checksums only when an operation requires
 * them: the SDK's default CRC32 headers are not understood by many compatible servers, and
 * would otherwise be signed into presigned URLs that browsers cannot reproduce.
 * Without credentials, the SDK's default chain (env, profile, instance role) applies.
 */
export function createS3Client(config: StorageConfig & { credentials?: S3CredentialsSource | undefined }): S3Client {
  return new S3Client({
    region: config.region,
    forcePathStyle: config.forcePathStyle,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    sha256: AwsSha256,
    ...(config.endpoint === undefined ? {} : { endpoint: config.endpoint }),
    ...(config.credentials === undefined ? {} : { credentials: config.credentials }),
  })
}
