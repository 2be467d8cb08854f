import type { Image } from '@image-service/client'
import type { GalleryActions } from './gallery.ts'
import { readParameters, renderParameterFields, type Workflow } from './workflows.ts'

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T

/** Opens a modal dialog (focus kept inside, Escape cancels) and resolves with the button that closed it. */
function ask(dialog: HTMLDialogElement): Promise<string> {
  return new Promise((resolve) => {
    dialog.returnValue = ''
    dialog.addEventListener('close', () => resolve(dialog.returnValue), { once: true })
    dialog.showModal()
  })
}

/**
 * The gallery's two questions as modal dialogs: which workflow to run, with its parameters as
 * fields built from its schema; and whether to really delete an image.
 */
export function dialogActions(workflows: () => Promise<Workflow[]>): GalleryActions {
  const workflowDialog = $<HTMLDialogElement>('workflow-dialog')
  const select = $<HTMLSelectElement>('workflow')
  const fields = $('workflow-fields')
  const description = $('workflow-description')
  const deleteDialog = $<HTMLDialogElement>('delete-dialog')
  let known: Workflow[] = []
  const current = () => known.find((w) => w.id === select.value)
  const showFields = () => {
    const workflow = current()
    description.textContent = workflow?.description ?? ''
    if (workflow) renderParameterFields(fields, workflow)
  }
  select.onchange = showFields
  $('workflow-cancel').onclick = () => workflowDialog.close('')

  return {
    async chooseWorkflow(image: Image) {
      if (known.length === 0) {
        known = await workflows()
        select.replaceChildren(
          ...known.map((w) => {
            const option = document.createElement('option')
            option.value = w.id
            option.textContent = w.name
            return option
          }),
        )
        showFields()
      }
      $('workflow-on').textContent = `On ${image.file_name}. The result is a new image, shown next to the original.`
      if ((await ask(workflowDialog)) !== 'run') return undefined
      const workflow = current()
      return workflow ? { workflow, parameters: readParameters(fields, workflow) } : undefined
    },
    async confirmDelete(image: Image) {
      $('delete-what').textContent = `${image.file_name} and its sizes are removed from storage and the CDN. This cannot be undone.`
      return (await ask(deleteDialog)) === 'delete'
    },
  }
}
