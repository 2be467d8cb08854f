import { readFileSync } from 'node:fs'
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv'
import { AppError } from '../../common/errors.ts'

/**
 * Workflows are an allow-list from configuration (DESIGN "AI processing"): a client names a
 * workflow and gives parameters; the model, and every URL, come from here and the runner.
 */
export type Workflow = {
  id: string
  name: string
  description: string
  /** A fal endpoint id, e.g. fal-ai/flux/dev/image-to-image. */
  model: string
  /** JSON Schema of the caller's parameters (an object schema with additionalProperties: false). */
  parametersSchema: Record<string, unknown>
  /** Merged under the caller's parameters before submitting. */
  defaults: Record<string, unknown>
}

/**
 * The parameters schema a client sees (`GET /processing/workflows`): the workflow's own, each
 * default written into its property as JSON Schema's `default` annotation, so a form can
 * prefill what the runner would send anyway. The model stays out.
 */
export function publicParametersSchema(workflow: Workflow): Record<string, unknown> {
  const properties = workflow.parametersSchema.properties
  if (typeof properties !== 'object' || properties === null) return workflow.parametersSchema
  const withDefaults = Object.fromEntries(
    Object.entries(properties as Record<string, unknown>).map(([name, property]) =>
      name in workflow.defaults && typeof property === 'object' && property !== null
        ? [name, { ...property, default: workflow.defaults[name] }]
        : [name, property],
    ),
  )
  return { ...workflow.parametersSchema, properties: withDefaults }
}

export class WorkflowNotFoundError extends AppError {
  constructor(workflowId: string) {
    super('not_found', 'WORKFLOW_NOT_FOUND', `no workflow ${JSON.stringify(workflowId.slice(0, 64))}`)
  }
}

export class InvalidParametersError extends AppError {
  readonly problems: string[]
  constructor(problems: string[]) {
    super('invalid', 'INVALID_PARAMETERS', `invalid parameters: ${problems.join('; ')}`)
    this.problems = problems
  }
}

/** The workflow file or variable is malformed: start-up fails with every problem named. */
export class WorkflowConfigError extends Error {}

export type WorkflowCatalog = {
  list(): readonly Workflow[]
  /** The workflow, or WorkflowNotFoundError. */
  get(id: string): Workflow
  /** The caller's parameters against the workflow's schema; InvalidParametersError lists every problem. */
  validate(workflow: Workflow, parameters: unknown): Record<string, unknown>
}

const ID = /^[a-z][a-z0-9_-]{0,63}$/
// The model is an endpoint id, never a URL: the client treats an id with a host as a URL.
const MODEL = /^[a-z0-9][a-z0-9._-]*(\/[a-z0-9][a-z0-9._-]*){1,4}$/i
// The runner sets these; a workflow cannot let a caller choose where fal fetches from or posts to.
const RESERVED = ['image_url', 'image_urls', 'webhook_url', 'sync_mode']

