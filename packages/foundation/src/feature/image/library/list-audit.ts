import { AppError } from '../../../common/errors.ts'
import { type AuditAction, type AuditRecord, type AuditRepository, isAuditAction } from '../../../shared/audit/audit.ts'
import type { RequestContext } from '../../../shared/identity/request-context.ts'
import { pageScope } from './page.ts'

export type ListAuditQuery = {
  /** Another owner's trail: images:admin only. */
  ownerId?: string | undefined
  imageId?: string | undefined
  action?: string | undefined
  cursor?: string | undefined
  limit?: number | undefined
}

export type AuditPage = { items: AuditRecord[]; nextCursor: string | null }

/** Query: the audit trail of the caller's images and keys (or, for an admin, one owner's), newest first, by keyset pages. */
export function createListAudit(deps: { audit: AuditRepository }) {
  return async (ctx: RequestContext, query: ListAuditQuery): Promise<AuditPage> => {
    const { ownerId, limit } = pageScope(ctx, query)
    let action: AuditAction | undefined
    if (query.action !== undefined) {
      if (!isAuditAction(query.action))
        throw new AppError('invalid', 'INVALID_ACTION', `action ${JSON.stringify(query.action.slice(0, 40))} is not an audited action`)
      action = query.action
    }
    if (query.cursor !== undefined && !/^[1-9][0-9]{0,18}$/.test(query.cursor)) {
      throw new AppError('invalid', 'INVALID_CURSOR', 'cursor must be the next_cursor of a previous page')
    }
    const items = await deps.audit.list({
      ownerId,
      imageId: query.imageId,
      action,
      before: query.cursor,
      limit: limit + 1,
    })
    const page = items.slice(0, limit)
    return { items: page, nextCursor: items.length > limit ? (page.at(-1)?.id ?? null) : null }
  }
}

export type ListAudit = ReturnType<typeof createListAudit>
