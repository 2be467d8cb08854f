export * from './accounts/index.ts'
export * from './api-keys/index.ts'
export { type Authenticate, createAuthenticate } from './authenticate.ts'