/** Parses the workflow list (a JSON array) and compiles each schema once. */
export function createWorkflowCatalog(json: string, source: string): WorkflowCatalog {
  let raw: unknown
  try {
    raw = JSON.parse(json)
  } catch (error) {
    throw new WorkflowConfigError(`${source} is not JSON: ${(error as Error).message}`)
  }
  if (!Array.isArray(raw) || raw.length === 0) throw new WorkflowConfigError(`${source} must be a non-empty JSON array of workflows`)
  const ajv = new Ajv({ allErrors: true, strict: true, coerceTypes: false, useDefaults: false })
  const problems: string[] = []
  const workflows = new Map<string, { workflow: Workflow; check: ValidateFunction }>()
  for (const [index, entry] of (raw as unknown[]).entries()) {
    const where = `${source}[${index}]`
    if (typeof entry !== 'object' || entry === null) {
      problems.push(`${where} is not an object`)
      continue
    }
    const w = entry as Record<string, unknown>
    const text = (key: string) => (typeof w[key] === 'string' && (w[key] as string).length > 0 ? (w[key] as string) : undefined)
    const id = text('id')
    const model = text('model')
    if (id === undefined || !ID.test(id)) problems.push(`${where}.id must match ${ID.source}`)
    if (model === undefined || !MODEL.test(model)) problems.push(`${where}.model must be a fal endpoint id (owner/alias[/path]), not a URL`)
    const schema = w.parameters_schema
    const defaults = w.defaults ?? {}
    if (typeof schema !== 'object' || schema === null || (schema as { additionalProperties?: unknown }).additionalProperties !== false) {
      problems.push(`${where}.parameters_schema must be an object schema with additionalProperties: false`)
    }
    if (typeof defaults !== 'object' || defaults === null || Array.isArray(defaults)) problems.push(`${where}.defaults must be an object`)
    const properties = Object.keys(((schema as { properties?: object } | null)?.properties ?? {}) as object)
    const reserved = [...properties, ...Object.keys(defaults as object)].filter((k) => RESERVED.includes(k))
    if (reserved.length > 0) problems.push(`${where} may not name ${reserved.join(', ')}: the runner sets it`)
    if (id !== undefined && workflows.has(id)) problems.push(`${where}.id ${id} is used twice`)
    let check: ValidateFunction | undefined
    try {
      if (typeof schema === 'object' && schema !== null) check = ajv.compile(schema)
    } catch (error) {
      problems.push(`${where}.parameters_schema: ${(error as Error).message}`)
    }
    if (id === undefined || model === undefined || check === undefined || problems.length > 0) continue
    workflows.set(id, {
      workflow: {
        id,
        name: text('name') ?? id,
        description: text('description') ?? '',
        model,
        parametersSchema: schema as Record<string, unknown>,
        defaults: defaults as Record<string, unknown>,
      },
      check,
    })
  }
  if (problems.length > 0) throw new WorkflowConfigError(`workflows: ${problems.join('; ')}`)
  const list = [...workflows.values()].map((w) => w.workflow)
  return {
    list: () => list,
    get(id) {
      const found = workflows.get(id)
      if (found === undefined) throw new WorkflowNotFoundError(id)
      return found.workflow
    },
    validate(workflow, parameters) {
      const found = workflows.get(workflow.id)
      if (found === undefined) throw new WorkflowNotFoundError(workflow.id)
      const value = parameters ?? {}
      if (!found.check(value)) throw new InvalidParametersError((found.check.errors ?? []).map(describe))
      return value as Record<string, unknown>
    },
  }
}

function describe(error: ErrorObject): string {
  const at = error.instancePath === '' ? 'parameters' : `parameters${error.instancePath.replaceAll('/', '.')}`
  if (error.keyword === 'additionalProperties') return `${at} has an unknown field ${String(error.params.additionalProperty)}`
  if (error.keyword === 'enum') return `${at} must be one of ${(error.params.allowedValues as unknown[]).join(', ')}`
  return `${at} ${error.message ?? 'is invalid'}`
}

const DEFAULT_WORKFLOWS = new URL('./default-workflows.json', import.meta.url)

/** From PROCESSING_WORKFLOWS (JSON), else PROCESSING_WORKFLOWS_FILE, else the two shipped examples. */
export function loadWorkflowCatalog(options: { json?: string | undefined; file?: string | undefined }): WorkflowCatalog {
  if (options.json !== undefined) return createWorkflowCatalog(options.json, 'PROCESSING_WORKFLOWS')
  const path = options.file ?? DEFAULT_WORKFLOWS
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (error) {
    throw new WorkflowConfigError(`PROCESSING_WORKFLOWS_FILE cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'})`)
  }
  return createWorkflowCatalog(text, options.file === undefined ? 'the shipped workflows' : 'PROCESSING_WORKFLOWS_FILE')
}
