export * from './audit.ts'
export { createPostgresAuditLog, createPostgresAuditRepository } from './postgres-audit-log.ts'
