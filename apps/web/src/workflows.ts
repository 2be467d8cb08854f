import { type ImageServiceClient, unwrap } from '@image-service/client'

export type Workflow = { id: string; name: string; description: string; parameters_schema: Record<string, unknown> }

type Property = {
  type?: string
  enum?: unknown[]
  minimum?: number
  maximum?: number
  minLength?: number
  maxLength?: number
  description?: string
  /** What the workflow sends when the field is left blank. */
  default?: unknown
}

export async function listWorkflows(client: ImageServiceClient): Promise<Workflow[]> {
  return unwrap(await client.GET('/api/image/v1/processing/workflows')).items
}

/**
 * The form fields of a workflow's parameters, built from its JSON Schema: a select for an
 * enum, a number field for a number, a checkbox for a boolean, a text field otherwise. The
 * required ones come first; the others are under "More settings", and a blank one is left to
 * the workflow's default.
 */
export function renderParameterFields(container: HTMLElement, workflow: Workflow): void {
  const properties = (workflow.parameters_schema.properties ?? {}) as Record<string, Property>
  const required = new Set((workflow.parameters_schema.required as string[] | undefined) ?? [])
  const names = Object.keys(properties)
  const more = document.createElement('details')
  const summary = document.createElement('summary')
  summary.textContent = 'More settings (blank: the workflow’s default)'
  more.append(summary)
  const fields: HTMLElement[] = []
  for (const name of names.filter((n) => required.has(n))) fields.push(...field(name, properties[name] ?? {}, true))
  for (const name of names.filter((n) => !required.has(n))) more.append(...field(name, properties[name] ?? {}, false))
  container.replaceChildren(...fields, ...(more.childElementCount > 1 ? [more] : []))
}

/** The parameters the form holds: blank optional fields are left out (the workflow's defaults apply). */
export function readParameters(container: HTMLElement, workflow: Workflow): Record<string, unknown> {
  const properties = (workflow.parameters_schema.properties ?? {}) as Record<string, Property>
  const parameters: Record<string, unknown> = {}
  for (const [name, property] of Object.entries(properties)) {
    const input = container.querySelector<HTMLInputElement | HTMLSelectElement>(`[name="param-${name}"]`)
    if (!input) continue
    if (input instanceof HTMLInputElement && input.type === 'checkbox') {
      if (input.dataset.touched === 'true') parameters[name] = input.checked
      continue
    }
    if (input.value === '') continue
    if (property.type === 'number' || property.type === 'integer') parameters[name] = Number(input.value)
    else if (property.enum) parameters[name] = property.enum.find((v) => String(v) === input.value) ?? input.value
    else parameters[name] = input.value
  }
  return parameters
}

function field(name: string, property: Property, required: boolean): HTMLElement[] {
  const id = `param-${name}`
  const label = document.createElement('label')
  label.htmlFor = id
  label.textContent = words(name)
  let input: HTMLInputElement | HTMLSelectElement
  if (property.enum) {
    const select = document.createElement('select')
    const fallback = property.default === undefined ? '' : ` (${words(String(property.default))})`
    if (!required) select.append(option('', `The workflow’s default${fallback}`))
    for (const value of property.enum) select.append(option(String(value), words(String(value))))
    input = select
  } else if (property.type === 'boolean') {
    const box = document.createElement('input')
    box.type = 'checkbox'
    box.addEventListener('change', () => (box.dataset.touched = 'true'))
    input = box
  } else {
    const text = document.createElement('input')
    if (property.type === 'number' || property.type === 'integer') {
      text.type = 'number'
      text.step = property.type === 'integer' ? '1' : 'any'
      if (property.minimum !== undefined) text.min = String(property.minimum)
      if (property.maximum !== undefined) text.max = String(property.maximum)
    } else {
      text.type = 'text'
      if (property.minLength !== undefined) text.minLength = property.minLength
      if (property.maxLength !== undefined) text.maxLength = property.maxLength
    }
    // The default shows as a placeholder: blank still sends nothing, and the workflow's applies.
    if (property.default !== undefined) text.placeholder = String(property.default)
    input = text
  }
  input.id = id
  input.name = id
  input.required = required && property.type !== 'boolean'
  const out: HTMLElement[] = [label, input]
  const hint = property.description ?? range(property)
  if (hint) {
    const help = document.createElement('p')
    help.className = 'help'
    help.id = `${id}-help`
    help.textContent = hint
    input.setAttribute('aria-describedby', help.id)
    out.push(help)
  }
  return out
}

function option(value: string, text: string): HTMLOptionElement {
  const o = document.createElement('option')
  o.value = value
  o.textContent = text
  return o
}

function range(property: Property): string | undefined {
  if (property.minimum !== undefined && property.maximum !== undefined) return `From ${property.minimum} to ${property.maximum}.`
  return undefined
}

/** `num_inference_steps` → "Num inference steps". */
function words(name: string): string {
  const spaced = name.replace(/_/g, ' ')
  return spaced.charAt(0).toUpperCase() + spaced.slice(1)
}
