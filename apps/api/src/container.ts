import {
  type ApiConfig,
  createDatabase,
  createGetImageDownloadSignedUrl,
  createGetImageDownloadSignedUrls,
  createImageCdn,
  createImageUploadPresignedUrl,
  createPostgresImageRepository,
  createS3Client,
  createS3UploadStorage,
  getImageStatus,
  type Logger,
  newImageId,
  type S3CredentialsSource,
} from '@image-service/foundation'

export type ApiContainerOptions = {
  /** S3 credentials; unset uses the SDK's default chain (env, profile, instance role). */
  s3Credentials?: S3CredentialsSource
}

/**
 * The one place where adapters are wired to commands and queries. Routes see only the
 * functions returned here, never a client. Every client created here is disposed by close().
 */
export function createApiContainer(config: ApiConfig, logger: Logger, options: ApiContainerOptions = {}) {
  const database = createDatabase({ url: config.database.url, poolMax: config.database.poolMax, log: logger })
  const s3 = createS3Client({ ...config.storage, credentials: options.s3Credentials })

  const images = createPostgresImageRepository(database.db)
  const storage = createS3UploadStorage({ client: s3, bucket: config.storage.bucket })
  // CloudFront or S3-presigned by config.api.cdn.mode; a bad CloudFront key fails start-up here.
  const cdn = createImageCdn({ config: config.api.cdn, s3: { client: s3, bucket: config.storage.bucket } })

  return {
    createImageUploadPresignedUrl: createImageUploadPresignedUrl({ images, storage, newId: newImageId, config: config.api.upload }),
    getImageStatus: getImageStatus({ images }),
    getImageDownloadSignedUrl: createGetImageDownloadSignedUrl({ images, cdn }),
    getImageDownloadSignedUrls: createGetImageDownloadSignedUrls({ images, cdn }),

    /** Readiness: the database answers (throws DATABASE_UNAVAILABLE otherwise). */
    ping: () => database.ping(),
    async close() {
      s3.destroy()
      await database.close()
    },
  }
}

export type ApiContainer = ReturnType<typeof createApiContainer>
