import type { Actor, RequestContext } from '../identity/request-context.ts'

/** The actions DESIGN's audit trail records. */
export const AUDIT_ACTIONS = [
  'upload.issued',
  'upload.validated',
  'upload.rejected',
  'download.signed',
  'image.deleted',
  'api_key.created',
  'api_key.revoked',
  'job.started',
  'job.cancelled',
] as const
export type AuditAction = (typeof AUDIT_ACTIONS)[number]

export function isAuditAction(value: string): value is AuditAction {
  return (AUDIT_ACTIONS as readonly string[]).includes(value)
}

/** How an actor is stored and shown: never a credential, only who it was. */
export type AuditActor =
  | { type: 'user'; id: string; via: 'jwt' | 'api_key'; api_key_id?: string }
  | { type: 'system'; name: string }
  | { type: 'anonymous' }

export function auditActor(actor: Actor): AuditActor {
  if (actor.type === 'user') {
    return { type: 'user', id: actor.ownerId, via: actor.via, ...(actor.apiKeyId === undefined ? {} : { api_key_id: actor.apiKeyId }) }
  }
  return actor.type === 'system' ? { type: 'system', name: actor.name } : { type: 'anonymous' }
}

export type AuditDetail = Record<string, unknown>

/** One row of the audit trail, as a command hands it over. */
export type AuditEntry = {
  action: AuditAction
  /** Whose image (or key) it concerns. */
  ownerId: string
  imageId?: string | null
  detail?: AuditDetail
}

export type AuditRecord = {
  id: string
  at: Date
  actor: AuditActor
  ownerId: string
  action: AuditAction
  imageId: string | null
  requestId: string
  clientIp: string | null
  detail: AuditDetail
}

/**
 * Port: where audit rows are written for actions that change no image (signing, API keys).
 * State changes write theirs in the same statement as the change (the image repository).
 */
export interface AuditLog {
  /** Queues the row; it is written shortly after, in a batch. close() writes what is queued. */
  record(ctx: RequestContext, entry: AuditEntry): void
  /** Writes the row now. */
  write(ctx: RequestContext, entry: AuditEntry): Promise<void>
  /** Writes every queued row. */
  flush(): Promise<void>
  close(): Promise<void>
}

export type AuditQuery = {
  ownerId: string
  imageId?: string | undefined
  action?: AuditAction | undefined
  /** Keyset cursor: rows with a smaller id. */
  before?: string | undefined
  limit: number
}

export interface AuditRepository {
  /** Newest first. */
  list(query: AuditQuery): Promise<AuditRecord[]>
}

/** An AuditLog that keeps nothing: for wiring that has no audit trail (unit tests). */
export const noAuditLog: AuditLog = {
  record() {},
  async write() {},
  async flush() {},
  async close() {},
}
