import { S3Client, type S3ClientConfig } from '@aws-sdk/client-s3'

/** Where an S3 emulator listens and the keys it accepts: an S3Emulator, or a dev stack's `s3`. */
export type S3EmulatorAccess = { endpoint: string; region: string; accessKeyId: string; secretAccessKey: string }

/**
 * An S3 client for the emulator. Path-style addressing, as there are no bucket subdomains on
 * 127.0.0.1; checksums only when an operation requires them, as s3rver does not understand the
 * SDK's default CRC32 trailers. `overrides` win (e.g. `maxAttempts: 1` to see the first error).
 */
export function createEmulatorS3Client(s3: S3EmulatorAccess, overrides: S3ClientConfig = {}): S3Client {
  return new S3Client({
    endpoint: s3.endpoint,
    region: s3.region,
    forcePathStyle: true,
    credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    ...overrides,
  })
}
