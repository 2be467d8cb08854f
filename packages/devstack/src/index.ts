export * from './types.ts'
export { startPostgres, type StartPostgresOptions, type RunningPostgres } from './postgres.ts'
export { createTestDatabase, type TestDatabase } from './testing/test-database.ts'
export {
  startS3Emulator,
  type S3Emulator,
  type S3EmulatorOptions,
  type ObjectCreatedEvent,
  type ObjectCreatedEventName,
} from './s3-emulator.ts'
export { startSqsEmulator, type SqsEmulator, type SqsEmulatorOptions, type CreatedQueue } from './sqs-emulator.ts'
export {
  startS3EventBridge,
  type S3EventBridge,
  type S3EventBridgeOptions,
  type SqsClientConfig,
  type BridgeLogger,
} from './s3-event-bridge.ts'
export { encodeS3EventKey, toS3EventNotification, type S3EventNotification } from './s3-event-notification.ts'
export { startCdnEmulator, type CdnEmulator, type CdnEmulatorOptions } from './cdn-emulator.ts'
export { verifyCannedSignedUrl, type SignedUrlVerdict } from './cloudfront-signed-url.ts'
export { generateDevKeyPair, loadOrCreateDevKeyPair, type DevKeyPair } from './dev-key-pair.ts'
export { startEmulatorStack, MAX_RECEIVE_COUNT, type EmulatorStack, type EmulatorStackOptions } from './emulator-stack.ts'
export { startDevStack, type DevStackOptions } from './dev-stack.ts'
export { waitFor } from './wait-for.ts'
export { closedPort, findFreePort, reservePort } from './free-port.ts'
export { createEmulatorS3Client, type S3EmulatorAccess } from './emulator-s3-client.ts'
export { repoRoot } from './repo-root.ts'
export { appProcessEnv, startAppProcess, type AppProcess, type AppExit, type LogLine, type StartAppProcessOptions } from './app-process.ts'
export {
  startDevIdentityProvider,
  type DevIdentityProvider,
  type DevIdentityProviderOptions,
  type DevTokenRequest,
} from './dev-identity-provider.ts'
export { startCloudFrontApiEmulator, type CloudFrontApiEmulator } from './cloudfront-api-emulator.ts'
export {
  startFalEmulator,
  type FalEmulator,
  type FalEmulatorOptions,
  type FalOutcome,
  type FalOperation,
  type FalCall,
  type FalRequestState,
} from './fal-emulator.ts'
